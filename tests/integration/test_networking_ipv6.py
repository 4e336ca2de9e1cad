"""Issue 12 point 6's networks, with real containers on real bridges: dual-stack
networks (ping6 between containers, AAAA from the embedded DNS, /etc/hosts),
auxiliary addresses never handed out, ``--ip6`` and ``--link-local-ip`` on
the container's interface, a port published on ``::1`` reached from the
host over loopback (the userland proxy), the bridge driver's options on the
link and in the nft table, and dockerd's refusals through the API.

Traffic goes only to ::1/127.0.0.1 and to the containers made here. IPv6
subnets are unique-local ``fdb8:<tag>:<n>::/64`` (the host's own fd00::/64
is left alone); bridges are ``bt<tag>...`` as in test_networking.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
import uuid

import pytest

from tests.conftest import make_busybox, network_tag, require_exec_driver
from tests.integration.helpers import busybox_daemon, inspect
from tests.integration.test_networking import (
    SLEEP,
    Lab,
    free_subnet,
    host_get,
    host_wait_get,
    link_names,
    sh,
)
from tests.net_helpers import serve

pytestmark = pytest.mark.daemon

TAG = format(int(uuid.uuid4().hex[:4], 16) | 0x1000, "x")  # no leading zero: addresses read back canonical


def _ipv6_on_host() -> None:
    with open("/proc/sys/net/ipv6/conf/all/disable_ipv6") as fh:
        if fh.read().strip() != "0":
            pytest.skip("IPv6 is disabled on this host (net.ipv6.conf.all.disable_ipv6 = 1)")


@pytest.fixture
def lab(box):
    _ipv6_on_host()
    made = Lab(box)
    yield made
    made.close()


def subnet6(n: int) -> str:
    return f"fdb8:{TAG}:{n}::/64"


def nft(d) -> str:
    return subprocess.run(["nft", "list", "table", "inet", f"barge_test_{network_tag(d.root)}"],
                          capture_output=True, text=True).stdout


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True).stdout


def port_free6(port: int) -> bool:
    """Nothing holds ``[::1]:port`` (SO_REUSEADDR: the proxied connection's TIME_WAIT does not count)."""
    with socket.socket(socket.AF_INET6) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("::1", port))
            return True
        except OSError:
            return False


def endpoint(ipv4: str = "", ipv6: str = "", link_local: list[str] | None = None) -> dict:
    cfg: dict = {}
    if ipv4:
        cfg["IPv4Address"] = ipv4
    if ipv6:
        cfg["IPv6Address"] = ipv6
    if link_local:
        cfg["LinkLocalIPs"] = link_local
    return {"IPAMConfig": cfg}


def test_dual_stack_ping6_dns_hosts_aux_and_link_local(box, lab):
    v4 = free_subnet(box)
    hosts = list(v4.hosts())
    six = ipaddress.ip_network(subnet6(1))
    net = lab.net(EnableIPv6=True, IPAM={"Config": [
        {"Subnet": str(v4), "AuxiliaryAddresses": {"r1": str(hosts[1]), "r2": str(hosts[2])}},
        {"Subnet": str(six), "AuxiliaryAddresses": {"r3": str(six[2])}}]})
    assert net["EnableIPv6"] is True
    assert net["IPAM"]["Config"][1] == {"Subnet": str(six), "AuxiliaryAddresses": {"r3": str(six[2])}}
    bridge = net["Options"]["com.docker.network.bridge.name"]
    assert f"inet6 {six[1]}/64" in ip("-6", "addr", "show", "dev", bridge)

    name = net["Name"]
    a = lab.run(SLEEP, name=f"a{TAG}", network=name)
    settings = inspect(box, a)["NetworkSettings"]["Networks"][name]
    # the aux addresses (.2, .3 and ::2) are skipped: the first free ones are .4 and ::3
    assert (settings["IPAddress"], settings["GlobalIPv6Address"]) == (str(hosts[3]), str(six[3]))
    assert (settings["GlobalIPv6PrefixLen"], settings["IPv6Gateway"]) == (64, str(six[1]))

    fixed = str(six[0x42])
    status, _, data = box.request("POST", "/v1.47/containers/create?name=" + f"c{TAG}", {
        "Image": "busybox", "Cmd": SLEEP, "HostConfig": {"NetworkMode": name},
        "NetworkingConfig": {"EndpointsConfig": {name: endpoint(ipv6=fixed,
                                                                link_local=["169.254.7.7", "fe80::77"])}}})
    assert status == 201, data
    c = json.loads(data)["Id"]
    lab.containers.append(c)
    status, _, data = box.request("POST", f"/containers/{c}/start")
    assert status == 204, data
    view = inspect(box, c)["NetworkSettings"]["Networks"][name]
    assert view["GlobalIPv6Address"] == fixed
    assert view["IPAMConfig"] == {"IPv6Address": fixed, "LinkLocalIPs": ["169.254.7.7", "fe80::77"]}
    code, out = sh(box, c, "ip addr show eth0")
    assert code == 0, out
    for line in (f"inet6 {fixed}/64", "inet 169.254.7.7/16", "inet6 fe80::77/64"):
        assert line in out, out
    code, out = sh(box, c, "ip -6 route")
    assert f"default via {six[1]} dev eth0" in out, out

    # ping6 by name: the embedded DNS answers AAAA with a's IPv6 address
    code, out = sh(box, c, f"ping -6 -c1 -W2 a{TAG}")
    assert code == 0 and f"({six[3]})" in out, out
    code, out = sh(box, c, f"nslookup -type=aaaa a{TAG} 127.0.0.11")
    assert code == 0 and str(six[3]) in out, out
    code, out = sh(box, a, f"nslookup {fixed} 127.0.0.11")  # PTR over ip6.arpa
    assert code == 0 and f"c{TAG}.{name}" in out, out
    code, out = sh(box, c, "cat /etc/hosts")
    hostname = c[:12]
    assert f"{fixed}\t{hostname}\n" in out and f"{view['IPAddress']}\t{hostname}\n" in out, out
    # the host reaches the container over IPv6 through the bridge's gateway address
    ping = subprocess.run(["/bin/busybox", "ping", "-6", "-c1", "-W2", fixed], capture_output=True, text=True)
    assert ping.returncode == 0, ping.stdout + ping.stderr


