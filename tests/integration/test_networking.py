"""Issue 4's acceptance, with real containers on real bridges: name and
alias resolution over the embedded DNS, published ports from the host and
through the host (hairpin), isolation between networks, ``--internal``,
``icc`` off, connect/disconnect of a running container, the files Docker
writes (/etc/hosts, /etc/hostname, /etc/resolv.conf), nothing left behind
after ``rm``, ``network rm`` and a SIGKILL of the daemon, and bad input.

Traffic goes only to 127.0.0.1, to the test daemon's bridge gateways and to
containers. Every bridge made here is named ``bt<tag>...``; the daemons'
default bridges and nft tables are the conftest's ``bt<hash>`` and
``barge_test_<hash>``. Subnets come from the daemon's own address pool. A
dropped packet costs a ``timeout 2`` in the container, so the failing
probes are few.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest

from barge.network.ipam import host_routes
from barge.testing.wait import WaitTimeout, wait_for
from tests import net_helpers
from tests.conftest import Daemon, make_busybox, network_tag, require_exec_driver
from tests.integration.helpers import UPGRADE, Raw, create, frames, inspect, rm
from tests.net_helpers import serve

pytestmark = pytest.mark.daemon

TAG = uuid.uuid4().hex[:4]
#: urllib without the environment's proxies: the host's requests go straight to 127.0.0.1 / the gateway
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def sh(d: Daemon, cid: str, script: str) -> tuple[int, str]:
    """``sh -c script`` in container ``cid`` (exec over the API): (exit code, stdout+stderr)."""
    status, _, data = d.request("POST", f"/v1.47/containers/{cid}/exec",
                                {"Cmd": ["sh", "-c", script], "AttachStdout": True, "AttachStderr": True})
    assert status == 201, data
    eid = json.loads(data)["Id"]
    r = Raw(d, "POST", f"/v1.47/exec/{eid}/start", dict(UPGRADE, **{"Content-Type": "application/json"}),
            json.dumps({"Detach": False, "Tty": False}).encode())
    try:
        out = b"".join(p for _, p in frames(r.read_all()))
    finally:
        r.close()
    code = d.json("GET", f"/exec/{eid}/json")["ExitCode"]
    return code, out.decode(errors="replace")


def fetch(d: Daemon, cid: str, url: str, timeout: int = 2) -> tuple[int, str]:
    """``wget`` from inside a container (busybox's ``-T`` crashes on this build: the ``timeout`` applet bounds it)."""
    return sh(d, cid, f"timeout {timeout} wget -qO- {url}")


def wait_fetch(d: Daemon, cid: str, url: str, expect: str, tries: int = 60) -> None:
    """Poll ``url`` from ``cid`` until it answers ``expect`` (a server just started)."""
    script = (f"i=0; while [ $i -lt {tries} ]; do out=$(timeout 2 wget -qO- {url}) && "
              f"[ \"$out\" = {expect!r} ] && echo \"$out\" && exit 0; i=$((i+1)); sleep 0.1; done; exit 1")
    code, out = sh(d, cid, script)
    assert code == 0 and out == expect + "\n", f"{url} from {cid[:12]}: {code} {out!r}"


def host_get(url: str, timeout: float = 5) -> str:
    with OPENER.open(url, timeout=timeout) as resp:
        return resp.read().decode()


def host_wait_get(url: str, expect: str, timeout: float = 10) -> None:
    wait_for(lambda: host_get(url, timeout=2) == expect + "\n", timeout, interval=0.1, ignore=(OSError,),
             what=f"{url} to answer {expect!r} to the host")


SLEEP = ["sleep", "600"]


def ip_of(d: Daemon, cid: str, network: str) -> str:
    return inspect(d, cid)["NetworkSettings"]["Networks"][network]["IPAddress"]


def links() -> str:
    return subprocess.run(["ip", "-br", "link"], capture_output=True, text=True, check=True).stdout


def link_names() -> set[str]:
    return {line.split()[0].partition("@")[0] for line in links().splitlines() if line.strip()}


def bridge_ports(bridge: str) -> set[str]:
    out = subprocess.run(["ip", "-br", "link", "show", "master", bridge], capture_output=True, text=True).stdout
    return {line.split()[0].partition("@")[0] for line in out.splitlines() if line.strip()}


def nft_table(d: Daemon) -> str:
    proc = subprocess.run(["nft", "list", "table", "inet", f"barge_test_{network_tag(d.root)}"],
                          capture_output=True, text=True)
    return proc.stdout


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def default_bridge(d: Daemon) -> dict:
    return d.json("GET", "/networks/bridge")


def free_subnet(d: Daemon) -> ipaddress.IPv4Network:
    return net_helpers.free_subnet(d.json("GET", "/networks"), TAG)


class Lab:
    """Networks and containers of one test, removed at its end (containers first)."""

    def __init__(self, d: Daemon):
        self.d = d
        self.networks: list[str] = []
        self.containers: list[str] = []

    def net(self, expect: int = 201, **body) -> dict:
        name = f"n{TAG}{len(self.networks)}"
        body.setdefault("Options", {})
        body["Options"].setdefault("com.docker.network.bridge.name", f"bt{TAG}n{len(self.networks)}")
        status, _, data = self.d.request("POST", "/v1.47/networks/create", dict(body, Name=name))
        assert status == expect, data
        self.networks.append(name)
        return self.d.json("GET", f"/networks/{name}")

    def create(self, cmd: list[str], name: str | None = None, network: str | None = None,
               aliases: list[str] | None = None, ip: str = "", mac: str = "", expect: int = 201,
               host: dict | None = None, **body):
        host = dict(host or {})
        if network:
            host["NetworkMode"] = network
            endpoint: dict = {}
            if aliases:
                endpoint["Aliases"] = aliases
            if ip:
                endpoint["IPAMConfig"] = {"IPv4Address": ip}
            if mac:
                endpoint["MacAddress"] = mac  # where API 1.44+ carries --mac-address
            body["NetworkingConfig"] = {"EndpointsConfig": {network: endpoint}}
        out = create(self.d, name, expect=expect, Cmd=cmd, HostConfig=host, **body)
        if expect == 201:
            self.containers.append(out)
        return out

    def run(self, cmd: list[str], **kw) -> str:
        cid = self.create(cmd, **kw)
        status, _, data = self.d.request("POST", f"/containers/{cid}/start")
        assert status == 204, data
        return cid

    def close(self) -> None:
        for cid in reversed(self.containers):
            rm(self.d, cid)
        for name in reversed(self.networks):
            self.d.request("DELETE", f"/networks/{name}")


@pytest.fixture
def lab(box):
    made = Lab(box)
    yield made
    made.close()


# ---------------------------------------------------------------------------
# names, aliases, DNS
# ---------------------------------------------------------------------------


def test_user_network_talks_by_name_and_alias(box, lab):
    net = lab.net()
    web = lab.run(serve("hello-web"), name=f"web{TAG}", network=net["Name"], aliases=["www", "front.end"])
    cli = lab.run(SLEEP, name=f"cli{TAG}", network=net["Name"])
    web_ip = ip_of(box, web, net["Name"])
    assert ipaddress.ip_address(web_ip) in ipaddress.ip_network(net["IPAM"]["Config"][0]["Subnet"])

    wait_fetch(box, cli, f"http://web{TAG}/", "hello-web")
    for name in ("www", "front.end", f"web{TAG}.{net['Name']}", web[:12]):
        assert fetch(box, cli, f"http://{name}/") == (0, "hello-web\n"), name

    code, out = sh(box, cli, f"nslookup web{TAG} 127.0.0.11")
    assert code == 0 and web_ip in out, out
    code, out = sh(box, cli, "nslookup www")  # through resolv.conf
    assert code == 0 and web_ip in out, out
    code, out = sh(box, cli, f"nslookup nosuch{TAG} 127.0.0.11")
    assert code != 0 and web_ip not in out
    code, out = sh(box, cli, "cat /etc/resolv.conf")
    assert out.splitlines()[0] == "nameserver 127.0.0.11" and "options ndots:0" in out, out
    # the embedded server is in the container's namespace, not on the host
    assert subprocess.run(["ss", "-Hlun", "src", "127.0.0.11"], capture_output=True, text=True).stdout == ""

    info = box.json("GET", f"/networks/{net['Id']}")["Containers"]
    assert {v["Name"] for v in info.values()} == {f"web{TAG}", f"cli{TAG}"}
    endpoint = inspect(box, web)["NetworkSettings"]["Networks"][net["Name"]]
    assert set(endpoint["Aliases"]) >= {"www", "front.end"} and f"web{TAG}" in endpoint["DNSNames"]


def test_default_bridge_does_not_resolve_names(box, lab):
    web = lab.run(serve("plain"), name=f"bweb{TAG}")
    cli = lab.run(SLEEP, name=f"bcli{TAG}")
    ip = inspect(box, web)["NetworkSettings"]["IPAddress"]
    wait_fetch(box, cli, f"http://{ip}/", "plain")  # control: by address it works (icc is on)
    code, out = fetch(box, cli, f"http://bweb{TAG}/")
    assert code != 0 and "plain" not in out
    code, out = sh(box, cli, f"nslookup bweb{TAG}")
    assert code != 0 and ip not in out
    code, out = sh(box, cli, "cat /etc/resolv.conf")
    assert "127.0.0.11" not in out


# ---------------------------------------------------------------------------
# published ports
# ---------------------------------------------------------------------------


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def test_published_ports_host_gateway_and_hairpin(box, lab):
    gateway = default_bridge(box)["IPAM"]["Config"][0]["Gateway"]
    fixed = _free_port(gateway)
    web = lab.run(serve("published"), name=f"pub{TAG}", ExposedPorts={"80/tcp": {}}, host={"PortBindings": {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}, {"HostIp": gateway, "HostPort": str(fixed)}]}})
    ports = inspect(box, web)["NetworkSettings"]["Ports"]
    assert list(ports) == ["80/tcp"] and len(ports["80/tcp"]) == 2
    loop, on_gw = ports["80/tcp"]
    assert loop["HostIp"] == "127.0.0.1" and on_gw == {"HostIp": gateway, "HostPort": str(fixed)}
    lo, hi = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    assert lo <= int(loop["HostPort"]) <= hi

    host_wait_get(f"http://127.0.0.1:{loop['HostPort']}/", "published")
    assert host_get(f"http://{gateway}:{fixed}/") == "published\n"
    # held by the daemon: nobody else binds them
    assert not port_free(int(loop["HostPort"])) and not port_free(fixed, gateway)

    other = lab.run(SLEEP, name=f"hair{TAG}")
    assert fetch(box, other, f"http://{gateway}:{fixed}/") == (0, "published\n")  # through the host
    assert fetch(box, web, f"http://{gateway}:{fixed}/") == (0, "published\n")  # back to itself (hairpin)

    summary = [c for c in box.json("GET", "/containers/json") if c["Id"] == web][0]["Ports"]
    assert sorted((p.get("IP"), p["PrivatePort"], p.get("PublicPort"), p["Type"]) for p in summary) == sorted(
        [("127.0.0.1", 80, int(loop["HostPort"]), "tcp"), (gateway, 80, fixed, "tcp")])


