"""A container's network as Docker shows it: ``NetworkSettings`` and ``ps``'s ``Ports``.

Built from a :class:`Snapshot` of the records, read once per request, so a
``ps`` of many containers costs two queries, not a few per row.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from barge.errors import InvalidParameter
from barge.network import ports
from barge.network.store import Endpoint, Network


@dataclass
class Snapshot:
    networks: list[Network]
    endpoints: list[Endpoint]
    by_id: dict[str, Network] = field(init=False)
    by_name: dict[str, Network] = field(init=False)
    by_container: dict[str, list[Endpoint]] = field(init=False)
    _networks_key: tuple | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.by_id = {n.id: n for n in self.networks}
        self.by_name = {n.name: n for n in self.networks}
        self.by_container = {}
        for e in self.endpoints:
            self.by_container.setdefault(e.container_id, []).append(e)

    def signature(self, container_id: str) -> tuple:
        """Equal in two snapshots when the container's views (``container_view``, ``summary_ports``) are:
        ``ps`` keeps a row while its container's record and this do not change."""
        if self._networks_key is None:
            self._networks_key = tuple((n.id, n.name, n.gateway, n.gateway6, n.user_defined) for n in self.networks)
        return (self._networks_key, tuple(
            (e.id, e.network_id, e.address, e.prefixlen, e.mac, e.gateway, e.address6, e.prefixlen6, e.gateway6,
             tuple(e.dns_names), tuple(e.link_local),
             tuple((p.proto, p.host_ip, p.host_port, p.container_ip, p.container_port) for p in e.ports))
            for e in self.by_container.get(container_id, ())))

    def network(self, key: str, cfg: dict[str, Any]) -> Network | None:
        return self.by_id.get(cfg.get("NetworkID") or "") or self.by_name.get(key) or self.by_id.get(key)


def _entry(n: Network | None, e: Endpoint | None, cfg: dict[str, Any]) -> dict[str, Any]:
    return {
        "IPAMConfig": cfg.get("IPAMConfig") or None, "Links": cfg.get("Links") or None, "Aliases": cfg.get("Aliases") or None,
        "MacAddress": e.mac if e else (cfg.get("MacAddress") or ""), "DriverOpts": cfg.get("DriverOpts"),
        "GwPriority": 0, "NetworkID": n.id if n else "", "EndpointID": e.id if e else "",
        "Gateway": n.gateway if (e and n) else "", "IPAddress": e.address if e else "",
        "IPPrefixLen": e.prefixlen if e else 0, "IPv6Gateway": n.gateway6 if (e and n and e.address6) else "",
        "GlobalIPv6Address": e.address6 if e else "", "GlobalIPv6PrefixLen": e.prefixlen6 if e else 0, "DNSNames": (e.dns_names if e else None) if (n and n.user_defined) else None,
    }


def container_view(snap: Snapshot, c, bridge: str, sandbox_path: str) -> dict[str, Any]:
    """``Networks``, ``Ports``, ``SandboxKey``, and the default bridge's legacy top-level fields."""
    mode = c.host_config.get("NetworkMode") or "bridge"
    endpoints = {e.network_id: e for e in snap.by_container.get(c.id, [])}
    eps = {} if mode.startswith("container:") else ((c.network_config or {}).get("EndpointsConfig") or {})
    networks: dict[str, Any] = {}
    port_map: dict[str, Any] = {k: None for k in (c.config.get("ExposedPorts") or {})}
    for key, cfg in eps.items():
        cfg = cfg or {}
        n = snap.network(key, cfg)
        e = endpoints.get(n.id) if n is not None else None
        networks[key if n is None else n.name] = _entry(n, e, cfg)
        for p in e.ports if e else ():
            key_ = f"{p.container_port}/{p.proto}"
            port_map[key_] = (port_map.get(key_) or []) + [{"HostIp": p.host_ip, "HostPort": str(p.host_port)}]
    running = bool(endpoints)
    out: dict[str, Any] = {"Networks": networks, "Ports": port_map if running else {},
                           "SandboxKey": sandbox_path if running else "", "SandboxID": c.id if running else ""}
    primary = networks.get("bridge") if mode in ("bridge", "default") else None
    if primary is not None:
        out.update({"EndpointID": primary["EndpointID"], "Gateway": primary["Gateway"],
                    "IPAddress": primary["IPAddress"], "IPPrefixLen": primary["IPPrefixLen"],
                    "GlobalIPv6Address": primary["GlobalIPv6Address"],
                    "GlobalIPv6PrefixLen": primary["GlobalIPv6PrefixLen"], "IPv6Gateway": primary["IPv6Gateway"],
                    "MacAddress": primary["MacAddress"], "Bridge": bridge if running else ""})
    return out


def summary_ports(snap: Snapshot, c) -> list[dict[str, Any]]:
    """``ps``'s ``Ports``: published ones with their host side, exposed ones bare."""
    out = []
    published = set()
    for e in snap.by_container.get(c.id, []):
        for p in e.ports:
            out.append({"IP": p.host_ip, "PrivatePort": p.container_port, "PublicPort": p.host_port, "Type": p.proto})
            published.add((p.container_port, p.proto))
    for key in c.config.get("ExposedPorts") or {}:
        with contextlib.suppress(InvalidParameter):
            port, proto = ports.parse_port_key(key)
            if (port, proto) not in published:
                out.append({"PrivatePort": port, "Type": proto})
    return out
