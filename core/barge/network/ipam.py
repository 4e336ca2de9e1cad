"""Address management: pools for new networks, addresses for endpoints.

Pools follow Docker's defaults (172.17-31.0.0/16, then 192.168.0.0/16 in
/20s) or ``default_address_pools``; a pool is taken only when it overlaps
neither another network nor a route of the host (``/proc/net/route``:
the host's own networks, and other engines' bridges). Addresses are the
lowest free one in the network's range (or the one asked for), never the
network, broadcast or gateway address; the caller inserts the endpoint row
in the same transaction that read the used addresses.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Iterable, Iterator
from typing import Any

from barge.errors import Conflict, Forbidden, InvalidParameter

DEFAULT_POOLS = ([{"base": f"172.{n}.0.0/16", "size": 16} for n in range(17, 32)]
                 + [{"base": "192.168.0.0/16", "size": 20}])

Net = ipaddress.IPv4Network


def host_routes(path: str = "/proc/net/route") -> list[tuple[Net, str]]:
    """The host's IPv4 routes other than default routes, as (destination, interface)."""
    out = []
    try:
        with open(path) as fh:
            next(fh, None)
            for line in fh:
                f = line.split()
                if len(f) < 8:
                    continue
                dest = socket.inet_ntoa(struct.pack("<I", int(f[1], 16)))
                mask = socket.inet_ntoa(struct.pack("<I", int(f[7], 16)))
                net = Net(f"{dest}/{mask}", strict=False)
                if net.prefixlen:
                    out.append((net, f[0]))
    except OSError:
        pass
    return out


def parse_subnet(value: str) -> Net:
    try:
        net = Net(value, strict=False)
    except ValueError:
        raise InvalidParameter(f"invalid subnet {value}: invalid CIDR address: {value}") from None
    if str(net) != value and str(net.network_address) != value.partition("/")[0]:
        raise InvalidParameter(f"invalid subnet {value}: it should be {net}")
    if net.prefixlen > 30:
        raise InvalidParameter(f"invalid subnet {value}: too small for a network (at most /30)")
    return net


def parse_address(value: str, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise InvalidParameter(f"invalid {what} address {value}: not an IPv4 address") from None


def overlapping(subnet: Net, taken: Iterable[tuple[Net, str]]) -> tuple[Net, str] | None:
    for net, owner in taken:
        if subnet.overlaps(net):
            return net, owner
    return None


def candidate_pools(pools: list[dict[str, Any]]) -> Iterator[Net]:
    for pool in pools or DEFAULT_POOLS:
        base, size = Net(pool["base"], strict=False), int(pool["size"])
        if size < base.prefixlen:
            raise InvalidParameter(f"invalid default address pool {pool}: size /{size} is larger than its base")
        yield from base.subnets(new_prefix=size)


def choose_pool(pools: list[dict[str, Any]], taken: list[tuple[Net, str]]) -> Net:
    for candidate in candidate_pools(pools):
        if overlapping(candidate, taken) is None:
            return candidate
    raise Forbidden("could not find an available, non-overlapping IPv4 address pool among the defaults "
                    "to assign to the network")


def allocate(subnet: str, ip_range: str, gateway: str, used: set[str], wanted: str = "") -> str:
    """An address for a new endpoint, as a string."""
    net = Net(subnet, strict=False)
    reserved = {str(net.network_address), str(net.broadcast_address), gateway}
    if wanted:
        addr = parse_address(wanted, "IPv4")
        if addr not in net:
            raise InvalidParameter(f"invalid address {wanted}: it does not belong to the network's subnet {subnet}")
        if wanted in reserved:
            raise Conflict(f"Address already in use: {wanted} is reserved in {subnet}")
        if wanted in used:
            raise Conflict(f"Address already in use: {wanted}")
        return wanted
    pool = Net(ip_range, strict=False) if ip_range else net
    for host in pool.hosts() if pool.prefixlen < 31 else pool:
        s = str(host)
        if s not in used and s not in reserved:
            return s
    raise Conflict(f"no available IPv4 addresses on this network's address pools: {pool}")


def mac_for(address: str) -> str:
    """Docker's classic MAC for an address: 02:42 followed by its four bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(address).packed)
