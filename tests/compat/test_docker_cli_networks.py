"""The real docker CLI drives barge's networks: ``network create/ls/inspect/
connect/disconnect/rm/prune``, ``run --network --network-alias`` with names
resolved between containers, ``run -p`` and ``port``, with docker's output
and exit codes.

Bridges made here are named ``bt<tag>...``; the daemon's own bridge, table
and address pool are the conftest's, so subnets are picked by the daemon.
Traffic goes only to 127.0.0.1 and to the containers.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.request
import uuid

import pytest

from barge.testing.wait import wait_for
from tests.conftest import make_busybox, require_exec_driver
from tests.net_helpers import serve, wget_loop

pytestmark = pytest.mark.compat

TAG = uuid.uuid4().hex[:4]
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def docker(docker_cli, daemon):
    require_exec_driver()
    make_busybox(daemon)
    return docker_cli


def host_get(url: str, timeout: float = 10) -> str:
    def get() -> tuple[str]:
        with OPENER.open(url, timeout=2) as resp:
            return (resp.read().decode(),)  # in a tuple: an empty body is an answer too

    return wait_for(get, timeout, interval=0.1, ignore=(OSError,), what=f"{url} to answer the host")[0]


def test_network_create_ls_inspect_rm(docker):
    name = f"cli{TAG}"
    nid = docker.out("network", "create", "-o", f"com.docker.network.bridge.name=bt{TAG}c", "--label", "team=a",
                     name)
    assert re.fullmatch(r"[0-9a-f]{64}", nid)
    lines = docker.out("network", "ls").splitlines()
    assert lines[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    rows = {line.split()[1]: line.split() for line in lines[1:]}
    assert rows[name] == [nid[:12], name, "bridge", "local"]
    assert {"bridge", "host", "none"} <= set(rows)
    assert docker.out("network", "ls", "-q", "--no-trunc", "--filter", "label=team=a") == nid
    assert docker.out("network", "ls", "--format", "{{.Name}}", "--filter", f"name={name}") == name

    info = json.loads(docker.out("network", "inspect", name))
    assert len(info) == 1 and info[0]["Id"] == nid and info[0]["Driver"] == "bridge"
    assert info[0]["Labels"] == {"team": "a"} and info[0]["Containers"] == {}
    subnet = docker.out("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", name)
    assert re.fullmatch(r"\d+\.\d+\.\d+\.0/24", subnet), subnet

    dup = docker("network", "create", "--subnet", subnet, f"dup{TAG}", check=False)
    assert dup.returncode == 1
    assert dup.stderr.decode().startswith("Error response from daemon: ") and "overlaps" in dup.stderr.decode()
    again = docker("network", "create", name, check=False)
    assert again.returncode == 1 and f"network with name {name} already exists" in again.stderr.decode()

    missing = docker("network", "inspect", f"nope{TAG}", check=False)
    assert missing.returncode == 1 and f"nope{TAG}" in missing.stderr.decode()
    assert missing.stdout.decode().strip() == "[]"

    assert docker.out("network", "rm", name) == name
    assert name not in docker.out("network", "ls", "--format", "{{.Name}}").split()
    gone = docker("network", "rm", name, check=False)
    assert gone.returncode == 1 and gone.stderr.decode().startswith("Error response from daemon: ")
    builtin = docker("network", "rm", "bridge", check=False)
    assert builtin.returncode == 1 and "pre-defined" in builtin.stderr.decode()


def test_names_and_aliases_resolve_on_a_user_network(docker):
    net = f"app{TAG}"
    docker("network", "create", "-o", f"com.docker.network.bridge.name=bt{TAG}a", net)
    docker("run", "-d", "--name", "web", "--network", net, "--network-alias", "www", "busybox", *serve("hi-web"))
    for target in ("web", "www", f"web.{net}"):
        proc = docker("run", "--rm", "--network", net, "busybox", *wget_loop(f"http://{target}/"))
        assert proc.stdout == b"hi-web\n", target
    web_ip = docker.out("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "web")
    lookup = docker("run", "--rm", "--network", net, "busybox", "nslookup", "www", "127.0.0.11")
    assert lookup.returncode == 0 and web_ip in lookup.stdout.decode()
    aliases = docker.out("inspect", "-f", f"{{{{json (index .NetworkSettings.Networks \"{net}\").Aliases}}}}", "web")
    assert "www" in json.loads(aliases)

    # the default bridge has no names
    plain = docker("run", "--rm", "busybox", "nslookup", "web", check=False)
    assert plain.returncode != 0 and web_ip not in plain.stdout.decode()

    in_use = docker("network", "rm", net, check=False)
    assert in_use.returncode == 1
    assert in_use.stderr.decode().startswith("Error response from daemon: ") and "active endpoints" in \
        in_use.stderr.decode()
    docker("rm", "-f", "web")
    assert docker.out("network", "rm", net) == net


def test_connect_disconnect(docker):
    front, back = f"front{TAG}", f"back{TAG}"
    docker("network", "create", "-o", f"com.docker.network.bridge.name=bt{TAG}f", front)
    docker("network", "create", "-o", f"com.docker.network.bridge.name=bt{TAG}b", back)
    docker("run", "-d", "--name", "api", "--network", back, "busybox", *serve("from-back"))
    docker("run", "-d", "--name", "mover", "--network", front, "busybox", "sleep", "600")

    cut = docker("exec", "mover", "sh", "-c", "timeout 2 wget -qO- http://api/", check=False)
    assert cut.returncode != 0  # another network's name is not known
    proc = docker("network", "connect", "--alias", "mv", back, "mover")
    assert proc.stdout == b"" and proc.returncode == 0
    assert docker("exec", "mover", *wget_loop("http://api/")).stdout == b"from-back\n"
    addrs = docker.out("exec", "mover", "ip", "-o", "-4", "addr")
    assert " eth0 " in addrs and " eth1 " in addrs
    names = json.loads(docker.out("network", "inspect", "-f", "{{json .Containers}}", back))
    assert sorted(v["Name"] for v in names.values()) == ["api", "mover"]
    dup = docker("network", "connect", back, "mover", check=False)
    assert dup.returncode == 1 and dup.stderr.decode().startswith("Error response from daemon: ")

    assert docker("network", "disconnect", back, "mover").stdout == b""
    assert " eth1 " not in docker.out("exec", "mover", "ip", "-o", "-4", "addr")
    assert docker("exec", "mover", "sh", "-c", "timeout 2 wget -qO- http://api/", check=False).returncode != 0
    not_attached = docker("network", "disconnect", back, "mover", check=False)
    assert not_attached.returncode == 1 and "is not connected to network" in not_attached.stderr.decode()

    docker("rm", "-f", "mover", "api")
    pruned = docker.out("network", "prune", "-f")
    assert pruned.startswith("Deleted Networks:") and front in pruned and back in pruned
    assert set(docker.out("network", "ls", "--format", "{{.Name}}").split()) == {"bridge", "host", "none"}


def test_run_publish_and_port(docker):
    docker("run", "-d", "--name", "pub", "-p", "127.0.0.1::80", "-p", "127.0.0.1::53/udp", "busybox",
           *serve("published"))
    lines = docker.out("port", "pub").splitlines()
    mapping = dict(line.split(" -> ") for line in lines)
    assert sorted(mapping) == ["53/udp", "80/tcp"]
    host, _, port = mapping["80/tcp"].rpartition(":")
    assert host == "127.0.0.1" and port.isdigit()
    assert docker.out("port", "pub", "80/tcp") == mapping["80/tcp"]
    assert docker.out("port", "pub", "80") == mapping["80/tcp"]
    assert host_get(f"http://127.0.0.1:{port}/") == "published\n"
    assert docker.out("inspect", "-f", '{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}', "pub") == port
    assert f"127.0.0.1:{port}->80/tcp" in docker.out("ps", "--format", "{{.Ports}}", "--filter", "name=pub")
    missing = docker("port", "pub", "81", check=False)
    assert missing.returncode == 1 and missing.stderr.decode().strip() == "Error: No public port '81' published for pub"

    taken = docker("run", "-d", "--name", "clash", "-p", f"127.0.0.1:{port}:80", "busybox", "sleep", "600",
                   check=False)
    assert taken.returncode == 125 and "already allocated" in taken.stderr.decode(), taken.stderr
    assert docker.out("inspect", "-f", "{{.State.Running}}", "clash") == "false"
    bad = docker("run", "--rm", "-p", "127.0.0.1:99999:80", "busybox", "true", check=False)
    assert bad.returncode == 125 and bad.stderr.decode().startswith("docker: ")

    docker("rm", "-f", "pub", "clash")
    with socket.socket() as s:
        s.bind(("127.0.0.1", int(port)))  # released with the container
