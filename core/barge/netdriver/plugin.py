"""The one adapter between pluggy's ``barge_network_*`` hooks and a :class:`NetworkDriver`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Mapping

from barge.engine.hookspecs import hookimpl
from barge.netdriver import EndpointSpec, NetworkSpec, PortMapping, Published
from barge.netdriver.base import NetworkDriver


class NetworkDriverPlugin:
    driver_class: ClassVar[type[NetworkDriver]]

    def __init__(self, home: Path, options: Mapping[str, Any] | None = None):
        self.driver = self.driver_class(Path(home), options or {})

    @hookimpl
    def barge_network_name(self) -> str:
        return self.driver.name

    @hookimpl
    def barge_network_status(self) -> list[tuple[str, str]]:
        return self.driver.status()

    @hookimpl
    def barge_network_create(self, network: NetworkSpec) -> bool:
        self.driver.create(network)
        return True

    @hookimpl
    def barge_network_delete(self, network: NetworkSpec) -> bool:
        self.driver.delete(network)
        return True

    @hookimpl
    def barge_network_join(self, network: NetworkSpec, endpoint: EndpointSpec, sandbox: str) -> bool:
        self.driver.join(network, endpoint, sandbox)
        return True

    @hookimpl
    def barge_network_leave(self, network: NetworkSpec, endpoint: EndpointSpec, sandbox: str | None) -> bool:
        self.driver.leave(network, endpoint, sandbox)
        return True

    @hookimpl
    def barge_network_publish(self, network: NetworkSpec, endpoint: EndpointSpec, ports: list[PortMapping]) -> bool:
        self.driver.publish(network, endpoint, ports)
        return True

    @hookimpl
    def barge_network_unpublish(self, network: NetworkSpec, endpoint: EndpointSpec,
                                ports: list[PortMapping]) -> bool:
        self.driver.unpublish(network, endpoint, ports)
        return True

    @hookimpl
    def barge_network_restore(self, networks: list[NetworkSpec], published: list[Published]) -> bool:
        self.driver.restore(networks, published)
        return True