def test_publish_all_takes_random_ports_from_the_local_range(box, lab):
    web = lab.run(serve("all"), name=f"all{TAG}", ExposedPorts={"80/tcp": {}, "81/udp": {}},
                  host={"PublishAllPorts": True})
    ports = inspect(box, web)["NetworkSettings"]["Ports"]
    assert set(ports) == {"80/tcp", "81/udp"}
    lo, hi = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    for bindings in ports.values():
        assert len(bindings) == 1 and bindings[0]["HostIp"] == "0.0.0.0", bindings
        assert lo <= int(bindings[0]["HostPort"]) <= hi
    host_wait_get(f"http://127.0.0.1:{ports['80/tcp'][0]['HostPort']}/", "all")


# ---------------------------------------------------------------------------
# isolation, internal, icc
# ---------------------------------------------------------------------------


def test_two_networks_cannot_reach_each_other(box, lab):
    a, b = lab.net(), lab.net()
    a_srv = lab.run(serve("in-a"), name=f"asrv{TAG}", network=a["Name"])
    a_cli = lab.run(SLEEP, name=f"acli{TAG}", network=a["Name"])
    b_srv = lab.run(serve("in-b"), name=f"bsrv{TAG}", network=b["Name"])
    b_cli = lab.run(SLEEP, name=f"bcli{TAG}", network=b["Name"])
    a_ip, b_ip = ip_of(box, a_srv, a["Name"]), ip_of(box, b_srv, b["Name"])
    wait_fetch(box, a_cli, f"http://{a_ip}/", "in-a")  # controls: each reaches its own peer
    wait_fetch(box, b_cli, f"http://{b_ip}/", "in-b")
    assert fetch(box, a_cli, f"http://{b_ip}/")[0] != 0
    assert fetch(box, b_cli, f"http://{a_ip}/")[0] != 0
    code, out = sh(box, a_cli, f"nslookup bsrv{TAG} 127.0.0.11")  # other networks' names are not known
    assert b_ip not in out


