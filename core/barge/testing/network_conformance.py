"""The network driver conformance suite, for barge's drivers and third parties.

A driver package runs it against itself::

    from barge.testing.network_conformance import NetworkDriverConformance

    class TestBridge(NetworkDriverConformance):
        driver_name = "bridge"

        def driver_options(self, tag):
            return {"table": f"barge_test_{tag}"}   # not the daemon's own table

        def release_driver(self, driver):
            driver.firewall.remove()

The driver is loaded by name through its entry point, registered alone in a
fresh plugin manager, and driven only through ``pm.hook.barge_network_*``
with keyword arguments, as the daemon drives it. The suite plays core's
part: it picks the subnets (in 10.250.0.0/15-10.255.0.0/16, never one a host
route covers), the addresses and MACs, holds the host ports it publishes,
and makes each endpoint's sandbox with :mod:`barge.netns` (loopback up). What
the driver did is checked from the outside: the interfaces and routes a
sandbox sees, and TCP connections between sandboxes and from the host.
Everything a test made is removed afterwards, even when it fails.

The tests skip, with the reason, when the machine lacks something: root
(network namespaces), or whatever the driver says it needs.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import secrets
import shutil
import socket
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator

import pytest

from barge import netns
from barge.engine.hookspecs import NetworkDriverHooks
from barge.engine.plugins import load_driver_plugin, make_plugin_manager, register_driver
from barge.errors import DriverNotSupported
from barge.netdriver import EndpointSpec, NetworkSpec, PortMapping, Published

SIOCGIFFLAGS, SIOCSIFFLAGS, SIOCGIFADDR, SIOCGIFNETMASK = 0x8913, 0x8914, 0x8915, 0x891B
SIOCGIFMTU, SIOCGIFHWADDR = 0x8921, 0x8927
IFF_UP = 0x1
SERVICE_PORT = 8000


# -- looking at interfaces, in whatever namespace the calling thread is in -----


@dataclass(frozen=True)
class Interface:
    name: str
    up: bool
    address: str | None
    prefixlen: int | None
    mac: str
    mtu: int


def _ifreq(sock: socket.socket, request: int, name: str) -> bytes:
    return fcntl.ioctl(sock, request, struct.pack("16s24s", name.encode(), b""))


def interface(name: str) -> Interface | None:
    """Link ``name`` of the current thread's namespace, or None (ioctls: no netlink library needed)."""
    with open("/proc/thread-self/net/dev") as fh:
        if name not in {line.split(":")[0].strip() for line in fh.readlines()[2:]}:
            return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack_from("H", _ifreq(s, SIOCGIFFLAGS, name), 16)[0]
        mtu = struct.unpack_from("i", _ifreq(s, SIOCGIFMTU, name), 16)[0]
        mac = ":".join(f"{b:02x}" for b in _ifreq(s, SIOCGIFHWADDR, name)[18:24])
        try:
            address = socket.inet_ntoa(_ifreq(s, SIOCGIFADDR, name)[20:24])
            mask = socket.inet_ntoa(_ifreq(s, SIOCGIFNETMASK, name)[20:24])
            prefixlen: int | None = ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
        except OSError:  # EADDRNOTAVAIL: no IPv4 address
            address, prefixlen = None, None
    return Interface(name, bool(flags & IFF_UP), address, prefixlen, mac, mtu)


def default_gateway() -> str | None:
    """The current thread's namespace's default route's gateway, or None."""
    with open("/proc/thread-self/net/route") as fh:
        for line in fh.readlines()[1:]:
            f = line.split()
            if f[1] == "00000000" and f[7] == "00000000":
                return str(ipaddress.IPv4Address(socket.ntohl(int(f[2], 16))))
    return None


def _lo_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack_from("H", _ifreq(s, SIOCGIFFLAGS, "lo"), 16)[0]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22s", b"lo", flags | IFF_UP, b""))