def test_port_published_on_ipv6_loopback(box, lab):
    for n, body in enumerate(({}, {"EnableIPv6": True, "IPAM": {"Config": [{"Subnet": str(free_subnet(box))},
                                                                          {"Subnet": subnet6(2)}]}})):
        net = lab.net(**body)
        web = lab.run(serve(f"hello{n}"), name=f"w{n}{TAG}", network=net["Name"], ExposedPorts={"80/tcp": {}},
                      host={"PortBindings": {"80/tcp": [{"HostIp": "::1", "HostPort": ""}, {"HostIp": "::"}]}})
        ports = inspect(box, web)["NetworkSettings"]["Ports"]
        assert [b["HostIp"] for b in ports["80/tcp"]] == ["::1", "::"], ports
        port, every = (int(b["HostPort"]) for b in ports["80/tcp"])
        host_wait_get(f"http://[::1]:{port}/", f"hello{n}")
        host_wait_get(f"http://[::1]:{every}/", f"hello{n}")  # [::]: every IPv6 address, ::1 included
        assert "::1" not in nft(box)  # no IPv6 NAT: the proxy serves it
        box.request("DELETE", f"/containers/{web}?force=1")
        lab.containers.remove(web)
        assert port_free6(port) and port_free6(every)
        with pytest.raises(OSError):
            host_get(f"http://[::1]:{port}/", timeout=2)


def test_bridge_options_on_the_link_and_in_nft(box, lab):
    v4 = free_subnet(box)
    net = lab.net(IPAM={"Config": [{"Subnet": str(v4)}]}, Options={
        "com.docker.network.driver.mtu": "1400", "com.docker.network.bridge.enable_icc": "false",
        "com.docker.network.bridge.enable_ip_masquerade": "false", "com.docker.network.bridge.unknown": "kept"})
    bridge = net["Options"]["com.docker.network.bridge.name"]
    assert net["Options"]["com.docker.network.bridge.unknown"] == "kept"
    assert " mtu 1400 " in ip("link", "show", bridge)
    table = nft(box)
    assert f'iifname "{bridge}" oifname "{bridge}" drop' in table  # enable_icc=false
    assert f"ip saddr {v4} masquerade" not in table.replace("ct status dnat masquerade", "")  # no masquerade
    a = lab.run(SLEEP, name=f"m{TAG}", network=net["Name"])
    code, out = sh(box, a, "ip link show eth0")
    assert " mtu 1400 " in out, out

    inhibit = lab.net(Options={"com.docker.network.bridge.inhibit_ipv4": "true"})
    bridge2 = inhibit["Options"]["com.docker.network.bridge.name"]
    assert bridge2 in link_names() and "inet " not in ip("addr", "show", "dev", bridge2)


