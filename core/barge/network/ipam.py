"""Address management: pools for new networks, addresses for endpoints.

Pools follow Docker's defaults (172.17-31.0.0/16, then 192.168.0.0/16 in
/20s) or ``default_address_pools``; a pool is taken only when it overlaps
neither another network nor a route of the host (``/proc/net/route``:
the host's own networks, and other engines' bridges). IPv6 subnets are
always given (``--subnet``, ``fixed-cidr-v6``): like dockerd 20.10 there is
no default IPv6 pool. Addresses are the lowest free one in the network's
range (or the one asked for), never the network, broadcast or gateway
address nor an auxiliary one; the caller inserts the endpoint row in the
same transaction that read the used addresses.
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
AnyNet = ipaddress.IPv4Network | ipaddress.IPv6Network
AnyAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


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


def host_routes6(path: str = "/proc/net/ipv6_route") -> list[tuple[ipaddress.IPv6Network, str]]:
    """The host's IPv6 network routes: not default, host (/128), link-local or multicast ones."""
    out = []
    try:
        with open(path) as fh:
            for line in fh:
                f = line.split()
                if len(f) < 10:
                    continue
                net = ipaddress.IPv6Network((int(f[0], 16), int(f[1], 16)), strict=False)
                if 0 < net.prefixlen < 128 and not (net.is_link_local or net.is_multicast):
                    out.append((net, f[9]))
    except (OSError, ValueError):
        pass
    return out


def parse_subnet(value: str) -> AnyNet:
    """An IPv4 or IPv6 subnet in CIDR form, host bits cleared (dockerd keeps ``10.0.0.5/24`` as given)."""
    try:
        net = ipaddress.ip_network(value, strict=False) if "/" in value else None
    except ValueError:
        net = None
    if net is None:
        raise InvalidParameter(f"Invalid subnet {value} : invalid CIDR address: {value}")
    if net.prefixlen > net.max_prefixlen - 2:
        raise InvalidParameter(f"invalid subnet {value}: too small for a network (at most /{net.max_prefixlen - 2})")
    return net


def parse_address(value: str, what: str, version: int = 4) -> AnyAddress:
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        addr = None
    if addr is None or addr.version != version:
        raise InvalidParameter(f"invalid {what} address {value}: not an IPv{version} address")
    return addr


def overlapping(subnet: AnyNet, taken: Iterable[tuple[AnyNet, str]]) -> tuple[AnyNet, str] | None:
    for net, owner in taken:
        if net.version == subnet.version and subnet.overlaps(net):
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


def allocate(subnet: str, ip_range: str, gateway: str, used: set[str], wanted: str = "",
             reserved: set[str] | frozenset[str] = frozenset()) -> str:
    """An address for a new endpoint (either family, the subnet's), as a string; ``reserved``: aux addresses."""
    net = ipaddress.ip_network(subnet, strict=False)
    v = net.version
    never = {str(net.network_address), gateway, *reserved}
    if v == 4:
        never.add(str(net.broadcast_address))
    if wanted:
        addr = parse_address(wanted, f"IPv{v}", v)
        if addr not in net:
            if v == 6:
                raise InvalidParameter(f"Invalid address {wanted}: It does not belong to any of this network's "
                                       "subnets")
            raise InvalidParameter(f"invalid address {wanted}: it does not belong to the network's subnet {subnet}")
        if str(addr) in never:
            raise Conflict(f"Address already in use: {addr} is reserved in {subnet}")
        if str(addr) in used:
            raise Conflict(f"Address already in use: {addr}")
        return str(addr)
    pool = ipaddress.ip_network(ip_range, strict=False) if ip_range else net
    first = int(pool.network_address) + (1 if pool.num_addresses > 2 else 0)
    last = int(pool.broadcast_address) - (1 if v == 4 and pool.num_addresses > 2 else 0)
    taken = {int(ipaddress.ip_address(a)) for a in used | never if a and _family(a) == v}
    n = first
    while n <= last:  # lazily: an IPv6 range is far too large to list
        if n not in taken:
            return str(ipaddress.ip_address(n))
        n += 1
    raise Conflict(f"no available IPv{v} addresses on this network's address pools: {pool}")


def _family(address: str) -> int:
    return 6 if ":" in address else 4


def link_local(value: str) -> str:
    """A ``--link-local-ip``: an IPv4 (169.254/16) or IPv6 (fe80::/10) link-local address, as dockerd's text."""
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        raise InvalidParameter(f"Invalid link-local IP address: [{value}]") from None
    if not addr.is_link_local:
        raise InvalidParameter(f"invalid link local IP address: {value}")
    return str(addr)


def mac_for(address: str) -> str:
    """Docker's classic MAC for an address: 02:42 followed by its four bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(address).packed)