def _host_routes() -> list[ipaddress.IPv4Network]:
    nets = []
    with open("/proc/net/route") as fh:
        for line in fh.readlines()[1:]:
            f = line.split()
            dest, mask = int(f[1], 16), int(f[7], 16)
            if mask:  # the default route covers everything; only the others collide
                nets.append(ipaddress.IPv4Network((socket.ntohl(dest), bin(mask).count("1")), strict=False))
    return nets


def free_subnet() -> ipaddress.IPv4Network:
    """A random /24 in 10.250.0.0-10.255.255.0 that no host route covers."""
    taken = _host_routes()
    for _ in range(200):
        net = ipaddress.IPv4Network(f"10.{250 + secrets.randbelow(6)}.{secrets.randbelow(256)}.0/24")
        if not any(net.overlaps(t) for t in taken):
            return net
    pytest.skip("no free 10.25x.y.0/24 subnet for a test network")


# -- sandboxes and what runs in them -----------------------------------------------


@dataclass
class Sandbox:
    """A network namespace bound on a file, as core makes one per container."""

    path: str

    def interface(self, name: str) -> Interface | None:
        return netns.run_in(self.path, lambda: interface(name))

    def default_gateway(self) -> str | None:
        return netns.run_in(self.path, default_gateway)

    def socket(self) -> socket.socket:
        """A TCP socket that lives in this namespace (usable from any thread afterwards)."""
        return netns.run_in(self.path, lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))


class Server:
    """A TCP server in a sandbox: tells each client the address it came from, then closes."""

    def __init__(self, sandbox: Sandbox, ip: str, port: int = SERVICE_PORT):
        self.sock = sandbox.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(peer[0].encode())

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(2)


def connect(ip: str, port: int, sandbox: Sandbox | None = None, timeout: float = 2.0) -> str:
    """Connect from the host (or from ``sandbox``); return what the server said: the peer address it saw."""
    s = sandbox.socket() if sandbox else socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with s:
        s.settimeout(timeout)
        s.connect((ip, port))
        data = b""
        while chunk := s.recv(64):
            data += chunk
        return data.decode()


def unreachable(ip: str, port: int, sandbox: Sandbox | None = None) -> bool:
    try:
        connect(ip, port, sandbox, timeout=0.7)
    except OSError:  # refused, or timed out
        return True
    return False


# -- the driver under test -----------------------------------------------------------


