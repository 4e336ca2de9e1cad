"""Base class of network drivers; the ``barge_network_*`` hooks map onto its methods.

A driver package subclasses :class:`NetworkDriver` (its ``driver.py``) and
registers a :class:`~barge.netdriver.plugin.NetworkDriverPlugin` subclass
naming it (its ``plugin.py``) in ``barge.network_drivers``. The constructor
gets the driver's home directory and its option table (``[network.<name>]``
in ``daemon.toml``) and raises :class:`barge.errors.DriverNotSupported` when
the driver cannot work here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Mapping

from barge.netdriver import API_VERSION, EndpointSpec, NetworkSpec, PortMapping, Published


class NetworkDriver(ABC):
    name: ClassVar[str]
    api_version: ClassVar[int] = API_VERSION
    options_schema: ClassVar[Mapping[str, str]] = {}

    def __init__(self, home: Path, options: Mapping[str, Any] | None = None):
        self.home = Path(home)
        self.options = dict(options or {})

    @abstractmethod
    def status(self) -> list[tuple[str, str]]: ...

    @abstractmethod
    def create(self, network: NetworkSpec) -> None: ...

    @abstractmethod
    def delete(self, network: NetworkSpec) -> None: ...

    @abstractmethod
    def join(self, network: NetworkSpec, endpoint: EndpointSpec, sandbox: str) -> None: ...

    @abstractmethod
    def leave(self, network: NetworkSpec, endpoint: EndpointSpec, sandbox: str | None) -> None: ...

    @abstractmethod
    def publish(self, network: NetworkSpec, endpoint: EndpointSpec, ports: list[PortMapping]) -> None: ...

    @abstractmethod
    def unpublish(self, network: NetworkSpec, endpoint: EndpointSpec, ports: list[PortMapping]) -> None: ...

    @abstractmethod
    def restore(self, networks: list[NetworkSpec], published: list[Published]) -> None: ...
