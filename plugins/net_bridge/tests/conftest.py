"""A lab for the bridge driver's tests: real bridges, namespaces and an nftables table, all removed afterwards.

Names are recognisable and random per test: bridges and host veths
``bt<hex>``, namespaces under ``/run/bt-<hex>/``, the table
``barge_test_<hex>``, subnets in 10.250.0.0/15-10.255.255.0/24 that no host
route covers. Traffic goes only to those namespaces, the bridges' own
addresses and 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import shutil
import socket
from typing import Iterator

import pytest

from barge import errors, netns
from barge.netdriver import EndpointSpec, NetworkSpec, PortMapping
from barge.testing.network_conformance import Server, connect, free_subnet

IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"


def _lo_up() -> None:
    from pyroute2 import IPRoute

    ipr = IPRoute()
    try:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
    finally:
        ipr.close()


class Sandbox:
    """A network namespace bound on a file, as core makes one per container."""

    def __init__(self, path: str):
        self.path = path
        netns.create(path)
        netns.run_in(path, _lo_up)

    def read(self, proc: str) -> str:
        """A file of this namespace's /proc/net (``route``, ``dev``...)."""
        return netns.run_in(self.path, lambda: open(f"/proc/thread-self/net/{proc}").read())

    def socket(self, kind: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket that lives in this namespace (usable from any thread afterwards)."""
        return netns.run_in(self.path, lambda: socket.socket(socket.AF_INET, kind))

    def links(self) -> dict[str, dict]:
        """Inside the namespace: name -> {mac, mtu, up, addresses}."""

        def inside() -> dict[str, dict]:
            from pyroute2 import IPRoute

            ipr = IPRoute()
            try:
                out = {}
                for link in ipr.get_links():
                    idx = link["index"]
                    out[link.get("IFLA_IFNAME")] = {
                        "mac": link.get("IFLA_ADDRESS"),
                        "mtu": link.get("IFLA_MTU"),
                        "up": bool(link["flags"] & 1),
                        "addresses": [f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}"
                                      for a in ipr.get_addr(index=idx, family=socket.AF_INET)],
                    }
                return out
            finally:
                ipr.close()

        return netns.run_in(self.path, inside)

    def default_gateway(self) -> str | None:
        for line in self.read("route").splitlines()[1:]:
            f = line.split()
            if f[1] == "00000000":
                return str(ipaddress.IPv4Address(socket.ntohl(int(f[2], 16))))
        return None


def reserve_port() -> socket.socket:
    """Hold a host port bound (not listening), as core does before publishing it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("0.0.0.0", 0))
    return s


class Lab:
    """Everything one test made: the driver, its networks, sandboxes; removed by :meth:`cleanup`."""

    def __init__(self, home: str):
        from barge_net_bridge.driver import BridgeDriver

        self.tag = secrets.token_hex(3)
        self.table = f"barge_test_{self.tag}"
        self.options = {"table": self.table, "veth_prefix": "bt"}
        try:
            self.driver = BridgeDriver(home, self.options)
        except errors.DriverNotSupported as exc:
            pytest.skip(str(exc))
        self.networks: list[NetworkSpec] = []
        self.sandboxes: list[Sandbox] = []
        self.servers: list[Server] = []
        self.held: list[socket.socket] = []
        self.root = f"/run/bt-{self.tag}"
        self._hosts: dict[str, int] = {}

    def network(self, internal: bool = False, icc: bool = True, mtu: int = 0) -> NetworkSpec:
        subnet = free_subnet()
        nid = secrets.token_hex(32)
        net = NetworkSpec(id=nid, name=f"bt-net-{len(self.networks)}", interface=f"bt{self.tag}n{len(self.networks)}",
                          subnet=str(subnet), gateway=str(subnet.network_address + 1), internal=internal, icc=icc,
                          mtu=mtu)
        self.networks.append(net)
        self.driver.create(net)
        return net

    def sandbox(self) -> Sandbox:
        sb = Sandbox(f"{self.root}/sb{len(self.sandboxes)}")
        self.sandboxes.append(sb)
        return sb

    def endpoint(self, net: NetworkSpec, ifname: str = "eth0", gateway: bool = True) -> EndpointSpec:
        host = self._hosts.get(net.id, 1) + 1
        self._hosts[net.id] = host
        subnet = ipaddress.IPv4Network(net.subnet)
        addr = subnet.network_address + host
        mac = "02:42:" + ":".join(f"{b:02x}" for b in addr.packed)
        return EndpointSpec(id=secrets.token_hex(32), network_id=net.id, container_id=secrets.token_hex(32),
                            ifname=ifname, address=str(addr), prefixlen=subnet.prefixlen, mac=mac,
                            gateway=net.gateway if gateway and not net.internal else "")

    def attach(self, net: NetworkSpec, **kw) -> tuple[Sandbox, EndpointSpec]:
        sb, ep = self.sandbox(), self.endpoint(net, **kw)
        self.driver.join(net, ep, sb.path)
        return sb, ep

    def serve(self, sandbox: Sandbox, ip: str, port: int = 8000) -> Server:
        srv = Server(sandbox, ip, port)
        self.servers.append(srv)
        return srv

    def publish(self, net: NetworkSpec, ep: EndpointSpec, container_port: int = 8000,
                host_ip: str = "0.0.0.0") -> PortMapping:
        held = reserve_port()
        self.held.append(held)
        m = PortMapping("tcp", host_ip, held.getsockname()[1], ep.address, container_port)
        self.driver.publish(net, ep, [m])
        return m

    connect = staticmethod(connect)

    def cleanup(self) -> None:
        from barge_net_bridge import links

        for srv in self.servers:
            srv.close()
        for s in self.held:
            s.close()
        for net in self.networks:
            with contextlib.suppress(Exception):
                self.driver.delete(net)
            links.delete_link(net.interface)
        for sb in self.sandboxes:
            netns.remove(sb.path)
        shutil.rmtree(self.root, ignore_errors=True)
        self.driver.firewall.remove()


@pytest.fixture(scope="session")
def host_switches() -> Iterator[None]:
    """ip_forward as it was before the tests, put back when no other barge table needs it."""
    before = open(IP_FORWARD).read().strip() if os.path.exists(IP_FORWARD) else None
    yield
    if before != "0":
        return
    from barge_net_bridge.nft import Nft

    tables = Nft().run("list tables")  # barge tables of both families (inet now, ip before)
    others = [line for line in tables.splitlines() if "barge" in line and "barge_test_" not in line]
    if not others:
        with open(IP_FORWARD, "w") as fh:
            fh.write("0")


@pytest.fixture
def lab(tmp_path, host_switches) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root: bridges, namespaces and nftables")
    lab = Lab(str(tmp_path))
    try:
        yield lab
    finally:
        lab.cleanup()