@dataclass
class NetworkLab:
    """The registered driver and everything one test made with it, removed by :meth:`cleanup`."""

    #: makes a fresh driver instance and its plugin manager
    load: Callable[[], tuple[Any, Any]]
    tag: str
    root: Path
    pm: Any = None
    plugin: Any = None
    drivers: list[Any] = field(default_factory=list)
    networks: list[NetworkSpec] = field(default_factory=list)
    sandboxes: list[Sandbox] = field(default_factory=list)
    servers: list[Server] = field(default_factory=list)
    held: list[socket.socket] = field(default_factory=list)
    hosts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        """Drive the host through a fresh driver instance from now on, as a restarted daemon does."""
        self.pm, self.plugin = self.load()
        self.drivers.append(self.plugin.driver)

    def __getattr__(self, operation: str):
        """``lab.join(network=..., ...)`` calls hook ``barge_network_join``."""
        if operation.startswith("_"):
            raise AttributeError(operation)
        caller = getattr(self.pm.hook, f"barge_network_{operation}")
        return lambda **kw: caller(**kw)

    def network(self, mtu: int = 0) -> NetworkSpec:
        """A new network, created through the driver."""
        subnet = free_subnet()
        n = len(self.networks)
        net = NetworkSpec(id=secrets.token_hex(32), name=f"conformance-{self.tag}-{n}",
                          interface=f"bc{self.tag}n{n}", subnet=str(subnet),
                          gateway=str(subnet.network_address + 1), mtu=mtu)
        self.networks.append(net)
        self.create(network=net)
        return net

    def sandbox(self) -> Sandbox:
        sb = Sandbox(str(self.root / f"sb{len(self.sandboxes)}"))
        netns.create(sb.path)
        self.sandboxes.append(sb)
        netns.run_in(sb.path, _lo_up)  # core brings the loopback up before a driver joins
        return sb

    def endpoint(self, net: NetworkSpec, ifname: str = "eth0", gateway: bool = True) -> EndpointSpec:
        host = self.hosts.get(net.id, 1) + 1
        self.hosts[net.id] = host
        subnet = ipaddress.IPv4Network(net.subnet)
        address = subnet.network_address + host
        return EndpointSpec(id=secrets.token_hex(32), network_id=net.id, container_id=secrets.token_hex(32),
                            ifname=ifname, address=str(address), prefixlen=subnet.prefixlen,
                            mac="02:42:" + ":".join(f"{b:02x}" for b in address.packed),
                            gateway=net.gateway if gateway else "")

    def attach(self, net: NetworkSpec, **kw: Any) -> tuple[Sandbox, EndpointSpec]:
        """A new sandbox joined to ``net`` through the driver."""
        sb, ep = self.sandbox(), self.endpoint(net, **kw)
        self.join(network=net, endpoint=ep, sandbox=sb.path)
        return sb, ep

    def serve(self, sandbox: Sandbox, ip: str) -> Server:
        server = Server(sandbox, ip)
        self.servers.append(server)
        return server

    def port(self, ep: EndpointSpec) -> PortMapping:
        """A host port held bound (not listening), as core reserves one, mapped to the endpoint's service."""
        held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        held.bind(("0.0.0.0", 0))
        self.held.append(held)
        return PortMapping("tcp", "0.0.0.0", held.getsockname()[1], ep.address, SERVICE_PORT)

    def cleanup(self) -> None:
        for server in self.servers:
            server.close()
        for s in self.held:
            s.close()
        for net in self.networks:
            with contextlib.suppress(Exception):  # keep cleaning whatever the driver raises
                self.delete(network=net)
        for sb in self.sandboxes:
            netns.remove(sb.path)
        shutil.rmtree(self.root, ignore_errors=True)