@pytest.mark.parametrize("body, status, message", [  # dockerd 20.10.24's answers (its 500s are barge's 400s)
    ({"IPAM": {"Config": [{"Subnet": "10.254.77.0/24", "AuxiliaryAddresses": {"a": "10.254.78.5"}}]}}, 403,
     "auxiliary address: (a:10.254.78.5) must belong to the master pool: 10.254.77.0/24"),
    ({"IPAM": {"Config": [{"Subnet": "10.254.77.0/24"}, {"Subnet": "10.254.79.0/24"}]}}, 403,
     "bridge driver doesn't support multiple subnets"),
    ({"EnableIPv6": True}, 404,
     "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network"),
    ({"IPAM": {"Config": [{"Subnet": "10.254.77.0/24", "Gateway": "10.254.78.1"}]}}, 400,
     "failed to allocate gateway (10.254.78.1): Requested address is out of range"),
    ({"Options": {"com.docker.network.bridge.enable_icc": "maybe"}}, 400,
     'failed to parse com.docker.network.bridge.enable_icc value: maybe (strconv.ParseBool: parsing "maybe": '
     'invalid syntax)'),
])
def test_refusals_as_dockerd(box, body, status, message):
    got, _, data = box.request("POST", "/v1.41/networks/create", dict(body, Name=f"bad{TAG}"))
    assert (got, json.loads(data)) == (status, {"message": message})


def test_duplicate_names_are_refused_whatever_check_duplicate_says(box, lab):
    net = lab.net()
    for check in (True, False):
        got, _, data = box.request("POST", "/v1.41/networks/create", {"Name": net["Name"], "CheckDuplicate": check})
        assert (got, json.loads(data)) == (409, {"message": f"network with name {net['Name']} already exists"})


def test_default_bridge_with_ipv6_and_fixed_cidr_v6():
    _ipv6_on_host()
    six = ipaddress.ip_network(f"fdb8:{TAG}:ff::/64")
    # a [network] table of its own takes on what tests/conftest.py gives other daemons: bridge, table, resolver
    bridge_name, table = f"bt6{TAG}", f"barge_test_v6{TAG}"
    config = (f'[network]\nipv6 = true\nfixed_cidr_v6 = "{six}"\nbridge = "{bridge_name}"\n'
              f'bip = "10.252.{int(TAG, 16) % 256}.1/24"\ndns = ["127.0.0.1"]\n'
              'default_address_pools = [{base = "10.253.0.0/16", size = 24}]\n'
              f'[network.options.bridge]\ntable = "{table}"\n')
    try:
        _default_bridge_v6(config, six)
    finally:
        subprocess.run(["ip", "link", "del", bridge_name], capture_output=True)
        subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)


def _default_bridge_v6(config: str, six: ipaddress.IPv6Network) -> None:
    with busybox_daemon("barge-v6bridge-", config) as d:
        bridge = d.json("GET", "/networks/bridge")
        assert bridge["EnableIPv6"] is True
        assert {"Subnet": str(six), "Gateway": str(six[1])} in bridge["IPAM"]["Config"]
        lab = Lab(d)
        try:
            web = lab.run(serve("bridge6"), name=f"d{TAG}", ExposedPorts={"80/tcp": {}},
                          host={"PortBindings": {"80/tcp": [{"HostIp": "::1"}]}})
            settings = inspect(d, web)["NetworkSettings"]
            # the default bridge's legacy top-level fields carry IPv6 too
            assert (settings["GlobalIPv6Address"], settings["GlobalIPv6PrefixLen"], settings["IPv6Gateway"]) == (
                str(six[2]), 64, str(six[1]))
            assert settings["Networks"]["bridge"]["GlobalIPv6Address"] == str(six[2])
            code, out = sh(d, web, f"cat /etc/hosts; ping -6 -c1 -W2 {six[1]}")
            assert code == 0 and f"{six[2]}\t{web[:12]}\n" in out, out
            port = settings["Ports"]["80/tcp"][0]["HostPort"]
            host_wait_get(f"http://[::1]:{port}/", "bridge6")
        finally:
            lab.close()


def test_ipv6_survives_a_daemon_sigkill(daemon_factory):
    _ipv6_on_host()
    require_exec_driver()
    d = daemon_factory()
    make_busybox(d)
    lab = Lab(d)
    try:
        six = ipaddress.ip_network(subnet6(3))
        net = lab.net(EnableIPv6=True, IPAM={"Config": [{"Subnet": str(free_subnet(d))}, {"Subnet": str(six)}]})
        bridge = net["Options"]["com.docker.network.bridge.name"]
        web = lab.run(serve("after"), name=f"k{TAG}", network=net["Name"], ExposedPorts={"80/tcp": {}},
                      host={"PortBindings": {"80/tcp": [{"HostIp": "::1"}]}})
        port = int(inspect(d, web)["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
        host_wait_get(f"http://[::1]:{port}/", "after")
        d.kill()
        d.start()
        assert inspect(d, web)["NetworkSettings"]["Networks"][net["Name"]]["GlobalIPv6Address"] == str(six[2])
        assert f"inet6 {six[1]}/64" in ip("-6", "addr", "show", "dev", bridge)
        host_wait_get(f"http://[::1]:{port}/", "after")  # the proxy serves the held port again
        d.request("DELETE", f"/containers/{web}?force=1")
        lab.containers.remove(web)
        assert port_free6(port)
    finally:
        lab.close()
