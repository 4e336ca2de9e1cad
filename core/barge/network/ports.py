"""Published ports: checking ``PortBindings``, and holding host ports.

The daemon reserves every published host port by keeping a socket bound to
it (TCP: listening, the only state that keeps every other bind off it):
nothing else on the host can take the port while the
container runs, a conflict is found at ``bind`` with the kernel's own
answer, and a killed daemon releases them all (its successor binds again
those of containers still running). Traffic never reaches these sockets:
the driver's DNAT rules send it to the container first, except on IPv6
host addresses, where there is no NAT: those sockets are served by
:mod:`barge.network.proxy` (TCP and UDP; SCTP is refused by :func:`requested`).
"""

from __future__ import annotations

import errno
import ipaddress
import random
import re
import socket
import threading
from dataclasses import dataclass

from barge.errors import Conflict, InvalidParameter
from barge.network.proxy import TcpProxy, UdpProxy

PROTOCOLS = ("tcp", "udp", "sctp")
_PORT_KEY = re.compile(r"^(\d+)(?:-(\d+))?(?:/([a-zA-Z]+))?$")


@dataclass(frozen=True)
class Binding:
    """One requested binding: container port/proto -> host ip and port range (0..0 = any)."""

    container_port: int
    proto: str
    host_ip: str
    host_first: int
    host_last: int


def _port(value: str, what: str) -> int:
    if not value.isdigit() or not 0 < int(value) <= 65535:
        raise InvalidParameter(f"invalid {what}: {value}")
    return int(value)


def parse_port_key(key: str) -> tuple[int, str]:
    """``"80/tcp"`` -> (80, "tcp")."""
    m = _PORT_KEY.match(key)
    if not m or m.group(2):
        raise InvalidParameter(f"invalid port specification: \"{key}\"")
    proto = (m.group(3) or "tcp").lower()
    if proto not in PROTOCOLS:
        raise InvalidParameter(f"invalid proto: {m.group(3)}")
    return _port(m.group(1), "containerPort"), proto


def parse_host_port(value: str) -> tuple[int, int]:
    if not value:
        return 0, 0
    first, sep, last = value.partition("-")
    lo = _port(first, "hostPort")
    hi = _port(last, "hostPort") if sep else lo
    if hi < lo:
        raise InvalidParameter(f"invalid hostPort: {value}")
    return lo, hi


def _host_ip(value: str) -> str:
    """The host IP of a binding, "" when none is given (the network's ``host_binding_ipv4`` then)."""
    if not value:
        return ""
    try:
        socket.inet_pton(socket.AF_INET, value)
    except OSError:
        try:
            return str(ipaddress.IPv6Address(value.strip("[]")))
        except ValueError:
            raise InvalidParameter(f"invalid IP address: {value}") from None
    return value


def is_ipv6(host_ip: str) -> bool:
    """A binding on an IPv6 host address: proxied, not NAT'd."""
    return ":" in host_ip


def requested(port_bindings: dict | None, exposed: dict | None, publish_all: bool) -> list[Binding]:
    """Every binding a container asks for; ``-P`` adds its exposed ports not bound otherwise."""
    out: list[Binding] = []
    bound: set[tuple[int, str]] = set()
    for key, hosts in (port_bindings or {}).items():
        port, proto = parse_port_key(key)
        bound.add((port, proto))
        for h in hosts or [{}]:
            first, last = parse_host_port(h.get("HostPort", ""))
            host_ip = _host_ip(h.get("HostIp", ""))
            if is_ipv6(host_ip) and proto == "sctp":
                raise InvalidParameter(f"publishing sctp on the IPv6 host address {host_ip} is not supported "
                                       "(barge proxies TCP and UDP there)")
            out.append(Binding(port, proto, host_ip, first, last))
    if publish_all:
        for key in exposed or {}:
            try:
                port, proto = parse_port_key(key)
            except InvalidParameter:
                continue  # dockerd 20.10 keeps an exposed port it cannot read ("abc/tcp") and publishes nothing for it
            if (port, proto) not in bound:
                out.append(Binding(port, proto, "", 0, 0))
    return out


