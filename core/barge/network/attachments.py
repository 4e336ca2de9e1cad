"""``Attachments``: ``POST /networks/{id}/connect`` and ``/disconnect``.

A connect records the network in the container's ``NetworkingConfig`` and,
for a running container, joins its sandbox at once; a disconnect undoes
both. Either runs with the container's state changes held off
(:class:`barge.network.records.ContainerLocks`), so it never races a start
or a stop of the same container.
"""

from __future__ import annotations

import contextlib
from typing import Any

from barge.errors import Conflict, Forbidden, InvalidParameter, NotFound
from barge.network.endpoint_config import check_endpoint_config
from barge.network.endpoints import Endpoints
from barge.network.networks import Networks
from barge.network.records import ContainerLocks, ContainerRecords
from barge.network.store import NetworkStore


def _container_of(body: dict[str, Any]) -> str:
    """The container a connect or disconnect body names; moby's words (``invalidIdentifier``) for none."""
    container = body.get("Container") or ""
    if not container:
        raise InvalidParameter('invalid name or ID supplied: ""')
    return container


def _shares_namespace(mode: str) -> bool:
    return mode in ("host", "none") or mode.startswith("container:")


class Attachments:
    """Connect and disconnect containers and networks."""

    def __init__(self, *, store: NetworkStore, networks: Networks, endpoints: Endpoints,
                 containers: ContainerRecords, locks: ContainerLocks):
        self.store = store
        self.networks = networks
        self.endpoints = endpoints
        self.containers = containers
        self.locks = locks

    def connect(self, ref: str, body: dict[str, Any]) -> None:
        """``POST /networks/{id}/connect`` (``body`` decoded)."""
        container = _container_of(body)
        cfg = dict(body.get("EndpointConfig") or {})
        with self.locks.locked(container) as c:
            n = self.networks.get(ref)  # after the container, as moby looks them up: "No such container" first
            mode = c.host_config.get("NetworkMode") or "bridge"
            if n.builtin or _shares_namespace(mode):
                if n.name == "host" or mode == "host":
                    raise Forbidden("container cannot be disconnected from host network or connected to host network")
                raise Forbidden("container sharing network namespace with another container or host cannot be "
                                "connected to any other network")
            eps = dict((c.network_config or {}).get("EndpointsConfig") or {})
            if n.name in eps or any((v or {}).get("NetworkID") == n.id for v in eps.values()):
                raise Forbidden(f"endpoint with name {c.name.lstrip('/')} already exists in network {n.name}")
            check_endpoint_config(n, cfg, c.name)
            cfg["NetworkID"] = n.id
            self.endpoints.join(c, n, cfg)
            eps[n.name] = cfg
            self.containers.set_network_config(c.id, {"EndpointsConfig": eps})
        self.networks.event("connect", n, container=c.id)

    def disconnect(self, ref: str, body: dict[str, Any]) -> None:
        """``POST /networks/{id}/disconnect`` (``body`` decoded)."""
        container = _container_of(body)
        n = self.networks.get(ref)
        with contextlib.ExitStack() as held:
            try:
                c = held.enter_context(self.locks.locked(container))
            except NotFound:
                # moby: with force, an endpoint whose container is gone is still dropped; none at all is 404
                gone = [e for e in self.store.endpoints(network_id=n.id)
                        if body.get("Force") and e.container_id.startswith(container)]
                if not gone:
                    raise
                for e in gone:
                    self.endpoints.leave(n, e, None)
                return
            if n.builtin or (c.host_config.get("NetworkMode") or "").startswith("container:"):
                raise Forbidden("container cannot be disconnected from host network or connected to host network"
                                if n.name == "host" else f"container {c.id[:12]} is not connected to network {n.name}")
            eps = dict((c.network_config or {}).get("EndpointsConfig") or {})
            key = next((k for k, v in eps.items() if k == n.name or (v or {}).get("NetworkID") == n.id), None)
            if key is None:  # dockerd 20.10: a 500; a conflict with the state found (the suite's 500/409 rule)
                raise Conflict(f"container {c.id[:12]} is not connected to network {n.name}")
            for e in self.store.endpoints(container_id=c.id):
                if e.network_id == n.id:
                    self.endpoints.leave(n, e, self.endpoints.sandbox_path(c.id))
            del eps[key]
            self.containers.set_network_config(c.id, {"EndpointsConfig": eps})
        self.networks.event("disconnect", n, container=c.id)
