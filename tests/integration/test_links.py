"""Legacy links (``Links``, ``--link``) through the API with real containers on the test daemon's
default bridge: the parent's /etc/hosts entry and ``<ALIAS>_...`` environment (moby's
``daemon/links``), the link's name (inspect, ps, lookups, ``rm --link``), a child started again
at another address, user-defined networks (the endpoint's ``Links`` through the embedded DNS),
and every refusal with dockerd 20.10's words (checked against the reference dockerd where it
answers without a bridge).
"""

from __future__ import annotations

import json
import uuid

import pytest

from barge.testing.wait import wait_for
from tests.integration.helpers import create, inspect, output, rm, run

pytestmark = pytest.mark.daemon

TAG = uuid.uuid4().hex[:6]


def bridge_ip(box, cid: str) -> str:
    return inspect(box, cid)["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]


@pytest.fixture
def db(box):
    """A running child ``db-<tag>`` exposing 80/tcp and 53/udp, with an environment of its own."""
    name = f"db-{TAG}"
    cid = run(box, ["sleep", "300"], name, Env=["SECRET=s3", "HOME=/root"],
              ExposedPorts={"80/tcp": {}, "53/udp": {}})
    yield name, cid
    rm(box, cid)


def test_hosts_entry_and_environment_as_dockerd_writes_them(box, db):
    name, cid = db
    ip = bridge_ip(box, cid)
    out = output(box, ["sh", "-c", "cat /etc/hosts; echo ---; env | sort"], HostConfig={"Links": [f"{name}:data-base"]})
    hosts, _, env = out.partition("---\n")
    assert f"{ip}\tdata-base {cid[:12]} {name}\n" in hosts
    variables = set(env.split("\n"))
    expected = {
        f"DATA_BASE_PORT=udp://{ip}:53",  # the lowest port number is the default (moby's getDefaultPort)
        f"DATA_BASE_PORT_80_TCP=tcp://{ip}:80", f"DATA_BASE_PORT_80_TCP_ADDR={ip}",
        "DATA_BASE_PORT_80_TCP_PORT=80", "DATA_BASE_PORT_80_TCP_PROTO=tcp",
        f"DATA_BASE_PORT_53_UDP=udp://{ip}:53", f"DATA_BASE_PORT_53_UDP_ADDR={ip}",
        "DATA_BASE_PORT_53_UDP_PORT=53", "DATA_BASE_PORT_53_UDP_PROTO=udp",
        "DATA_BASE_ENV_SECRET=s3",
    }
    assert expected <= variables, expected - variables
    assert not any(v.startswith("DATA_BASE_ENV_HOME=") or v.startswith("DATA_BASE_ENV_PATH=") for v in variables)
    assert any(v.startswith("DATA_BASE_NAME=/") and v.endswith("/data-base") for v in variables)


def test_alias_equal_to_the_name_is_written_once_and_the_container_s_env_wins(box, db):
    name, cid = db
    ip = bridge_ip(box, cid)
    out = output(box, ["sh", "-c", "grep -v localhost /etc/hosts; echo ---; env"], HostConfig={"Links": [name]},
                 Env=[f"{name.upper().replace('-', '_')}_ENV_SECRET=mine"])
    assert f"{ip}\t{name} {cid[:12]}\n" in out
    assert f"{name.upper().replace('-', '_')}_ENV_SECRET=mine" in out.split("\n")


def test_link_name_inspect_ps_lookup_and_rm_link(box, db):
    name, cid = db
    parent = create(box, f"web-{TAG}", Cmd=["true"], HostConfig={"Links": [f"{name}:alias"]})
    try:
        assert inspect(box, parent)["HostConfig"]["Links"] == [f"/{name}:/web-{TAG}/alias"]
        assert inspect(box, f"web-{TAG}/alias")["Id"] == cid  # the link's name finds the child
        rows = box.json("GET", "/containers/json?all=1")
        assert next(r for r in rows if r["Id"] == cid)["Names"] == [f"/{name}", f"/web-{TAG}/alias"]
        status, _, data = box.request("POST", f"/containers/web-{TAG}/rename?name=web2-{TAG}")
        assert status == 204, data
        assert inspect(box, parent)["HostConfig"]["Links"] == [f"/{name}:/web2-{TAG}/alias"]
        status, _, data = box.request("DELETE", f"/containers/{name}?link=1")
        assert status == 409 and json.loads(data)["message"] == \
            "Conflict, cannot remove the default link name of the container"
        status, _, data = box.request("DELETE", f"/containers/web2-{TAG}/alias?link=1")
        assert status == 204, data
        assert inspect(box, parent)["HostConfig"]["Links"] is None
        assert inspect(box, cid)["State"]["Running"]  # the child stays
        status, _, data = box.request("GET", f"/containers/web2-{TAG}/alias/json")
        assert status == 404 and json.loads(data)["message"] == f"No such container: web2-{TAG}/alias"
    finally:
        rm(box, parent)


def test_a_child_started_again_updates_the_running_parent_s_hosts(box):
    child = run(box, ["sleep", "300"], f"kid-{TAG}")
    parent = run(box, ["sleep", "300"], HostConfig={"Links": [f"kid-{TAG}:k"]})
    blocker = None
    try:
        hosts = f"/proc/{inspect(box, parent)['State']['Pid']}/root/etc/hosts"
        old = bridge_ip(box, child)
        assert f"{old}\tk " in open(hosts).read()
        box.request("POST", f"/containers/{child}/stop?t=0")
        blocker = run(box, ["sleep", "300"])  # takes the freed address, so the child gets another
        box.request("POST", f"/containers/{child}/start")
        new = bridge_ip(box, child)
        assert new != old
        wait_for(lambda: f"{new}\tk " in open(hosts).read(), 5, what="the parent's hosts entry to follow")
    finally:
        for cid in (parent, child, blocker):
            if cid:
                rm(box, cid)


def test_removing_the_child_drops_the_link(box):
    child = create(box, f"gone-{TAG}", Cmd=["true"])
    parent = create(box, Cmd=["true"], HostConfig={"Links": [f"gone-{TAG}:g"]})
    try:
        rm(box, child)
        assert inspect(box, parent)["HostConfig"]["Links"] is None
        status, _, data = box.request("POST", f"/containers/{parent}/start")
        assert status == 204, data
    finally:
        rm(box, parent)


def test_user_defined_network_links_resolve_through_the_embedded_dns(box):
    net = f"lk{TAG}"
    status, _, data = box.request("POST", "/networks/create", {"Name": net})
    assert status == 201, data
    target = run(box, ["sleep", "300"], f"tgt-{TAG}", HostConfig={"NetworkMode": net})
    try:
        ip = inspect(box, target)["NetworkSettings"]["Networks"][net]["IPAddress"]
        out = output(box, ["nslookup", "dbalias"], HostConfig={"NetworkMode": net, "Links": [f"tgt-{TAG}:dbalias"]},
                     NetworkingConfig={"EndpointsConfig": {net: {"Links": [f"tgt-{TAG}:dbalias"]}}})
        assert ip in out, out
        assert ip not in output(box, ["nslookup", "dbalias"], HostConfig={"NetworkMode": net})  # its own link only
        # dockerd registers no link on a user-defined network: nothing to check, nothing in inspect
        cid = create(box, Cmd=["true"], HostConfig={"NetworkMode": net, "Links": ["nosuch:x"]},
                     NetworkingConfig={"EndpointsConfig": {net: {"Links": ["nosuch:x"]}}})
        info = inspect(box, cid)
        assert info["HostConfig"]["Links"] is None
        assert info["NetworkSettings"]["Networks"][net]["Links"] == ["nosuch:x"]
        rm(box, cid)
    finally:
        rm(box, target)
        box.request("DELETE", f"/networks/{net}")


def test_refusals_with_dockerd_s_words(box, db):
    name, _ = db
    assert create(box, expect=400, Cmd=["true"], HostConfig={"Links": ["nosuch"]}) == \
        "could not get container for nosuch: No such container: nosuch"
    assert create(box, expect=400, Cmd=["true"], HostConfig={"NetworkMode": "host", "Links": [name]}) == \
        "conflicting options: host type networking can't be used with links. This would result in undefined behavior"
    assert create(box, expect=400, Cmd=["true"], HostConfig={"NetworkMode": f"container:{name}", "Links": [name]}) == \
        ("conflicting options: container type network can't be used with links. "
         "This would result in undefined behavior")
    assert create(box, expect=400, Cmd=["true"], HostConfig={"Links": ["a:b:c"]}) == "bad format for links: a:b:c"
    assert create(box, expect=400, Cmd=["true"], HostConfig={"Links": [""]}) == "empty string specified for links"
    host_child = create(box, Cmd=["true"], HostConfig={"NetworkMode": "host"})
    try:
        assert create(box, expect=400, Cmd=["true"], HostConfig={"Links": [host_child]}) == \
            ("conflicting options: host type networking can't be used with links. "
             "This would result in undefined behavior")
    finally:
        rm(box, host_child)


def test_a_stopped_child_fails_the_parent_s_start(box):
    child = create(box, f"idle-{TAG}", Cmd=["true"])
    parent = create(box, f"par-{TAG}", Cmd=["true"], HostConfig={"Links": [f"idle-{TAG}:i"]})
    try:
        status, _, data = box.request("POST", f"/containers/{parent}/start")
        assert status == 409, data
        assert json.loads(data)["message"] == f"Cannot link to a non running container: /idle-{TAG} AS /par-{TAG}/i"
        assert not inspect(box, parent)["State"]["Running"]
        # on --network none the link is kept but nothing is needed of the child at start (dockerd)
        other = create(box, Cmd=["true"], HostConfig={"NetworkMode": "none", "Links": [f"idle-{TAG}:i"]})
        try:
            assert inspect(box, other)["HostConfig"]["Links"] == [f"/idle-{TAG}:{inspect(box, other)['Name']}/i"]
            status, _, data = box.request("POST", f"/containers/{other}/start")
            assert status == 204, data
        finally:
            rm(box, other)
    finally:
        rm(box, parent)
        rm(box, child)


def test_barge_cli_link(box, db):
    """``barge run --link`` sends what the docker CLI 28 sends (HostConfig.Links) and gets the same container."""
    from tests.integration.test_cli_containers import barge, text

    name, cid = db
    out = text(barge(box, "run", "--rm", "--link", f"{name}:d", "busybox", "sh", "-c", "grep -c '\td ' /etc/hosts; "
                     "echo $D_ENV_SECRET"))
    assert out.split() == ["1", "s3"], out
    bad = barge(box, "run", "--rm", "--link", "a:b:c", "busybox", "true", check=False)
    assert bad.returncode == 125 and b'invalid argument "a:b:c" for "--link" flag' in bad.stderr + bad.stdout