class NetworkDriverConformance:
    """Subclass with ``driver_name`` to test a network driver (see the module's docstring)."""

    driver_name: ClassVar[str]

    def driver_options(self, tag: str) -> dict[str, Any]:
        """The driver's options for one test; ``tag`` (6 hex digits) is fresh per test, to name host objects."""
        return {}

    def release_driver(self, driver: Any) -> None:
        """Override to remove what the driver keeps on the host apart from networks (a firewall table)."""

    def load(self, home: Path, tag: str) -> tuple[Any, Any]:
        """A fresh driver instance and its own plugin manager: what a (re)started daemon makes."""
        try:
            plugin = load_driver_plugin("network", self.driver_name, home, self.driver_options(tag))
        except DriverNotSupported as exc:
            pytest.skip(f"{self.driver_name}: not supported here: {exc.reason}")
        pm = make_plugin_manager(load_extensions=False)
        register_driver(pm, plugin, "network", self.driver_name)
        return pm, plugin

    @pytest.fixture
    def lab(self, tmp_path: Path) -> Iterator[NetworkLab]:
        if os.geteuid() != 0:
            pytest.skip("needs root: network namespaces")
        tag = secrets.token_hex(3)
        lab = NetworkLab(lambda: self.load(tmp_path / self.driver_name, tag), tag,
                         Path(f"/run/barge-conformance-{tag}"))
        try:
            yield lab
        finally:
            lab.cleanup()
            for driver in lab.drivers:
                self.release_driver(driver)

    # -- the contract exists ---------------------------------------------------

    def test_every_network_hook_is_implemented(self, lab):
        names = [n for n in dir(NetworkDriverHooks) if n.startswith("barge_network_")]
        assert names
        for name in names:
            impls = getattr(lab.pm.hook, name).get_hookimpls()
            assert any(i.plugin is lab.plugin for i in impls), f"driver does not implement {name}"
        assert lab.plugin.driver.name == self.driver_name
        assert lab.plugin.driver.api_version == 1

    def test_status_names_the_firewall_backend(self, lab):
        status = lab.status()
        assert isinstance(status, list)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in status)
        assert "Firewall Backend" in dict(status)

    # -- networks --------------------------------------------------------------

    def test_create_is_idempotent_and_delete_removes(self, lab):
        net = lab.network()
        link = interface(net.interface)
        assert link is not None and link.up, f"no interface {net.interface} up on the host"
        assert (link.address, link.prefixlen) == (net.gateway, 24)
        lab.create(network=net)  # again: the interface is reused
        assert interface(net.interface) is not None
        lab.delete(network=net)
        assert interface(net.interface) is None
        lab.delete(network=net)  # nothing left is not an error

    # -- endpoints -------------------------------------------------------------

    def test_join_configures_the_sandbox(self, lab):
        net = lab.network(mtu=1400)
        sb, ep = lab.attach(net)
        link = sb.interface(ep.ifname)
        assert link is not None, f"no {ep.ifname} in the sandbox"
        assert link.up and (link.address, link.prefixlen) == (ep.address, ep.prefixlen)
        assert link.mac == ep.mac and link.mtu == 1400
        assert sb.default_gateway() == net.gateway
        assert sb.interface("lo") is not None

    def test_an_endpoint_without_gateway_adds_no_default_route(self, lab):
        first, second = lab.network(), lab.network()
        sb = lab.sandbox()
        main, extra = lab.endpoint(first), lab.endpoint(second, ifname="eth1", gateway=False)
        lab.join(network=first, endpoint=main, sandbox=sb.path)
        lab.join(network=second, endpoint=extra, sandbox=sb.path)
        assert sb.interface("eth1").address == extra.address
        assert sb.default_gateway() == first.gateway

    def test_leave_with_the_sandbox_removes_its_interface(self, lab):
        net = lab.network()
        sb, ep = lab.attach(net)
        lab.leave(network=net, endpoint=ep, sandbox=sb.path)
        assert sb.interface(ep.ifname) is None
        assert sb.interface("lo") is not None

    def test_leave_without_the_sandbox_then_destroy_it(self, lab):
        net = lab.network()
        sb, ep = lab.attach(net)
        lab.leave(network=net, endpoint=ep, sandbox=None)
        netns.remove(sb.path)
        lab.delete(network=net)
        assert interface(net.interface) is None

    def test_sandboxes_on_one_network_reach_each_other(self, lab):
        net = lab.network()
        (a, ea), (b, eb) = lab.attach(net), lab.attach(net)
        lab.serve(a, ea.address)
        assert connect(ea.address, SERVICE_PORT, b) == eb.address

    # -- published ports ----------------------------------------------------------

    def test_publish_forwards_a_host_port_and_unpublish_stops(self, lab):
        net = lab.network()
        sb, ep = lab.attach(net)
        lab.serve(sb, ep.address)
        m = lab.port(ep)
        lab.publish(network=net, endpoint=ep, ports=[m])
        assert connect(net.gateway, m.host_port)
        lab.unpublish(network=net, endpoint=ep, ports=[m])
        assert unreachable(net.gateway, m.host_port)
        lab.unpublish(network=net, endpoint=ep, ports=[m])  # rules already gone are not an error

    # -- restore -----------------------------------------------------------------

    def test_restore_on_a_fresh_driver_keeps_exactly_what_it_is_given(self, lab):
        net = lab.network()
        sb, ep = lab.attach(net)
        lab.serve(sb, ep.address)
        kept, dropped = lab.port(ep), lab.port(ep)
        lab.publish(network=net, endpoint=ep, ports=[kept, dropped])
        assert connect(net.gateway, dropped.host_port)
        lab.restart()
        lab.restore(networks=[net], published=[Published(net, ep, (kept,))])
        link = interface(net.interface)
        assert link is not None and link.up and link.address == net.gateway
        assert connect(net.gateway, kept.host_port)
        assert unreachable(net.gateway, dropped.host_port)
        assert sb.interface(ep.ifname).address == ep.address  # the sandbox is untouched
