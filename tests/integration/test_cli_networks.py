"""``barge network ...`` and ``barge port`` as real processes against a real
daemon with real bridges and containers: create/ls/inspect/rm with docker's
output and exit codes, rm going on past errors, connect/disconnect with
``--ip``/``--alias``, ``run --ip --network-alias --mac-address``, prune's
prompt and list, and ``port`` over published ports.

The daemon's default bridge and every bridge made here carry a ``bt`` name,
its nftables table is ``barge_test_cli<tag>`` and the subnets are under
10.23x.0.0, so nothing is mistaken for the host's own. A daemon leaves its
default bridge and table behind when it stops (as dockerd leaves docker0):
the module removes both, then checks that nothing of its own is left.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.conftest import (
    Daemon,
    make_busybox,
    remove_tree,
    require_exec_driver,
    require_graph_driver,
    short_exec_root,
    test_driver,
)
from tests.integration.test_cli_containers import barge, text

pytestmark = pytest.mark.daemon

TAG = uuid.uuid4().hex[:4]
OCTET = random.Random(TAG).randrange(0, 200)  # 10.230-232.<OCTET>.0/24: unlikely to meet a parallel run


TABLE = f"barge_test_cli{TAG}"


def _links() -> str:
    return subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout


def _tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


def _remove_own_leftovers() -> None:
    """The default bridge and table a stopped daemon keeps; only this module's."""
    for line in _links().splitlines():
        link = line.split()[0].partition("@")[0] if line.strip() else ""
        if link.startswith((f"btc{TAG}", f"btn{TAG}")):
            subprocess.run(["ip", "link", "del", link], capture_output=True)
    for family in ("inet", "ip"):
        if f"table {family} {TABLE}\n" in _tables():
            subprocess.run(["nft", "delete", "table", family, TABLE], capture_output=True)


@pytest.fixture(scope="module")
def ndaemon():
    """A daemon whose default bridge is ``btc<tag>``, with busybox."""
    require_exec_driver()
    require_graph_driver(test_driver())
    root = Path(tempfile.mkdtemp(prefix="barge-netcli-", dir="/tmp"))
    (root / "daemon.toml").write_text(f'[network]\nbridge = "btc{TAG}"\nbip = "10.230.{OCTET}.1/24"\n\n'
                                      f'[network.options.bridge]\ntable = "{TABLE}"\n')
    d = None
    stale: list[str] = []
    try:
        d = Daemon(root, test_driver())
        make_busybox(d)
        yield d
    finally:
        if d is not None:
            for name in text(barge(d, "ps", "-aq", check=False)).split():
                barge(d, "rm", "-f", name, check=False)
            for name in text(barge(d, "network", "ls", "--format", "{{.Name}}", check=False)).split():
                if name not in ("bridge", "host", "none"):
                    barge(d, "network", "rm", name, check=False)
            d.close()
        remove_tree(root)
        remove_tree(short_exec_root(root))
        stale = [line.split()[0] for line in _links().splitlines() if line.startswith(f"btn{TAG}")]
        _remove_own_leftovers()
    assert not stale, f"network rm left bridges behind: {stale}"
    assert f"btc{TAG}" not in _links() and TABLE not in _tables()


@pytest.fixture
def net(ndaemon):
    """Make user networks (bridges ``btn<tag><i>``); removes them after the test."""
    made: list[str] = []

    def make(*flags: str, index: int = 0) -> str:
        name = f"nc{TAG}{len(made)}"
        proc = barge(ndaemon, "network", "create", "-o", f"com.docker.network.bridge.name=btn{TAG}{len(made)}",
                     *flags, name)
        assert re.fullmatch(r"[0-9a-f]{64}\n", text(proc)), text(proc)
        made.append(name)
        return name

    yield make
    for name in made:
        barge(ndaemon, "network", "rm", name, check=False)


def _subnet(i: int) -> str:
    return f"10.231.{(OCTET + i) % 250}.0/24"


# ------------------------------------------------------------------ create, ls, inspect, rm

