"""The ``fake`` network driver: records what it is asked, touches nothing on the host.

Registered in ``barge.network_drivers`` like any driver, so core's unit
tests (and ``build_services``) exercise selection and hook dispatch without
bridges, links or firewall rules. Never chosen unless named.
"""

from __future__ import annotations

from barge.netdriver import EndpointSpec, NetworkSpec, PortMapping, Published
from barge.netdriver.base import NetworkDriver
from barge.netdriver.plugin import NetworkDriverPlugin


class FakeNetDriver(NetworkDriver):
    name = "fake"

    def __init__(self, home, options=None):
        super().__init__(home, options)
        self.networks: dict[str, NetworkSpec] = {}
        self.joined: dict[str, tuple[EndpointSpec, str]] = {}
        self.published: dict[str, list[PortMapping]] = {}

    def status(self) -> list[tuple[str, str]]:
        return [("Firewall Backend", "none (fake driver)")]

    def create(self, network: NetworkSpec) -> None:
        self.networks[network.id] = network

    def delete(self, network: NetworkSpec) -> None:
        self.networks.pop(network.id, None)

    def join(self, network: NetworkSpec, endpoint: EndpointSpec, sandbox: str) -> None:
        self.joined[endpoint.id] = (endpoint, sandbox)

    def leave(self, network: NetworkSpec, endpoint: EndpointSpec, sandbox: str | None) -> None:
        self.joined.pop(endpoint.id, None)

    def publish(self, network: NetworkSpec, endpoint: EndpointSpec, ports: list[PortMapping]) -> None:
        self.published.setdefault(endpoint.id, []).extend(ports)

    def unpublish(self, network: NetworkSpec, endpoint: EndpointSpec, ports: list[PortMapping]) -> None:
        self.published.pop(endpoint.id, None)

    def restore(self, networks: list[NetworkSpec], published: list[Published]) -> None:
        self.networks = {n.id: n for n in networks}
        self.published = {p.endpoint.id: list(p.ports) for p in published}


class FakeNetworkPlugin(NetworkDriverPlugin):
    driver_class = FakeNetDriver