def test_internal_network_has_no_route_out(box, lab):
    inside = lab.net(Internal=True)
    assert inside["Internal"] is True
    outside = lab.net()
    lab.run(serve("inside"), name=f"isrv{TAG}", network=inside["Name"])
    cli = lab.run(SLEEP, name=f"icli{TAG}", network=inside["Name"])
    far = lab.run(serve("outside"), name=f"osrv{TAG}", network=outside["Name"])
    far_cli = lab.run(SLEEP, name=f"ocli{TAG}", network=outside["Name"])
    far_ip = ip_of(box, far, outside["Name"])

    code, routes = sh(box, cli, "ip route")
    assert code == 0 and "default" not in routes and inside["IPAM"]["Config"][0]["Subnet"] in routes, routes
    _, far_routes = sh(box, far_cli, "ip route")
    assert far_routes.startswith("default via ")  # control
    wait_fetch(box, cli, f"http://isrv{TAG}/", "inside")  # the internal network itself works
    wait_fetch(box, far_cli, f"http://{far_ip}/", "outside")
    # no route: the kernel refuses at once (not a timeout), for another network and for the host beyond
    for target in (far_ip, default_bridge(box)["IPAM"]["Config"][0]["Gateway"]):
        code, out = fetch(box, cli, f"http://{target}/")
        assert code != 0 and "unreachable" in out.lower(), (target, out)