def test_create_ls_inspect_rm(ndaemon, net):
    subnet = _subnet(0)
    gateway = str(ipaddress.ip_network(subnet)[1])
    name = net("--subnet", subnet, "--gateway", gateway, "--label", "team=a", "--internal")
    full = json.loads(text(barge(ndaemon, "network", "inspect", name)))
    assert isinstance(full, list) and len(full) == 1
    n = full[0]
    assert n["Name"] == name and n["Driver"] == "bridge" and n["Scope"] == "local" and n["Internal"] is True
    assert n["IPAM"]["Config"] == [{"Subnet": subnet, "Gateway": gateway}]
    assert n["Labels"] == {"team": "a"} and n["Containers"] == {}

    lines = text(barge(ndaemon, "network", "ls")).splitlines()
    assert lines[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    rows = {line.split()[1]: line.split() for line in lines[1:]}
    assert rows[name] == [n["Id"][:12], name, "bridge", "local"]
    assert {"bridge", "host", "none"} <= set(rows)
    assert n["Id"][:12] in text(barge(ndaemon, "network", "ls", "-q")).split()
    assert text(barge(ndaemon, "network", "ls", "--no-trunc", "-q", "-f", f"name={name}")) == n["Id"] + "\n"
    assert text(barge(ndaemon, "network", "ls", "-f", "label=team=a", "--format", "{{.Name}} {{.Internal}} {{.Labels}}")) \
        == f"{name} true team=a\n"
    assert text(barge(ndaemon, "network", "inspect", "-f", "{{.Driver}} {{.Name}}", n["Id"][:12])) == f"bridge {name}\n"

    missing = barge(ndaemon, "network", "inspect", name, f"nope{TAG}", check=False)
    assert missing.returncode == 1
    assert json.loads(text(missing))[0]["Id"] == n["Id"]  # what was found is still printed
    assert missing.stderr.decode().startswith("Error response from daemon:")
    bad = barge(ndaemon, "network", "ls", "-f", "colour=red", check=False)
    assert bad.returncode == 1 and bad.stderr.decode().strip() == "Error response from daemon: invalid filter 'colour'"

    dup = barge(ndaemon, "network", "create", name, check=False)
    assert dup.returncode == 1 and dup.stderr.decode().startswith("Error response from daemon: ")
    assert text(barge(ndaemon, "network", "rm", name)) == f"{name}\n"
    assert name not in text(barge(ndaemon, "network", "ls", "--format", "{{.Name}}")).split()


def test_rm_goes_on_past_errors(ndaemon, net):
    first, second = net("--subnet", _subnet(1)), net("--subnet", _subnet(2))
    proc = barge(ndaemon, "network", "rm", first, f"nope{TAG}", second, check=False)
    assert proc.returncode == 1
    assert text(proc) == f"{first}\n{second}\n"
    err = proc.stderr.decode().splitlines()
    assert len(err) == 2 and err[0].startswith("Error response from daemon: ") and f"nope{TAG}" in err[0]
    assert err[1] == "exit status 1"  # as docker 28 ends a failed network rm
    forced = barge(ndaemon, "network", "rm", "-f", f"nope{TAG}")
    assert forced.returncode == 0 and text(forced) == "" and forced.stderr == b""
    builtin = barge(ndaemon, "network", "rm", "bridge", check=False)
    assert builtin.returncode == 1 and "pre-defined" in builtin.stderr.decode()


def test_create_refusals(ndaemon):
    cases = [
        (["--ipv6"], 1, "Error response from daemon: could not find an available, non-overlapping IPv6 address pool"),
        (["--gateway", "10.9.9.1"], 1, "every ip-range or gateway must have a corresponding subnet"),
        (["--subnet", "10.9.9.0/24", "--gateway", "10.9.9"], 125, 'invalid argument "10.9.9" for "--gateway" flag'),
    ]
    for flags, code, start in cases:
        proc = barge(ndaemon, "network", "create", *flags, f"bad{TAG}", check=False)
        assert proc.returncode == code and proc.stderr.decode().startswith(start), proc.stderr
    host_route = barge(ndaemon, "network", "create", "--subnet", f"10.230.{OCTET}.0/25", f"bad{TAG}", check=False)
    assert host_route.returncode == 1 and host_route.stderr.decode().startswith("Error response from daemon: ")
    assert f"bad{TAG}" not in text(barge(ndaemon, "network", "ls", "--format", "{{.Name}}")).split()


# ------------------------------------------------------------------ containers on networks

def _ip_of(d, container: str, network: str) -> str:
    info = json.loads(text(barge(d, "inspect", container)))[0]
    return info["NetworkSettings"]["Networks"][network]["IPAddress"]


def test_run_flags_connect_disconnect(ndaemon, net):
    subnet = ipaddress.ip_network(_subnet(3))
    front = net("--subnet", str(subnet))
    back = net("--subnet", _subnet(4))
    name = f"c{TAG}web"
    ip = str(subnet[10])
    barge(ndaemon, "run", "-d", "--name", name, "--network", front, "--ip", ip, "--network-alias", "web",
          "--mac-address", "02:42:0a:e7:00:0a", "--hostname", "webhost", "busybox", "sleep", "600")
    try:
        assert _ip_of(ndaemon, name, front) == ip
        info = json.loads(text(barge(ndaemon, "inspect", name)))[0]
        endpoint = info["NetworkSettings"]["Networks"][front]
        assert "web" in (endpoint.get("Aliases") or []) and endpoint["MacAddress"] == "02:42:0a:e7:00:0a"
        assert info["Config"]["Hostname"] == "webhost"
        attached = json.loads(text(barge(ndaemon, "network", "inspect", front)))[0]["Containers"]
        assert [c["Name"] for c in attached.values()] == [name]
        assert next(iter(attached.values()))["IPv4Address"] == f"{ip}/24"
        in_use = barge(ndaemon, "network", "rm", front, check=False)
        assert in_use.returncode == 1 and in_use.stderr.decode().startswith("Error response from daemon: ")

        back_ip = str(ipaddress.ip_network(_subnet(4))[20])
        proc = barge(ndaemon, "network", "connect", "--ip", back_ip, "--alias", "api,api2", back, name)
        assert text(proc) == "" and proc.stderr == b""
        assert _ip_of(ndaemon, name, back) == back_ip
        seen = barge(ndaemon, "exec", name, "ip", "addr")
        assert ip in text(seen) and back_ip in text(seen)
        again = barge(ndaemon, "network", "connect", back, name, check=False)
        assert again.returncode == 1 and again.stderr.decode().startswith("Error response from daemon: ")

        assert text(barge(ndaemon, "network", "disconnect", back, name)) == ""
        assert back_ip not in text(barge(ndaemon, "exec", name, "ip", "addr"))
        assert json.loads(text(barge(ndaemon, "network", "inspect", back)))[0]["Containers"] == {}
        gone = barge(ndaemon, "network", "disconnect", back, f"nope{TAG}", check=False)
        assert gone.returncode == 1 and gone.stderr.decode().startswith("Error response from daemon: ")
    finally:
        barge(ndaemon, "rm", "-f", name, check=False)


def test_run_network_flag_refusals(ndaemon):
    for flags, line in (
        (["--link", "other"], "could not get container for other: No such container: other"),
        (["--network-alias", "x"], "network-scoped aliases are only supported for user-defined networks"),
        (["--ip", "10.1.2"], "invalid IPv4 address: 10.1.2"),
        (["--mac-address", "nope"], "nope is not a valid mac address"),
    ):
        proc = barge(ndaemon, "run", "--rm", *flags, "busybox", "true", check=False)
        assert proc.returncode == 125 and line in proc.stderr.decode().splitlines()[0], proc.stderr


def test_prune(ndaemon, net):
    unused, used = net("--subnet", _subnet(5)), net("--subnet", _subnet(6))
    name = f"c{TAG}prune"
    barge(ndaemon, "run", "-d", "--name", name, "--network", used, "busybox", "sleep", "600")
    try:
        proc = barge(ndaemon, "network", "prune", input=b"n\n", check=False)
        assert text(proc).startswith("WARNING! This will remove all custom networks not used by at least one container.\n"
                                     "Are you sure you want to continue? [y/N] ")
        assert proc.returncode == 0 and unused in text(barge(ndaemon, "network", "ls", "--format", "{{.Name}}"))
        out = text(barge(ndaemon, "network", "prune", "-f"))
        assert out.startswith("Deleted Networks:\n") and out.endswith("\n\n")
        deleted = out.splitlines()[1:-1]
        assert unused in deleted and used not in deleted and "bridge" not in deleted
        left = text(barge(ndaemon, "network", "ls", "--format", "{{.Name}}")).split()
        assert used in left and unused not in left
    finally:
        barge(ndaemon, "rm", "-f", name, check=False)


# ------------------------------------------------------------------ port

def test_port(ndaemon):
    name = f"c{TAG}port"
    barge(ndaemon, "run", "-d", "--name", name, "-p", "127.0.0.1::80", "-p", "127.0.0.1::53/udp", "busybox",
          "sleep", "600")
    try:
        lines = text(barge(ndaemon, "port", name)).splitlines()
        assert len(lines) == 2, lines
        by_port = {line.split(" -> ")[0]: line.split(" -> ")[1] for line in lines}
        assert set(by_port) == {"80/tcp", "53/udp"}
        host, _, hport = by_port["80/tcp"].rpartition(":")
        assert host == "127.0.0.1" and 0 < int(hport) < 65536
        assert [line.split(" -> ")[0] for line in lines] == ["53/udp", "80/tcp"]  # docker's natural order
        assert text(barge(ndaemon, "port", name, "80")) == by_port["80/tcp"] + "\n"
        assert text(barge(ndaemon, "port", name, "80/tcp")) == by_port["80/tcp"] + "\n"
        assert text(barge(ndaemon, "container", "port", name, "53/udp")) == by_port["53/udp"] + "\n"
        missing = barge(ndaemon, "port", name, "81", check=False)
        assert missing.returncode == 1
        assert missing.stderr.decode() == f"Error: No public port '81' published for {name}\n"
        unknown = barge(ndaemon, "port", f"nope{TAG}", check=False)
        assert unknown.returncode == 1 and unknown.stderr.decode().startswith("Error response from daemon: ")
    finally:
        barge(ndaemon, "rm", "-f", name, check=False)
    plain = f"c{TAG}plain"
    barge(ndaemon, "run", "-d", "--name", plain, "busybox", "sleep", "600")
    try:
        proc = barge(ndaemon, "port", plain)
        assert text(proc) == "" and proc.returncode == 0
    finally:
        barge(ndaemon, "rm", "-f", plain, check=False)


def test_api_statuses(ndaemon):
    """The routes' statuses as moby answers: 201 create, 204 delete, 200 and no body for connect."""
    status, _, body = ndaemon.request("POST", "/v1.47/networks/create",
                                      {"Name": f"api{TAG}", "Options": {"com.docker.network.bridge.name": f"btn{TAG}api"},
                                       "IPAM": {"Config": [{"Subnet": _subnet(7)}]}})
    assert status == 201, body
    nid = json.loads(body)["Id"]
    try:
        assert json.loads(body)["Warning"] == ""
        status, _, body = ndaemon.request("GET", f"/networks/{nid[:12]}?verbose=true&scope=local")
        assert status == 200 and json.loads(body)["Id"] == nid
        status, _, body = ndaemon.request("GET", f"/networks/{nid}?scope=swarm")
        assert status == 404, body
        status, _, body = ndaemon.request("POST", f"/networks/{nid}/connect", {"EndpointConfig": {}})
        assert status == 400 and json.loads(body)["message"], body
        status, _, body = ndaemon.request("GET", "/networks?filters=notjson")
        assert status == 400, body
    finally:
        status, _, body = ndaemon.request("DELETE", f"/networks/{nid}")
        assert status == 204 and body == b""
    status, _, _ = ndaemon.request("DELETE", f"/networks/{nid}")
    assert status == 404


def test_ipv6_aux_ip6_link_local_and_port_on_ipv6_loopback(ndaemon, net):
    six = ipaddress.ip_network(f"fdb7:{TAG}:{OCTET}::/64")
    name = net("--ipv6", "--subnet", _subnet(5), "--subnet", str(six), "--aux-address", f"r={six[2]}")
    info = json.loads(text(barge(ndaemon, "network", "inspect", name)))[0]
    assert info["EnableIPv6"] is True and {"Subnet": str(six), "AuxiliaryAddresses": {"r": str(six[2])}} in (
        info["IPAM"]["Config"])
    out = text(barge(ndaemon, "run", "--rm", "--network", name, "--ip6", str(six[0x66]), "--link-local-ip",
                     "169.254.3.3", "--link-local-ip", "fe80::33", "busybox", "ip", "addr", "show", "eth0"))
    for line in (f"inet6 {six[0x66]}/64", "inet 169.254.3.3/16", "inet6 fe80::33/64"):
        assert line in out, out
    web = f"c{TAG}six"
    barge(ndaemon, "run", "-d", "--name", web, "--network", name, "-p", "[::1]::80", "busybox", "sleep", "600")
    try:
        assert inspect_ip6(ndaemon, web, name) == str(six[3])  # ::2 is the aux address
        host, _, port = text(barge(ndaemon, "port", web, "80")).strip().rpartition(":")
        assert host == "[::1]" and 0 < int(port) < 65536
    finally:
        barge(ndaemon, "rm", "-f", web, check=False)


def inspect_ip6(d, container: str, network: str) -> str:
    info = json.loads(text(barge(d, "inspect", container)))[0]
    return info["NetworkSettings"]["Networks"][network]["GlobalIPv6Address"]
