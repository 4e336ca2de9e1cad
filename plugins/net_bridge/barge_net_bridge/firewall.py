"""barge's whole nftables table, rendered from the driver's model and replaced in one transaction.

After Docker's iptables rules, without a userland proxy:

* nat ``prerouting``/``output`` jump to ``published`` for local destinations;
  each published port is one DNAT rule there. 127.0.0.1 works because the
  bridge has ``route_localnet`` and ``postrouting`` masquerades 127.0.0.0/8
  leaving through it.
* ``postrouting`` masquerades each network's outbound traffic, and hairpin
  traffic (a container reaching a published port that leads back onto its
  own bridge) so that replies return through the host.
* ``forward`` (policy accept: traffic that is not barge's is never judged)
  confines internal networks to their bridge, lets replies and published
  ports in, applies inter-container communication, drops traffic between
  two barge bridges, and drops anything else routed into a network.

The table is of the ``inet`` family: the ``forward`` rules match
interfaces only, so they judge IPv6 as IPv4 (isolation, icc, internal
networks, nothing routed in); NAT is IPv4 only, as dockerd 20.10's (its
IPv6 NAT needs the experimental ip6tables): IPv6 container addresses are
routed as they are, and ports published on IPv6 host addresses are served
by core's userland proxy, as dockerd's docker-proxy serves them.

Rules are rendered in a fixed order from sorted input, so the same model
always gives the same table (a restore rebuilds it identically). The text
starts with ``add table``/``delete table`` so that the whole table is
replaced atomically whether or not it existed; it deletes the ``ip``
table of the same name that barge wrote before it had IPv6 as well.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from barge.errors import InvalidParameter
from barge.netdriver import NetworkSpec, PortMapping
from barge_net_bridge.nft import Nft

FAMILY = "inet"
#: the family of the table of earlier barges: removed in the same transaction
LEGACY_FAMILY = "ip"
PROTOCOLS = ("tcp", "udp", "sctp")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_IFNAME = re.compile(r"[A-Za-z0-9_.:@+-]{1,15}\Z")


def check_table_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidParameter(f"nftables table name {name!r}: letters, digits and '_' (at most 64), not a digit first")
    return name


@dataclass(frozen=True)
class Port:
    """A published port and the network whose bridge leads to it."""

    network: NetworkSpec
    mapping: PortMapping


def _ifname(name: str) -> str:
    if not _IFNAME.match(name or ""):
        raise InvalidParameter(f"interface name {name!r} cannot be used in a firewall rule")
    return f'"{name}"'


def _subnet(cidr: str) -> str:
    try:
        return str(ipaddress.IPv4Network(cidr, strict=False))
    except ValueError:
        raise InvalidParameter(f"subnet {cidr!r} is not an IPv4 CIDR") from None


def _ipv4(addr: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(addr))
    except ValueError:
        raise InvalidParameter(f"{what} {addr!r} is not an IPv4 address") from None


def _port(n: int, what: str) -> int:
    if not isinstance(n, int) or not 1 <= n <= 65535:
        raise InvalidParameter(f"{what} {n!r} is not a port number (1-65535)")
    return n


def dnat_rule(m: PortMapping) -> str:
    if m.proto not in PROTOCOLS:
        raise InvalidParameter(f"protocol {m.proto!r}: one of {', '.join(PROTOCOLS)}")
    host_ip = _ipv4(m.host_ip or "0.0.0.0", "host IP")
    match = "meta nfproto ipv4 " if host_ip == "0.0.0.0" else f"ip daddr {host_ip} "
    dest = f"{_ipv4(m.container_ip, 'container IP')}:{_port(m.container_port, 'container port')}"
    return f"{match}{m.proto} dport {_port(m.host_port, 'host port')} dnat ip to {dest}"


def _port_key(p: Port) -> tuple:
    m = p.mapping
    return (m.proto, m.host_ip, m.host_port, m.container_ip, m.container_port)


def _drop(table: str) -> list[str]:
    """Commands deleting ``table`` (both families) whether or not it exists."""
    return [f"{verb} table {family} {table}" for family in (LEGACY_FAMILY, FAMILY) for verb in ("add", "delete")]


def render(table: str, networks: Iterable[NetworkSpec], ports: Iterable[Port]) -> str:
    """The complete table for ``networks`` and ``ports``, as one nft transaction."""
    table = check_table_name(table)
    nets = sorted(networks, key=lambda n: n.interface)
    names = {n.id for n in nets}
    open_nets = [n for n in nets if not n.internal]
    # published ports reach only networks that are present and not internal
    live = sorted((p for p in ports if p.network.id in names and not p.network.internal), key=_port_key)

    dnat = [dnat_rule(p.mapping) for p in live]

    post: list[str] = []
    for n in open_nets:
        br, sub = _ifname(n.interface), _subnet(n.subnet)
        post.append(f"oifname {br} ip saddr 127.0.0.0/8 masquerade")
        post.append(f"oifname {br} ip saddr {sub} ct status dnat masquerade")
        if n.masquerade:
            post.append(f"oifname != {br} ip saddr {sub} masquerade")

    fwd: list[str] = []
    for n in nets:  # internal: nothing crosses the bridge's boundary
        if n.internal:
            br = _ifname(n.interface)
            fwd.append(f"iifname {br} oifname != {br} drop")
            fwd.append(f"oifname {br} iifname != {br} drop")
    for n in open_nets:  # replies, and published ports from anywhere
        br = _ifname(n.interface)
        fwd.append(f"oifname {br} ct state established,related accept")
        fwd.append(f"oifname {br} ct status dnat accept")
    for n in nets:  # inter-container communication
        br = _ifname(n.interface)
        fwd.append(f"iifname {br} oifname {br} {'accept' if n.icc else 'drop'}")
    if len(nets) > 1:  # isolation: what is left between two barge bridges crosses networks
        every = ", ".join(_ifname(n.interface) for n in nets)
        fwd.append(f"iifname {{ {every} }} oifname {{ {every} }} drop")
    for n in open_nets:  # nothing else is routed into a network
        fwd.append(f"oifname {_ifname(n.interface)} drop")

    def chain(name: str, head: str | None, rules: list[str]) -> list[str]:
        lines = [f"\tchain {name} {{"]
        if head:
            lines.append(f"\t\t{head}")
        lines += [f"\t\t{r}" for r in rules]
        lines.append("\t}")
        return lines

    body = [*_drop(table), f"table {FAMILY} {table} {{"]
    body += chain("published", None, dnat)
    body += chain("prerouting", "type nat hook prerouting priority dstnat; policy accept;",
                  ["fib daddr type local jump published"])
    body += chain("output", "type nat hook output priority -100; policy accept;",
                  ["fib daddr type local jump published"])
    body += chain("postrouting", "type nat hook postrouting priority srcnat; policy accept;", post)
    body += chain("forward", "type filter hook forward priority filter; policy accept;", fwd)
    body.append("}")
    return "\n".join(body) + "\n"


class Firewall:
    """Applies rendered tables to the kernel; owns one table and never touches another."""

    def __init__(self, nft: Nft, table: str):
        self.nft = nft
        self.table = check_table_name(table)

    def apply(self, networks: list[NetworkSpec], ports: list[Port]) -> None:
        """Replace the table atomically; with no network left, delete it."""
        if networks:
            self.nft.run(render(self.table, networks, ports))
        else:
            self.remove()

    def remove(self) -> None:
        self.nft.run("\n".join(_drop(self.table)) + "\n")

    def listing(self) -> str:
        """``nft list table``'s text, or "" when the table does not exist."""
        out = self.nft.run(f"list tables {FAMILY}")
        if f"table {FAMILY} {self.table}\n" not in out + "\n":
            return ""
        return self.nft.run(f"list table {FAMILY} {self.table}")
