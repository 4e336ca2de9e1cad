"""A new network's addresses: its IPAM configs checked as dockerd 20.10's default IPAM checks them.

At most one config per family (the bridge driver's rule); the IPv4 one is
chosen from the pools when none is given, the IPv6 one must be given when
``EnableIPv6`` is set (dockerd 20.10 has no default IPv6 pool). Each given
config is checked in dockerd's order: the pool (overlap), its sub-pool
(``IPRange``), the gateway, then the auxiliary addresses, which are kept
out of every later allocation. The errors carry dockerd's texts; where
dockerd answers 500 for a bad request, barge answers 400.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from barge.errors import Forbidden, InvalidParameter, NotFound
from barge.network import ipam


@dataclass
class Plan:
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    subnet6: str = ""
    gateway6: str = ""
    ip_range6: str = ""
    #: the configs as inspect shows them: given ones as given, a chosen pool with its gateway
    ipam: list[dict[str, Any]] = field(default_factory=list)


def _family(conf: dict[str, Any]) -> int:
    subnet = conf.get("Subnet") or ""
    if not subnet:  # dockerd parses the subnet first, whatever else the config holds
        raise InvalidParameter(f"Invalid subnet {subnet} : invalid CIDR address: {subnet}")
    return ipam.parse_subnet(subnet).version


def plan(name: str, configs: list[dict[str, Any]], ipv6: bool, taken: list[tuple[Any, str]],
         pools: list[dict[str, Any]]) -> Plan:
    """The addresses of the network ``name`` from its ``IPAM.Config``, or dockerd's error refusing them.

    ``taken``: (subnet, owner) pairs a new subnet must not overlap; ``pools``: the daemon's
    ``default_address_pools``.
    """
    by_family: dict[int, dict[str, Any]] = {}
    for conf in configs:
        conf = conf or {}
        v = _family(conf)
        if v in by_family:
            raise Forbidden("bridge driver doesn't support multiple subnets")
        by_family[v] = conf
    p = Plan()
    v4 = by_family.get(4)
    if v4 is not None:
        p.subnet, p.gateway, p.ip_range = _checked(name, v4, taken)
        p.ipam.append(_shown(v4))
    else:
        net = ipam.choose_pool(pools, taken)
        p.subnet, p.gateway = str(net), str(next(net.hosts()))
        p.ipam.append({"Subnet": p.subnet, "Gateway": p.gateway})
    v6 = by_family.get(6)
    if v6 is not None:
        subnet6, gateway6, range6 = _checked(name, v6, taken)
        p.ipam.append(_shown(v6))
        if ipv6:  # without EnableIPv6 dockerd records the config but gives no endpoint an IPv6 address
            p.subnet6, p.gateway6, p.ip_range6 = subnet6, gateway6, range6
    elif ipv6:
        raise NotFound("could not find an available, non-overlapping IPv6 address pool among the defaults "
                       "to assign to the network")
    return p


def _shown(conf: dict[str, Any]) -> dict[str, Any]:
    """A given config as dockerd's inspect shows it: the fields given, nothing filled in."""
    out = {"Subnet": conf["Subnet"]}
    for key in ("IPRange", "Gateway"):
        if conf.get(key):
            out[key] = conf[key]
    if conf.get("AuxiliaryAddresses"):
        out["AuxiliaryAddresses"] = dict(conf["AuxiliaryAddresses"])
    return out


def _checked(name: str, conf: dict[str, Any], taken: list[tuple[Any, str]]) -> tuple[str, str, str]:
    """One given config's subnet, gateway and ip-range (all as strings), its aux addresses checked."""
    subnet_s = conf["Subnet"]
    net = ipam.parse_subnet(subnet_s)
    clash = ipam.overlapping(net, taken)
    if clash is not None:
        if clash[1].startswith("network "):
            raise Forbidden("Pool overlaps with other one on this address space")
        raise Forbidden(f"invalid pool request: subnet {net} overlaps with {clash[1]}")
    ip_range = conf.get("IPRange") or ""
    if ip_range:
        try:
            r = ipaddress.ip_network(ip_range, strict=False)
        except ValueError:
            r = None
        if r is None or r.version != net.version:
            raise InvalidParameter(f"failed to parse pool request for address space \"LocalDefault\" pool "
                                   f"\"{subnet_s}\" subpool \"{ip_range}\": Invalid Address SubPool")
        if not r.subnet_of(net):  # type: ignore[arg-type]
            raise InvalidParameter(f"invalid ip-range {ip_range}: not inside the subnet {net}")
        ip_range = str(r)
    used = {str(net.network_address)}
    if net.version == 4:
        used.add(str(net.broadcast_address))
    gateway = _gateway(conf.get("Gateway") or "", net, used)
    used.add(gateway)
    for key, value in (conf.get("AuxiliaryAddresses") or {}).items():
        try:
            addr = ipaddress.ip_address(value)
        except ValueError:
            raise InvalidParameter(f"non parsable secondary ip address ({key}:{value}) passed for network "
                                   f"{name}") from None
        if addr.version != net.version or addr not in net:
            raise Forbidden(f"auxiliary address: ({key}:{value}) must belong to the master pool: {subnet_s}")
        if str(addr) in used:
            raise InvalidParameter(f"failed to allocate secondary ip address ({key}:{value}): "
                                   "Address already in use")
        used.add(str(addr))
    return str(net), gateway, ip_range


def _gateway(given: str, net: Any, used: set[str]) -> str:
    if not given:
        return str(net.network_address + 1)
    try:
        gw = ipaddress.ip_address(given)
    except ValueError:
        raise InvalidParameter(f"invalid gateway address {given} in Ipam configuration") from None
    if gw.version != net.version or gw not in net:
        raise InvalidParameter(f"failed to allocate gateway ({given}): Requested address is out of range")
    if str(gw) in used:
        raise InvalidParameter(f"failed to allocate gateway ({given}): Address already in use")
    return str(gw)