def test_icc_off_keeps_default_bridge_containers_apart(daemon_factory):
    require_exec_driver()
    d = daemon_factory(extra_args=["--icc", "false"])
    make_busybox(d)
    assert default_bridge(d)["Options"]["com.docker.network.bridge.enable_icc"] == "false"
    lab = Lab(d)
    try:
        srv = lab.run(serve("icc"), name="srv")
        cli = lab.run(SLEEP, name="cli")
        ip = inspect(d, srv)["NetworkSettings"]["IPAddress"]
        host_wait_get(f"http://{ip}/", "icc")  # control: the host reaches it
        assert fetch(d, cli, f"http://{ip}/")[0] != 0
        user = lab.net()  # a user network keeps icc on
        a = lab.run(serve("user"), name="ua", network=user["Name"])
        b = lab.run(SLEEP, name="ub", network=user["Name"])
        wait_fetch(d, b, "http://ua/", "user")
        assert a
    finally:
        lab.close()


# ---------------------------------------------------------------------------
# connect / disconnect
# ---------------------------------------------------------------------------


def test_connect_and_disconnect_a_running_container(box, lab):
    a, b = lab.net(), lab.net()
    peer = lab.run(serve("peer-b"), name=f"peer{TAG}", network=b["Name"])
    c = lab.run(SLEEP, name=f"mover{TAG}", network=a["Name"])
    peer_ip = ip_of(box, peer, b["Name"])
    code, out = sh(box, c, "ip -o addr")
    assert "eth1" not in out

    status, _, data = box.request("POST", f"/v1.47/networks/{b['Id']}/connect",
                                  {"Container": c, "EndpointConfig": {"Aliases": ["moved"]}})
    assert status == 200, data
    c_ip_b = ip_of(box, c, b["Name"])
    code, out = sh(box, c, "ip -o addr show dev eth1")
    assert code == 0 and c_ip_b in out, out
    wait_fetch(box, c, f"http://peer{TAG}/", "peer-b")
    assert fetch(box, c, f"http://{peer_ip}/") == (0, "peer-b\n")
    code, out = sh(box, peer, "nslookup moved 127.0.0.11")
    assert code == 0 and c_ip_b in out, out
    code, routes = sh(box, c, "ip route")
    assert routes.count("default") == 1 and "dev eth0" in routes.split("default")[1].splitlines()[0]
    assert set(box.json("GET", f"/networks/{b['Id']}")["Containers"]) == {peer, c}

    status, _, data = box.request("POST", f"/v1.47/networks/{b['Id']}/disconnect", {"Container": c})
    assert status == 200, data
    code, out = sh(box, c, "ip -o addr")
    assert "eth1" not in out and c_ip_b not in out
    assert fetch(box, c, f"http://{peer_ip}/")[0] != 0
    assert set(box.json("GET", f"/networks/{b['Id']}")["Containers"]) == {peer}
    assert b["Name"] not in inspect(box, c)["NetworkSettings"]["Networks"]
    code, out = sh(box, peer, "nslookup moved 127.0.0.11")
    assert c_ip_b not in out


