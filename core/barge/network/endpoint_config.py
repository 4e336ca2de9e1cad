"""A container's networking request, checked: the create body's and a connect's endpoint settings.

Docker's ``EndpointSettings`` (static address, aliases, MAC address) are
checked against the network they name when the container is created or
connected, so a start never fails on what the request could have refused.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Callable

from barge.errors import InvalidParameter, NotFound
from barge.network import ipam, ports
from barge.network.store import Network

_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
_MAC = re.compile(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")


def dns_name_problem(name: str) -> str:
    """Why ``name`` cannot be looked up through DNS, or ""."""
    if len(name) > 253:
        return "longer than 253 characters"
    for label in name.split("."):
        if not _DNS_LABEL.match(label):
            return (f"label {label!r} is not a DNS label (1 to 63 letters, digits, '-' or '_', "
                    "not starting or ending with '-')")
    return ""


def check_create(get: Callable[[str], Network], name: str, config: dict[str, Any], host: dict[str, Any],
                 networking: dict[str, Any]) -> dict[str, Any]:
    """Validate a create request's networking; return its ``NetworkingConfig`` with the
    primary network first and every network's id recorded (Docker's EndpointSettings).

    ``get`` resolves a network reference (:meth:`barge.network.networks.Networks.get`);
    ``host["NetworkMode"]`` is set to the primary network's name or the mode given.
    """
    mode = host.get("NetworkMode") or "bridge"
    ports.check(host.get("PortBindings"), config.get("ExposedPorts"))
    given = dict(((networking or {}).get("EndpointsConfig") or {}))
    if mode in ("host", "none") or mode.startswith("container:"):
        return _check_shared(mode, host, given)
    try:
        primary = get(mode)
    except NotFound:  # dockerd looks the network up at start: the create stands, the start fails
        return {"EndpointsConfig": {mode: dict(given.get(mode) or given.get("default") or {})}}
    if primary.builtin:
        host["NetworkMode"] = primary.name
        return {"EndpointsConfig": {primary.name: {}}}
    host["NetworkMode"] = mode
    out: dict[str, Any] = {}
    order = [mode] + [k for k in given if k not in (mode, "default", primary.name, primary.id)]
    for key in order:
        n = primary if key == mode else get(key)
        if n.builtin:
            raise InvalidParameter(f"container cannot be connected to network endpoints: {mode}, {key}")
        cfg = dict(given.get(key) or (given.get("default") if key == mode else None) or {})
        if key == mode and config.get("MacAddress"):  # moby's handleMACAddressBC: the old, container-wide field
            if cfg.get("MacAddress") and cfg["MacAddress"] != config["MacAddress"]:
                raise InvalidParameter("the container-wide MAC address must match the endpoint-specific MAC "
                                       "address for the main network, or be left empty")
            cfg["MacAddress"] = config["MacAddress"]
        check_endpoint_config(n, cfg, name)
        cfg["NetworkID"] = n.id
        out[n.name] = cfg
    return {"EndpointsConfig": out}


def _check_shared(mode: str, host: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``host``, ``none`` or ``container:<id>``: no network of its own to join or publish on."""
    for key in given:
        if key not in (mode, "default"):
            raise InvalidParameter(f"container cannot be connected to network endpoints: {mode}, {key}")
    if mode != "host" and (host.get("PortBindings") or host.get("PublishAllPorts")) and mode != "none":
        raise InvalidParameter("conflicting options: port publishing and the container type network mode")
    if mode.startswith("container:") and (host.get("Dns") or host.get("ExtraHosts")):
        raise InvalidParameter("conflicting options: dns and the network mode" if host.get("Dns")
                               else "conflicting options: custom host-to-IP mapping and the network mode")
    return {"EndpointsConfig": {mode: given.get(mode) or given.get("default") or {}}}


def _check_ipv6(n: Network, wanted: str) -> None:
    """``--ip6``, as dockerd checks it (parsed at create; the subnet at start, where barge checks at create)."""
    try:
        addr = ipaddress.IPv6Address(wanted)
    except ValueError:
        raise InvalidParameter(f"invalid IPv6 address: {wanted}") from None
    if not n.subnet6:
        raise InvalidParameter("user specified IP address is supported only when connecting to networks with user "
                               "configured subnets")
    if addr not in ipaddress.IPv6Network(n.subnet6):
        raise InvalidParameter(f"Invalid address {wanted}: It does not belong to any of this network's subnets")


def check_endpoint_config(n: Network, cfg: dict[str, Any], name: str) -> None:
    """The endpoint settings ``cfg`` for the container ``name`` on ``n``, or the error refusing them."""
    ipam_cfg = cfg.get("IPAMConfig") or {}
    wanted, wanted6 = ipam_cfg.get("IPv4Address") or "", ipam_cfg.get("IPv6Address") or ""
    aliases = cfg.get("Aliases") or []
    if (wanted or wanted6) and not n.user_defined:
        raise InvalidParameter("user specified IP address is supported on user defined networks only")
    if wanted:
        addr = ipam.parse_address(wanted, "IPv4")
        if addr not in ipam.Net(n.subnet):
            raise InvalidParameter(f"invalid address {wanted}: it does not belong to the subnet {n.subnet} "
                                   f"of network {n.name}")
    if wanted6:
        _check_ipv6(n, wanted6)
    for value in ipam_cfg.get("LinkLocalIPs") or []:
        ipam.link_local(str(value))
    if aliases and not n.user_defined:
        raise InvalidParameter("network-scoped alias is supported only for containers in user defined networks")
    mac = cfg.get("MacAddress") or ""
    if mac and not _MAC.match(mac):
        raise InvalidParameter(f"invalid MAC address: {mac}")
    if n.user_defined:
        bare = name.lstrip("/")
        problem = dns_name_problem(bare) if bare else ""
        if problem:
            raise InvalidParameter(f"container name {bare!r} cannot be used on network {n.name}, where names "
                                   f"are resolved by DNS: {problem}")
        for alias in aliases:
            problem = dns_name_problem(alias)
            if problem:
                raise InvalidParameter(f"invalid network alias {alias!r}: {problem}")
