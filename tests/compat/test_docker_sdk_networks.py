"""The Docker SDK for Python drives barge's networks: ``networks.create``
with an IPAM config, ``get``/``list``, ``connect`` with aliases and a static
address, ``disconnect``, ``remove``, ``prune``; ``containers.run(ports=...)``
and ``container.ports``; errors as ``APIError`` with docker's status codes.

Bridges made here are named ``bt<tag>...``; a fixed subnet is a free /24 of
10.240.0.0/12 (neither another network of the daemon nor a host route).
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.request
import uuid

import pytest

from barge.testing.wait import wait_for
from tests.conftest import make_busybox, require_exec_driver
from tests.net_helpers import free_subnet, serve, wget_loop

pytestmark = pytest.mark.compat

TAG = uuid.uuid4().hex[:4]
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def sdk(docker_sdk, daemon):
    require_exec_driver()
    make_busybox(daemon)
    return docker_sdk


def bridge_opt(suffix: str) -> dict:
    return {"com.docker.network.bridge.name": f"bt{TAG}{suffix}"}


def test_create_with_ipam_get_list_remove(sdk):
    import docker
    import docker.errors

    subnet = free_subnet(sdk.api.networks(), TAG)
    gateway = str(subnet[1])
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=str(subnet), gateway=gateway,
                                                                       iprange=str(list(subnet.subnets(1))[1]))])
    net = sdk.networks.create(f"sdk{TAG}", driver="bridge", ipam=ipam, labels={"team": "sdk"},
                              options=bridge_opt("s"), internal=True)
    assert len(net.id) == 64 and net.name == f"sdk{TAG}"
    got = sdk.networks.get(net.id[:12])
    assert got.id == net.id and got.attrs["Internal"] is True and got.attrs["Labels"] == {"team": "sdk"}
    assert got.attrs["IPAM"]["Config"] == [{"Subnet": str(subnet), "Gateway": gateway,
                                            "IPRange": str(list(subnet.subnets(1))[1])}]
    assert [n.id for n in sdk.networks.list(names=[f"sdk{TAG}"])] == [net.id]
    assert [n.id for n in sdk.networks.list(filters={"label": "team=sdk"})] == [net.id]
    assert {"bridge", "host", "none", f"sdk{TAG}"} <= {n.name for n in sdk.networks.list()}

    with pytest.raises(docker.errors.APIError) as err:
        sdk.networks.create(f"over{TAG}", ipam=docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=str(subnet.supernet(new_prefix=20)))]), options=bridge_opt("o"))
    assert err.value.status_code == 403 and "overlaps" in str(err.value.explanation)
    with pytest.raises(docker.errors.APIError) as err:
        sdk.networks.create(f"sdk{TAG}", options=bridge_opt("d"))
    assert err.value.status_code == 409
    with pytest.raises(docker.errors.NotFound):
        sdk.networks.get(f"nope{TAG}")

    c = sdk.containers.run("busybox", "sleep 600", detach=True, name="ranged", network=net.name)
    c.reload()
    address = ipaddress.ip_address(c.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"])
    assert address in list(subnet.subnets(1))[1]  # from the ip-range
    with pytest.raises(docker.errors.APIError) as err:
        net.remove()
    assert err.value.status_code == 403 and "active endpoints" in str(err.value.explanation)
    c.remove(force=True)
    net.remove()
    with pytest.raises(docker.errors.NotFound):
        sdk.networks.get(net.id)


def test_connect_with_aliases_and_address_then_disconnect(sdk):
    import docker.errors

    subnet = free_subnet(sdk.api.networks(), TAG)
    back = sdk.networks.create(f"back{TAG}", ipam=docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet=str(subnet))]), options=bridge_opt("b"))
    front = sdk.networks.create(f"front{TAG}", options=bridge_opt("f"))
    server = sdk.containers.run("busybox", serve("sdk-back"), detach=True, name="server", network=back.name)
    mover = sdk.containers.run("busybox", "sleep 600", detach=True, name="mover", network=front.name)

    static = str(subnet[42])
    back.connect(mover, aliases=["mv", "moved"], ipv4_address=static)
    mover.reload()
    endpoint = mover.attrs["NetworkSettings"]["Networks"][back.name]
    assert endpoint["IPAddress"] == static and {"mv", "moved"} <= set(endpoint["Aliases"])
    back.reload()
    assert {c.name for c in back.containers} == {"server", "mover"}
    code, out = mover.exec_run(wget_loop("http://server/"))
    assert (code, out) == (0, b"sdk-back\n")
    code, out = server.exec_run(["nslookup", "moved", "127.0.0.11"])
    assert code == 0 and static.encode() in out

    with pytest.raises(docker.errors.APIError) as err:
        back.connect(mover)
    assert err.value.status_code == 403
    with pytest.raises(docker.errors.APIError) as err:
        front.connect(server, ipv4_address=static)  # not in front's subnet
    assert err.value.status_code == 400
    with pytest.raises(docker.errors.NotFound):
        back.connect("no-such-container")

    back.disconnect(mover)
    mover.reload()
    assert back.name not in mover.attrs["NetworkSettings"]["Networks"]
    code, out = mover.exec_run(["sh", "-c", "timeout 2 wget -qO- http://server/"])
    assert code != 0
    back.reload()
    assert [c.name for c in back.containers] == ["server"]

    mover.remove(force=True)
    server.remove(force=True)
    pruned = sdk.networks.prune()
    assert set(pruned["NetworksDeleted"]) == {back.name, front.name}
    assert {n.name for n in sdk.networks.list()} == {"bridge", "host", "none"}


def test_run_with_published_ports(sdk):
    import docker.errors

    c = sdk.containers.run("busybox", serve("sdk-port"), detach=True, name="pub",
                           ports={"80/tcp": ("127.0.0.1", None), "53/udp": ("127.0.0.1", None)})
    c.reload()
    assert set(c.ports) == {"80/tcp", "53/udp"}
    [binding] = c.ports["80/tcp"]
    assert binding["HostIp"] == "127.0.0.1" and binding["HostPort"].isdigit()
    assert sdk.api.port(c.id, 80) == [binding]
    port = int(binding["HostPort"])
    def get() -> tuple[bytes]:
        with OPENER.open(f"http://127.0.0.1:{port}/", timeout=2) as resp:
            return (resp.read(),)  # in a tuple: an empty body is an answer too

    assert wait_for(get, 10, interval=0.1, ignore=(OSError,), what=f"port {port} to answer")[0] == b"sdk-port\n"

    with pytest.raises(docker.errors.APIError) as err:
        sdk.containers.run("busybox", "sleep 600", detach=True, name="clash", ports={"80/tcp": ("127.0.0.1", port)})
    assert "already allocated" in str(err.value.explanation)
    clash = sdk.containers.get("clash")
    assert clash.status == "created"
    with pytest.raises(docker.errors.APIError) as err:
        sdk.containers.create("busybox", "true", ports={"80/xyz": 8080})
    assert err.value.status_code == 400
    lost = sdk.containers.create("busybox", "true", network=f"nonet{TAG}")  # as dockerd: the network is looked up at start
    with pytest.raises(docker.errors.APIError) as err:
        lost.start()
    assert err.value.status_code == 404 and f"network nonet{TAG} not found" in str(err.value.explanation)
    lost.remove(force=True)

    c.remove(force=True)
    clash.remove(force=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # released with the container
