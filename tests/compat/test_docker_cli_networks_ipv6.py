"""The real docker CLI on issue 12's network features: ``network create --ipv6
--subnet --aux-address -o``, ``run --ip6 --link-local-ip``, ``-p [::1]:...``,
and dockerd 20.10's refusals as docker prints them.

Bridges are ``bt<tag>...``; IPv6 subnets unique-local ``fdb9:<tag>:<n>::/64``
(the host's fd00::/64 is left alone). Traffic goes only to ::1 and to the
containers made here.
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests.compat.test_docker_cli_networks import host_get
from tests.conftest import make_busybox, require_exec_driver
from tests.net_helpers import serve

pytestmark = pytest.mark.compat

TAG = format(int(uuid.uuid4().hex[:4], 16) | 0x1000, "x")  # no leading zero: addresses read back canonical


@pytest.fixture
def docker(docker_cli, daemon):
    require_exec_driver()
    with open("/proc/sys/net/ipv6/conf/all/disable_ipv6") as fh:
        if fh.read().strip() != "0":
            pytest.skip("IPv6 is disabled on this host (net.ipv6.conf.all.disable_ipv6 = 1)")
    make_busybox(daemon)
    made: list[tuple[str, ...]] = []
    docker_cli.made = made
    yield docker_cli
    for args in reversed(made):
        docker_cli(*args, check=False)


def test_dual_stack_network_run_ip6_link_local(docker):
    name, v6 = f"v6{TAG}", f"fdb9:{TAG}:1::/64"
    docker.out("network", "create", "--ipv6", "--subnet", v6, "--aux-address", f"gw2=fdb9:{TAG}:1::2",
               "-o", f"com.docker.network.bridge.name=bt{TAG}v6", name)
    docker.made.append(("network", "rm", name))
    info = json.loads(docker.out("network", "inspect", name))[0]
    assert info["EnableIPv6"] is True
    assert {"Subnet": v6, "AuxiliaryAddresses": {"gw2": f"fdb9:{TAG}:1::2"}} in info["IPAM"]["Config"]

    docker.out("run", "-d", "--name", f"a{TAG}", "--network", name, "busybox", "sleep", "600")
    docker.made.append(("rm", "-f", f"a{TAG}"))
    # ::2 is an aux address: the first container gets ::3
    assert docker.out("inspect", "-f", f"{{{{.NetworkSettings.Networks.{name}.GlobalIPv6Address}}}}",
                      f"a{TAG}") == f"fdb9:{TAG}:1::3"
    out = docker.out("run", "--rm", "--network", name, "--ip6", f"fdb9:{TAG}:1::66", "--link-local-ip",
                     "169.254.8.8", "--link-local-ip", "fe80::88", "busybox", "sh", "-c",
                     f"ip addr show eth0 && ping -6 -c1 -W2 a{TAG}")
    for line in (f"inet6 fdb9:{TAG}:1::66/64", "inet 169.254.8.8/16", "inet6 fe80::88/64",
                 f"64 bytes from fdb9:{TAG}:1::3"):
        assert line in out, out


def test_publish_on_ipv6_loopback(docker):
    cid = docker.out("run", "-d", "-p", "[::1]::80", "busybox", *serve("six"))
    docker.made.append(("rm", "-f", cid))
    port = docker.out("port", cid, "80/tcp")
    assert port.startswith("[::1]:"), port
    assert host_get(f"http://{port}/") == "six\n"


@pytest.mark.parametrize("args, message", [  # what docker prints against dockerd 20.10.24
    (["network", "create", "--ipv6", f"bad{TAG}"],
     "Error response from daemon: could not find an available, non-overlapping IPv6 address pool among the "
     "defaults to assign to the network"),
    (["network", "create", "--subnet", "10.254.88.0/24", "--aux-address", "a=10.254.88.1", f"bad{TAG}"],
     "Error response from daemon: failed to allocate secondary ip address (a:10.254.88.1): Address already in use"),
    (["network", "create", "-o", "com.docker.network.driver.mtu=abc", f"bad{TAG}"],
     'Error response from daemon: failed to parse com.docker.network.driver.mtu value: abc (strconv.Atoi: '
     'parsing "abc": invalid syntax)'),
    (["run", "--rm", "--ip6", "fd00:1::5", "busybox", "true"],
     "docker: Error response from daemon: user specified IP address is supported on user defined networks only"),
])
def test_refusals(docker, args, message):
    proc = docker(*args, check=False)
    docker.made.append(("network", "rm", f"bad{TAG}"))
    assert proc.returncode in (1, 125) and proc.stderr.decode().splitlines()[0] == message, proc.stderr