def check(port_bindings: dict | None, exposed: dict | None) -> None:
    """Create-time validation of the decoded ``PortBindings``, so a bad spec fails ``create``, not ``start``.
    ``ExposedPorts`` is kept as given, as dockerd 20.10 keeps it (it only ever reads the ports it can)."""
    requested(port_bindings, exposed, False)


def local_port_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            lo, hi = (int(x) for x in fh.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 49153, 65535


class PortReservations:
    """Host ports held by this daemon, keyed (proto, host_ip, port)."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str, int], socket.socket] = {}
        self._proxies: dict[tuple[str, str, int], TcpProxy | UdpProxy] = {}
        self._lock = threading.Lock()

    def _clashes(self, proto: str, ip: str, port: int) -> bool:
        for (p, i, n) in self._held:
            if p == proto and n == port and is_ipv6(i) == is_ipv6(ip) and (i == ip or {i, ip} & {"0.0.0.0", "::"}):
                return True
        return False

    def _bind(self, proto: str, ip: str, port: int) -> socket.socket:
        kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
        sock_proto = socket.IPPROTO_SCTP if proto == "sctp" else 0
        s = socket.socket(socket.AF_INET6 if is_ipv6(ip) else socket.AF_INET, kind, sock_proto)
        try:
            if is_ipv6(ip):  # "::" is IPv6's every address, not IPv4's too (that is 0.0.0.0's binding)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if proto == "tcp":
                # a listening socket is what keeps every other bind off the port (SO_REUSEADDR
                # only lets us past TIME_WAIT leftovers); DNAT means it never sees a connection
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((ip, port))
                s.listen(1)
            else:
                s.bind((ip, port))
        except BaseException:
            s.close()
            raise
        return s

    def reserve(self, proto: str, ip: str, first: int, last: int) -> int:
        """Hold a port of ``first..last`` (0: any in the local port range); return it."""
        if first == 0:
            lo, hi = local_port_range()
            candidates = list(range(lo, hi + 1))
            random.shuffle(candidates)
            candidates = candidates[:256]
        else:
            candidates = list(range(first, last + 1))
        last_error: OSError | None = None
        with self._lock:
            for port in candidates:
                if self._clashes(proto, ip, port):
                    continue
                try:
                    self._held[(proto, ip, port)] = self._bind(proto, ip, port)
                    return port
                except OSError as exc:
                    if exc.errno == errno.EADDRNOTAVAIL:
                        raise InvalidParameter(f"cannot publish on {ip}: it is not an address of this host") from None
                    last_error = exc
        if first == 0:
            raise Conflict(f"no free host port for {proto} on {ip}: {last_error}")
        span = f"{first}" if first == last else f"{first}-{last}"
        raise Conflict(f"Bind for {ip}:{span} failed: port is already allocated")

    def held(self) -> set[tuple[str, str, int]]:
        """(proto, host ip, port) of every port held now."""
        with self._lock:
            return set(self._held)

    def hold(self, proto: str, ip: str, port: int) -> bool:
        """Bind an exact port again after a daemon restart; False when something took it meanwhile."""
        with self._lock:
            if (proto, ip, port) in self._held:
                return True
            try:
                self._held[(proto, ip, port)] = self._bind(proto, ip, port)
                return True
            except OSError:
                return False

    def proxy(self, proto: str, ip: str, port: int, target: tuple[str, int]) -> None:
        """Serve a held IPv6 port: its connections (TCP) or datagrams (UDP) relayed to ``target`` until
        :meth:`release`."""
        with self._lock:
            key = (proto, ip, port)
            if key in self._held and key not in self._proxies:
                kind = UdpProxy if proto == "udp" else TcpProxy
                self._proxies[key] = kind(self._held[key], target)

    def release(self, proto: str, ip: str, port: int) -> None:
        with self._lock:
            s = self._held.pop((proto, ip, port), None)
            proxy = self._proxies.pop((proto, ip, port), None)
        if proxy is not None:
            proxy.stop()
        if s is not None:
            s.close()

    def close(self) -> None:
        with self._lock:
            held, self._held = self._held, {}
            proxies, self._proxies = self._proxies, {}
        for proxy in proxies.values():
            proxy.stop()
        for s in held.values():
            s.close()
