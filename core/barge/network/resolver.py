"""``Resolver``: the embedded DNS server's answers, read from the network records.

A container on user-defined networks finds the others there by name,
alias, short id or hostname (also ``name.network``), as libnetwork's
resolver answers; other names go upstream. :class:`barge.network.dns.EmbeddedDNS`
calls these from its loop thread: each is a few reads of the records.
"""

from __future__ import annotations

from typing import Callable

from barge.network.records import ContainerRecords
from barge.network.store import Network, NetworkStore

#: the embedded server's own address: never an upstream of itself
_SELF = "127.0.0.11"


def user_networks(store: NetworkStore, container_id: str) -> list[Network]:
    """The user-defined networks ``container_id`` has an endpoint on (where names resolve)."""
    found = []
    for e in store.endpoints(container_id=container_id):
        n = store.get(e.network_id)
        if n is not None and n.user_defined:
            found.append(n)
    return found


class Resolver:
    """``lookup``, ``upstreams`` and ``reverse`` for :class:`barge.network.dns.EmbeddedDNS`."""

    def __init__(self, *, store: NetworkStore, cfg, containers: ContainerRecords,
                 host_nameservers: Callable[[], list[str]]):
        self.store = store
        self.cfg = cfg  # barge.config.NetworkConfig: the daemon-wide --dns
        self.containers = containers
        #: the host's resolvers (read from its resolv.conf each time: it may change)
        self.host_nameservers = host_nameservers

    def _link_aliases(self, container_id: str) -> dict[str, dict[str, str]]:
        """The querier's endpoint ``Links`` by network name: alias -> the name it stands for
        (``--link db:alias`` on a user-defined network, as libnetwork's endpoint aliases)."""
        c = self.containers.get(container_id)
        endpoints = ((c.network_config or {}).get("EndpointsConfig") or {}) if c is not None else {}
        out: dict[str, dict[str, str]] = {}
        for net, cfg in endpoints.items():
            for link in (cfg or {}).get("Links") or []:
                target, _, alias = link.partition(":")
                target = target.lstrip("/")
                alias = (alias or target).rpartition("/")[2]
                if target and alias:
                    out.setdefault(net, {})[alias.lower()] = target.lower()
        return out

    def lookup(self, container_id: str, name: str) -> list[str] | None:
        """Addresses (IPv4 and IPv6) of ``name`` on the user-defined networks ``container_id`` is on (also
        ``name.network``); a link's alias stands for its container there; None: not a name barge knows,
        to be forwarded."""
        found: list[str] = []
        known = False
        aliases = self._link_aliases(container_id)
        for n in user_networks(self.store, container_id):
            wanted = name
            for alias, target in aliases.get(n.name, {}).items():
                if name in (alias, f"{alias}.{n.name.lower()}"):
                    wanted = target
            for e in self.store.endpoints(network_id=n.id):
                for dns_name in e.dns_names:
                    d = dns_name.lower()
                    if wanted == d or wanted == f"{d}.{n.name.lower()}":
                        known = True
                        for a in (e.address, e.address6):  # A and AAAA records
                            if a and a not in found:
                                found.append(a)
        return found if known else None

    def reverse(self, container_id: str, address: str) -> str | None:
        """The name of ``address`` on a network the container shares with it (PTR), None to forward."""
        for n in user_networks(self.store, container_id):
            for e in self.store.endpoints(network_id=n.id):
                if address in (e.address, e.address6) and e.dns_names:
                    return f"{e.dns_names[0]}.{n.name}"
        return None

    def upstreams(self, container_id: str) -> list[str]:
        """Where other names go: the container's --dns, else the host's resolvers; none from internal networks."""
        nets = user_networks(self.store, container_id)
        if nets and all(n.internal for n in nets):
            return []
        c = self.containers.get(container_id)
        if c is not None and c.host_config.get("Dns"):
            return [s for s in c.host_config["Dns"] if s != _SELF]
        if self.cfg.dns:
            return [s for s in self.cfg.dns if s != _SELF]
        return [s for s in self.host_nameservers() if s != _SELF]