# ---------------------------------------------------------------------------
# the container's own settings and files
# ---------------------------------------------------------------------------


def test_static_ip_mac_hostname_and_files_on_a_user_network(box, lab):
    net = lab.net()
    subnet = ipaddress.ip_network(net["IPAM"]["Config"][0]["Subnet"])
    ip = str(subnet[77])
    mac = "02:42:ac:11:99:01"
    c = lab.run(SLEEP, name=f"files{TAG}", network=net["Name"], ip=ip, mac=mac, Hostname="myhost",
                host={"ExtraHosts": ["db.local:10.1.2.3"], "DnsSearch": ["example.test"],
                      "DnsOptions": ["ndots:2", "timeout:1"], "Dns": ["10.0.0.53"]})
    assert ip_of(box, c, net["Name"]) == ip
    assert inspect(box, c)["NetworkSettings"]["Networks"][net["Name"]]["MacAddress"] == mac
    _, out = sh(box, c, "ip -o link show dev eth0; ip -o -4 addr show dev eth0; hostname; cat /etc/hostname")
    lines = out.splitlines()
    assert mac in lines[0] and f"{ip}/{subnet.prefixlen}" in lines[1], out
    assert lines[2:] == ["myhost", "myhost"]
    _, hosts = sh(box, c, "cat /etc/hosts")
    assert hosts.startswith("127.0.0.1\tlocalhost\n")
    assert "10.1.2.3\tdb.local\n" in hosts and f"{ip}\tmyhost" in hosts, hosts
    _, resolv = sh(box, c, "cat /etc/resolv.conf")
    # user networks: the embedded server; --dns becomes its upstream, search and options are kept
    assert resolv.splitlines()[0] == "nameserver 127.0.0.11" and "10.0.0.53" not in resolv, resolv
    assert "search example.test" in resolv and "ndots:2" in resolv and "timeout:1" in resolv
    _, mounts = sh(box, c, "grep -E ' /etc/(hosts|hostname|resolv.conf) ' /proc/self/mounts | wc -l")
    assert mounts.strip() == "3"  # bind-mounted, as Docker does


def test_dns_and_add_host_on_the_default_bridge(box, lab):
    gateway = default_bridge(box)["IPAM"]["Config"][0]["Gateway"]
    c = lab.run(SLEEP, name=f"dns{TAG}", Hostname="bhost", host={
        "Dns": ["10.0.0.53", "10.0.0.54"], "DnsSearch": ["a.test", "b.test"], "DnsOptions": ["ndots:3"],
        "ExtraHosts": ["gw.test:host-gateway", "x.test:10.9.8.7"]})
    ip = inspect(box, c)["NetworkSettings"]["IPAddress"]
    _, resolv = sh(box, c, "cat /etc/resolv.conf")
    assert resolv == "nameserver 10.0.0.53\nnameserver 10.0.0.54\nsearch a.test b.test\noptions ndots:3\n"
    _, hosts = sh(box, c, "cat /etc/hosts")
    assert f"{gateway}\tgw.test\n" in hosts and "10.9.8.7\tx.test\n" in hosts and f"{ip}\tbhost\n" in hosts
    # the daemon's --dns 127.0.0.1 (test setting) is what a container gets when it asks for nothing
    plain = lab.run(SLEEP, name=f"dnsplain{TAG}")
    _, resolv = sh(box, plain, "cat /etc/resolv.conf")
    assert resolv.splitlines()[0] == "nameserver 127.0.0.1" and "127.0.0.11" not in resolv


# ---------------------------------------------------------------------------
# nothing left behind
# ---------------------------------------------------------------------------


def _veth(endpoint_id: str) -> str:
    return "veth" + endpoint_id[:7]


def _gone(d: Daemon, cid: str, endpoint_ids: list[str], ip: str, ports: list[int]) -> list[str]:
    """What container ``cid`` still has on the host, polled a few seconds (veths go asynchronously)."""
    def left() -> list[str]:
        found = [f"veth {_veth(e)}" for e in endpoint_ids if _veth(e) in link_names()]
        if (d.exec_root / "netns" / cid).exists():
            found.append("netns file")
        table = nft_table(d)
        if ip and f"{ip}:" in table:
            found.append(f"nft rule for {ip}")
        found += [f"nft rule for port {p}" for p in ports if f"dport {p} " in table]
        found += [f"host port {p}" for p in ports if not port_free(p)]
        with open("/proc/self/mountinfo") as fh:
            if f"netns/{cid}" in fh.read():
                found.append("netns mount")
        return found

    try:
        wait_for(lambda: not left(), timeout=5, what=f"container {cid[:12]} to leave nothing on the host")
    except WaitTimeout:
        pass  # the caller's assert names what is left
    return left()


