"""``NetworkService``: networking as the API's network jobs and ``docker info`` see it.

Delegation only; the work is done by the pieces it is built from:

- :class:`barge.network.networks.Networks`: network records, IPAM, the driver's networks
  (create, list, inspect, remove, prune);
- :class:`barge.network.attachments.Attachments`: connect and disconnect;
- :class:`barge.network.endpoints.Endpoints`: a container's sandbox and endpoints
  (what the container service calls, start to exit), the held host ports;
- :class:`barge.network.resolver.Resolver`: the embedded DNS server's answers.

The composition root (:mod:`barge.daemon.daemon`) builds them before the
container service, in this order: networks and the resolver (given the
container records, :mod:`barge.network.records`), the DNS server from the
resolver, endpoints (given the DNS server; the container service is given
them in turn), attachments (given the containers' locks), this service last.
"""

from __future__ import annotations

from typing import Any

from barge.filters import Filters
from barge.network.attachments import Attachments
from barge.network.endpoints import Endpoints
from barge.network.networks import Networks


class NetworkService:
    """``/networks`` and the network driver's name, for :mod:`barge.daemon.jobs.networks` and ``info``."""

    def __init__(self, *, networks: Networks, attachments: Attachments, endpoints: Endpoints):
        self.networks = networks
        self.attachments = attachments
        self.endpoints = endpoints

    @property
    def driver(self) -> str | None:
        """The network driver's name; None: none loaded."""
        return self.networks.driver

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.networks.create(body)

    def inspect(self, ref: str, verbose: bool = False) -> dict[str, Any]:
        return self.networks.inspect(ref, verbose)

    def list(self, filters: Filters) -> list[dict[str, Any]]:
        return self.networks.list(filters)

    def remove(self, ref: str) -> None:
        self.networks.remove(ref)

    def prune(self, filters: Filters) -> dict[str, Any]:
        return self.networks.prune(filters)

    def connect(self, ref: str, body: dict[str, Any]) -> None:
        self.attachments.connect(ref, body)

    def disconnect(self, ref: str, body: dict[str, Any]) -> None:
        self.attachments.disconnect(ref, body)

    def close(self) -> None:
        """The held host ports and the DNS server (:meth:`barge.network.endpoints.Endpoints.close`)."""
        self.endpoints.close()
