"""The bridge driver's ``com.docker.network.*`` options of ``network create -o``, parsed as dockerd 20.10's.

dockerd's bridge driver reads these and ignores every other key (an unknown
option is kept in the network's ``Options`` and does nothing); a value it
cannot parse refuses the create with ``failed to parse <key> value: ...``
(dockerd answers 500, barge 400).
"""

from __future__ import annotations

import ipaddress

from barge.errors import InvalidParameter

PREFIX = "com.docker.network.bridge."
NAME = PREFIX + "name"
ENABLE_ICC = PREFIX + "enable_icc"
ENABLE_IP_MASQUERADE = PREFIX + "enable_ip_masquerade"
HOST_BINDING_IPV4 = PREFIX + "host_binding_ipv4"
DEFAULT_BRIDGE = PREFIX + "default_bridge"
INHIBIT_IPV4 = PREFIX + "inhibit_ipv4"
MTU = "com.docker.network.driver.mtu"

_BOOLS = (ENABLE_ICC, ENABLE_IP_MASQUERADE, DEFAULT_BRIDGE, INHIBIT_IPV4)
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def parse_bool(value: str) -> bool | None:
    """Go's strconv.ParseBool: None when it would fail."""
    return True if value in _TRUE else False if value in _FALSE else None


def check(options: dict[str, str]) -> None:
    """Refuse the values dockerd's bridge driver cannot parse, with its texts."""
    for key in _BOOLS:
        if key in options and parse_bool(str(options[key])) is None:
            raise InvalidParameter(f"failed to parse {key} value: {options[key]} "
                                   f"(strconv.ParseBool: parsing \"{options[key]}\": invalid syntax)")
    if MTU in options:
        value = str(options[MTU])
        digits = value[1:] if value[:1] in "+-" else value
        if not digits.isdigit() or not digits.isascii():
            raise InvalidParameter(f"failed to parse {MTU} value: {value} "
                                   f"(strconv.Atoi: parsing \"{value}\": invalid syntax)")
        if not 68 <= int(value) <= 65535:  # dockerd takes any number and fails later at the veth
            raise InvalidParameter(f"invalid MTU {value}: the kernel accepts 68 to 65535")
    if HOST_BINDING_IPV4 in options:
        try:
            ipaddress.ip_address(str(options[HOST_BINDING_IPV4]))
        except ValueError:
            raise InvalidParameter(f"failed to parse {HOST_BINDING_IPV4} value: {options[HOST_BINDING_IPV4]} "
                                   "(nil ip)") from None


def host_binding(options: dict[str, str]) -> str:
    """Where a port published without a host IP binds on this network (dockerd's ``DefaultBindingIP``)."""
    return str(options.get(HOST_BINDING_IPV4) or "0.0.0.0")