def _endpoints(d: Daemon, cid: str) -> list[str]:
    return [n["EndpointID"] for n in inspect(d, cid)["NetworkSettings"]["Networks"].values() if n["EndpointID"]]


def test_rm_network_rm_and_daemon_sigkill_leave_nothing(daemon_factory):
    require_exec_driver()
    d = daemon_factory()
    make_busybox(d)
    lab = Lab(d)
    bridge = f"bt{network_tag(d.root)}"
    try:
        # -- rm and network rm
        net = lab.net()
        c = lab.run(serve("rm-me"), name="rmme", network=net["Name"],
                    host={"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1"}]}})
        eps, ip = _endpoints(d, c), ip_of(d, c, net["Name"])
        port = int(inspect(d, c)["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
        assert all(_veth(e) in link_names() for e in eps) and (d.exec_root / "netns" / c).exists()
        assert f"{ip}:80" in nft_table(d) and not port_free(port)
        host_wait_get(f"http://127.0.0.1:{port}/", "rm-me")
        rm(d, c)
        assert _gone(d, c, eps, ip, [port]) == []
        assert d.json("GET", f"/networks/{net['Id']}")["Containers"] == {}
        assert net["Options"]["com.docker.network.bridge.name"] in link_names()
        status, _, _ = d.request("DELETE", f"/networks/{net['Id']}")
        assert status == 204
        assert net["Options"]["com.docker.network.bridge.name"] not in link_names()
        assert net["Options"]["com.docker.network.bridge.name"] not in nft_table(d)
        assert d.request("GET", f"/networks/{net['Id']}")[0] == 404

        # -- SIGKILL with running containers: one keeps running, one exits while the daemon is down
        keep = lab.run(serve("kept"), name="keep", host={"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1"}]}})
        dies = lab.run(SLEEP, name="dies", host={"PortBindings": {"81/tcp": [{"HostIp": "127.0.0.1"}]}})
        keep_ip = inspect(d, keep)["NetworkSettings"]["IPAddress"]
        dies_ip = inspect(d, dies)["NetworkSettings"]["IPAddress"]
        keep_port = int(inspect(d, keep)["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
        dies_port = int(inspect(d, dies)["NetworkSettings"]["Ports"]["81/tcp"][0]["HostPort"])
        keep_eps, dies_eps = _endpoints(d, keep), _endpoints(d, dies)
        dies_pid = inspect(d, dies)["State"]["Pid"]
        host_wait_get(f"http://127.0.0.1:{keep_port}/", "kept")

        d.kill()
        os.kill(dies_pid, signal.SIGKILL)  # the container we started exits while no daemon watches
        d.start()
        assert inspect(d, keep)["State"]["Running"] is True
        assert inspect(d, dies)["State"]["Running"] is False
        assert inspect(d, keep)["NetworkSettings"]["IPAddress"] == keep_ip
        assert _endpoints(d, keep) == keep_eps
        host_wait_get(f"http://127.0.0.1:{keep_port}/", "kept")
        assert not port_free(keep_port)  # held again by the new daemon
        assert _gone(d, dies, dies_eps, dies_ip, [dies_port]) == []
        attached = d.json("GET", "/networks/bridge")["Containers"]
        assert set(attached) == {keep} and attached[keep]["IPv4Address"].startswith(keep_ip + "/")

        # the released address is handed out again
        again = lab.run(SLEEP, name="again")
        assert inspect(d, again)["NetworkSettings"]["IPAddress"] == dies_ip
        again_eps = _endpoints(d, again)
        rm(d, again)
        assert _gone(d, again, again_eps, dies_ip, []) == []

        rm(d, keep)
        rm(d, dies)
        assert _gone(d, keep, keep_eps, keep_ip, [keep_port]) == []
        assert d.json("GET", "/networks/bridge")["Containers"] == {}
        wait_for(lambda: bridge_ports(bridge) == set(), timeout=5, what=f"no port left on {bridge}")
        assert list((d.exec_root / "netns").iterdir()) == []
        assert "dnat ip to" not in nft_table(d)
    finally:
        lab.close()


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def _error(d: Daemon, method: str, path: str, body=None) -> tuple[int, str]:
    status, _, data = d.request(method, path, body)
    return status, json.loads(data)["message"] if data else ""


def test_overlapping_and_host_route_subnets_are_refused(box, lab):
    first = lab.net()
    subnet = first["IPAM"]["Config"][0]["Subnet"]
    body = {"Name": f"dup{TAG}", "IPAM": {"Config": [{"Subnet": subnet}]},
            "Options": {"com.docker.network.bridge.name": f"bt{TAG}dup"}}
    status, msg = _error(box, "POST", "/networks/create", body)
    assert (status, msg) == (403, "Pool overlaps with other one on this address space")  # dockerd 20.10's text
    wider = str(ipaddress.ip_network(subnet).supernet(new_prefix=16))
    status, msg = _error(box, "POST", "/networks/create", dict(body, IPAM={"Config": [{"Subnet": wider}]}))
    assert status == 403 and "overlaps" in msg, msg
    own = default_bridge(box)["IPAM"]["Config"][0]["Subnet"]
    status, msg = _error(box, "POST", "/networks/create", dict(body, IPAM={"Config": [{"Subnet": own}]}))
    assert status == 403 and "overlaps" in msg, msg

    foreign = [(net, dev) for net, dev in host_routes() if not dev.startswith(("bt", "bg-", "docker", "br-"))]
    if foreign:
        net, dev = foreign[0]
        status, msg = _error(box, "POST", "/networks/create", dict(body, IPAM={"Config": [{"Subnet": str(net)}]}))
        assert status == 403 and "overlaps" in msg and dev in msg, msg
    assert f"dup{TAG}" not in {n["Name"] for n in box.json("GET", "/networks")}
    assert f"bt{TAG}dup" not in link_names()
    if not foreign:
        pytest.skip("no host route of a non-container interface to collide with (only the overlap checks ran)")


def test_network_with_a_running_container_is_not_removed(box, lab):
    net = lab.net()
    c = lab.run(SLEEP, name=f"busy{TAG}", network=net["Name"])
    status, msg = _error(box, "DELETE", f"/networks/{net['Name']}")
    assert status == 403 and "active endpoints" in msg and f"busy{TAG}" in msg, msg
    assert net["Options"]["com.docker.network.bridge.name"] in link_names()
    assert ip_of(box, c, net["Name"])  # still attached and working
    status, msg = _error(box, "DELETE", "/networks/bridge")
    assert status == 403 and "pre-defined" in msg


def test_port_in_use_fails_the_start_and_leaves_nothing(box, lab):
    bridge = default_bridge(box)["Options"]["com.docker.network.bridge.name"]
    before = bridge_ports(bridge)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        c = lab.create(SLEEP, name=f"clash{TAG}",
                       host={"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}})
        status, msg = _error(box, "POST", f"/containers/{c}/start")
        assert status in (409, 500) and "already allocated" in msg and str(port) in msg, (status, msg)
        state = inspect(box, c)["State"]
        assert state["Running"] is False
        assert not (box.exec_root / "netns" / c).exists()
        assert c not in box.json("GET", "/networks/bridge")["Containers"]
        assert f"dport {port} " not in nft_table(box)
        wait_for(lambda: bridge_ports(bridge) == before, timeout=5, what=f"the ports of {bridge} back to {before}")
    assert port_free(port)  # the daemon did not keep it either
    # the same container starts once the port is free
    assert box.request("POST", f"/containers/{c}/start")[0] == 204
    assert inspect(box, c)["NetworkSettings"]["Ports"]["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]


@pytest.mark.parametrize("bindings", [
    {"80/xyz": [{"HostPort": "8080"}]},
    {"abc/tcp": [{"HostPort": "8080"}]},
    {"70000/tcp": [{"HostPort": "8080"}]},
    {"80/tcp": [{"HostPort": "70000"}]},
    {"80/tcp": [{"HostPort": "90-80"}]},
    {"80/tcp": [{"HostPort": "http"}]},
    {"80/tcp": [{"HostIp": "not-an-ip", "HostPort": "8080"}]},
])
def test_invalid_port_specs_are_400(box, bindings):
    msg = create(box, f"badport{TAG}", expect=400, Cmd=SLEEP, HostConfig={"PortBindings": bindings})
    assert msg and box.request("GET", f"/containers/badport{TAG}/json")[0] == 404


def test_names_ips_and_networks_refused(box, lab):
    net = lab.net()
    subnet = ipaddress.ip_network(net["IPAM"]["Config"][0]["Subnet"])
    long_name = "x" * 64  # a fine container name, but not a DNS label
    msg = lab.create(SLEEP, name=long_name, network=net["Name"], expect=400)
    assert "DNS" in msg, msg
    msg = lab.create(SLEEP, name=f"alias{TAG}", network=net["Name"], aliases=["bad_-", "-lead"], expect=400)
    assert "alias" in msg, msg
    outside = str(subnet.network_address + 256)
    msg = lab.create(SLEEP, name=f"ip{TAG}", network=net["Name"], ip=outside, expect=400)
    assert outside in msg and str(subnet) in msg, msg
    msg = lab.create(SLEEP, name=f"ip{TAG}", network=net["Name"], ip="10.1.2", expect=400)
    assert "10.1.2" in msg
    msg = lab.create(SLEEP, name=f"ipb{TAG}", host={"NetworkMode": "bridge"},
                     NetworkingConfig={"EndpointsConfig": {"bridge": {"IPAMConfig": {"IPv4Address": "10.1.2.3"}}}},
                     expect=400)
    assert "user defined networks" in msg, msg
    # a 64-character name is fine on the default bridge (no DNS there)
    ok = lab.create(SLEEP, name=long_name)
    assert inspect(box, ok)["Name"] == "/" + long_name

    missing = f"nonet{TAG}"
    # dockerd looks the network up at start: the create stands, the start is refused
    orphan = lab.create(SLEEP, name=f"nn{TAG}", network=missing)
    status, _, data = box.request("POST", f"/containers/{orphan}/start")
    assert status == 404 and json.loads(data)["message"] == f"network {missing} not found", data
    assert _error(box, "GET", f"/networks/{missing}")[0] == 404
    assert _error(box, "DELETE", f"/networks/{missing}")[0] == 404
    assert _error(box, "POST", f"/networks/{missing}/connect", {"Container": ok})[0] == 404
    status, msg = _error(box, "POST", f"/networks/{net['Id']}/connect", {"Container": f"nocontainer{TAG}"})
    assert status == 404, msg
    # a taken static address
    first = lab.run(SLEEP, name=f"ipa{TAG}", network=net["Name"], ip=str(subnet[9]))
    second = lab.create(SLEEP, name=f"ipc{TAG}", network=net["Name"], ip=str(subnet[9]))
    status, msg = _error(box, "POST", f"/containers/{second}/start")
    assert status == 409 and "in use" in msg, (status, msg)
    assert inspect(box, second)["State"]["Running"] is False and ip_of(box, first, net["Name"]) == str(subnet[9])
    assert set(box.json("GET", f"/networks/{net['Id']}")["Containers"]) == {first}


def test_any_name_dockerd_accepts(box, lab):
    """dockerd 20.10 takes any non-empty network name ("my net", "a/b", "über", " lead"; seen side by side):
    so does barge, and a container joins such a network by its name."""
    for n, name in enumerate(["my net", "über", " lead", "x" * 200]):
        body = {"Name": name, "Options": {"com.docker.network.bridge.name": f"bt{TAG}w{n}"}}
        status, _, data = box.request("POST", "/v1.47/networks/create", body)
        assert status == 201, data
        lab.networks.append(json.loads(data)["Id"])
    cid = lab.run(["sh", "-c", "ip -o -4 addr show eth0 | wc -l"], network="my net")
    box.request("POST", f"/containers/{cid}/wait")
    assert "my net" in box.json("GET", f"/containers/{cid}/json")["NetworkSettings"]["Networks"]
    status, _, body = box.request("POST", "/v1.47/networks/create", {"Name": ""})
    assert status == 400 and json.loads(body)["message"] == "invalid name: "


def test_stats_count_each_interface(box, lab):
    """``stats`` has dockerd's ``networks``: one entry per interface of the container's namespace."""
    lab.net()
    cid = lab.run(["sleep", "60"], network=lab.networks[-1])
    stats = box.json("GET", f"/containers/{cid}/stats?stream=false")
    assert set(stats["networks"]) == {"eth0"}
    assert set(stats["networks"]["eth0"]) == {"rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes",
                                              "tx_packets", "tx_errors", "tx_dropped"}
    none = lab.run(["sleep", "60"], host={"NetworkMode": "none"})
    assert "networks" not in box.json("GET", f"/containers/{none}/stats?stream=false")
