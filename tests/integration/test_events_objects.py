"""``GET /events`` for every object kind dockerd reports, with dockerd 20.10's Type, Action and attributes.

The expected messages were read off the reference dockerd (the same
operations, its event stream): exec's ``exec_create: <cmd>`` and
``exec_start: <cmd>`` with ``execID``, ``exec_die`` with ``exitCode``,
``exec_detach``; a container's ``top``, ``resize`` (height, width),
``attach`` and ``detach``; network ``connect``/``disconnect`` (container,
name, type); and ``daemon reload`` on SIGHUP, whose attributes are the
reloaded settings. Image events name the image by its id except ``tag``;
``pull`` and ``push`` are named by the reference asked for, once per
request, with no ``tag`` event for what a pull or a load tags; a volume's
``create`` is announced again each time a create names it. Each is read back with ``since``/``until``; the last
test runs ``docker events --filter`` against the daemon.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from barge.testing.wait import wait_for
from tests.conftest import Daemon, remove_tree
from tests.integration.helpers import UPGRADE, Raw, rm, run


def events(d: Daemon, since: float, filters: dict | None = None) -> list[dict]:
    query = f"since={since}&until={time.time() + 0.01}"
    if filters is not None:
        query += "&filters=" + quote(json.dumps(filters))
    status, _, data = d.request("GET", f"/events?{query}")
    assert status == 200, data
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def exec_create(d: Daemon, cid: str, cmd: list[str], expect: int = 201, **body):
    status, _, data = d.request("POST", f"/v1.47/containers/{cid}/exec",
                                dict({"AttachStdout": True, "AttachStderr": True}, Cmd=cmd, **body))
    assert status == expect, data
    return json.loads(data)["Id"] if expect == 201 else json.loads(data)["message"]


def exec_start(d: Daemon, eid: str, tty: bool = False) -> Raw:
    payload = json.dumps({"Detach": False, "Tty": tty}).encode()
    return Raw(d, "POST", f"/v1.47/exec/{eid}/start", dict(UPGRADE, **{"Content-Type": "application/json"}), payload)


@pytest.fixture
def sleeper(box):
    cid = run(box, ["sleep", "600"], name=f"ev-obj-{os.urandom(3).hex()}", Labels={"team": "red"})
    yield cid
    rm(box, cid)


def test_exec_events(box, sleeper):
    t0 = time.time()
    eid = exec_create(box, sleeper, ["sh", "-c", "exit 3"])
    exec_start(box, eid).read_all()
    got = [e for e in events(box, t0, {"container": [sleeper]}) if e["Action"].startswith("exec_")]
    name = json.loads(box.request("GET", f"/containers/{sleeper}/json")[2])["Name"].lstrip("/")
    base = {"image": "busybox", "name": name, "team": "red", "execID": eid}
    assert [(e["Action"], e["Actor"]["Attributes"]) for e in got] == [
        ("exec_create: sh -c exit 3", base), ("exec_start: sh -c exit 3", base),
        ("exec_die", dict(base, exitCode="3"))]
    assert got[0]["status"] == "exec_create: sh -c exit 3" and got[0]["from"] == "busybox"
    # the fuzzy event filter of dockerd: "exec_create" matches "exec_create: <cmd>"
    assert [e["Action"] for e in events(box, t0, {"event": ["exec_create"]})] == ["exec_create: sh -c exit 3"]


def test_exec_detach_keys_leave_the_process_running(box, sleeper):
    t0 = time.time()
    eid = exec_create(box, sleeper, ["sh"], Tty=True, AttachStdin=True, DetachKeys="ctrl-a,x")
    r = exec_start(box, eid, tty=True)
    r.sock.sendall(b"echo up-$((4+4))\n")
    r.read_until(b"up-8")
    r.sock.sendall(b"\x01x")
    r.read_all()  # the stream ends at the detach keys
    r.close()
    state = json.loads(box.request("GET", f"/exec/{eid}/json")[2])
    assert state["Running"] is True and state["ExitCode"] is None
    detach = [e for e in events(box, t0, {"container": [sleeper]}) if e["Action"] == "exec_detach"]
    assert len(detach) == 1 and detach[0]["Actor"]["Attributes"]["execID"] == eid
    os.kill(state["Pid"], 9)
    wait_for(lambda: json.loads(box.request("GET", f"/exec/{eid}/json")[2])["ExitCode"] == 137, timeout=10,
             what="the detached exec's exit")


def test_exec_refuses_bad_detach_keys(box, sleeper):
    # dockerd 20.10 answers this with a 500 and the same text; a bad request is a 400 here
    assert exec_create(box, sleeper, ["ls"], expect=400, DetachKeys="ctrl-1") == "Invalid escape keys (ctrl-1) provided"


def test_top_resize_attach_detach(box):
    cid = run(box, ["sh"], Tty=True, OpenStdin=True, AttachStdin=True)
    try:
        t0 = time.time()
        status, _, data = box.request("GET", f"/containers/{cid}/top")
        assert status == 200, data
        status, _, data = box.request("POST", f"/containers/{cid}/resize?h=20&w=30")
        assert status == 200, data
        r = Raw(box, "POST", f"/v1.47/containers/{cid}/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x", UPGRADE)
        r.sock.sendall(b"\x18")
        r.read_all()
        r.close()
        got = events(box, t0, {"container": [cid]})
        assert [e["Action"] for e in got] == ["top", "resize", "attach", "detach"]
        assert got[1]["Actor"]["Attributes"]["height"] == "20" and got[1]["Actor"]["Attributes"]["width"] == "30"
    finally:
        rm(box, cid)


def test_network_connect_and_disconnect(box):
    t0 = time.time()
    status, _, data = box.request("POST", "/networks/create", {"Name": "ev-net", "Labels": {"tier": "a"}})
    assert status == 201, data
    nid = json.loads(data)["Id"]
    cid = run(box, ["sleep", "600"])
    try:
        status, _, data = box.request("POST", f"/networks/{nid}/connect", {"Container": cid})
        assert status == 200, data
        status, _, data = box.request("POST", f"/networks/{nid}/disconnect", {"Container": cid})
        assert status == 200, data
    finally:
        rm(box, cid)
    box.request("DELETE", f"/networks/{nid}")
    got = events(box, t0, {"network": ["ev-net"]})
    assert [(e["Type"], e["Action"]) for e in got] == [("network", "create"), ("network", "connect"),
                                                       ("network", "disconnect"), ("network", "destroy")]
    assert all(e["Actor"]["ID"] == nid and "status" not in e for e in got)
    assert got[0]["Actor"]["Attributes"] == {"name": "ev-net", "type": "bridge"}
    assert got[1]["Actor"]["Attributes"] == {"container": cid, "name": "ev-net", "type": "bridge"}
    # the container's start and stop on the default bridge are connect and disconnect too
    bridge = [e["Action"] for e in events(box, t0, {"type": ["network"], "network": ["bridge"]})
              if e["Actor"]["Attributes"].get("container") == cid]
    assert bridge == ["connect", "disconnect"]


def _reload_event(box: Daemon, t0: float) -> dict | None:
    got = events(box, t0, {"type": ["daemon"], "event": ["reload"]})
    return got[-1] if got else None


def test_daemon_reload_on_sighup(box):
    config = box.config_file
    assert not config.exists()
    info = json.loads(box.request("GET", "/info")[2])
    try:
        t0 = time.time()
        config.write_text('labels = ["zone=a", "rack=7"]\n\n[registry]\ninsecure_registries = ["10.9.0.0/16"]\n'
                          "max_concurrent_downloads = 7\n")
        os.kill(box.pid, signal.SIGHUP)
        ev = wait_for(lambda: _reload_event(box, t0), timeout=10, what="the daemon reload event")
        assert ev["Type"] == "daemon" and ev["Actor"]["ID"] == info["ID"] and ev["scope"] == "local"
        assert "status" not in ev
        assert ev["Actor"]["Attributes"] == {
            "allow-nondistributable-artifacts": "[]", "debug": "true",  # --debug on the command line wins
            "insecure-registries": '["10.9.0.0/16"]', "labels": '["zone=a","rack=7"]', "live-restore": "false",
            "max-concurrent-downloads": "7", "max-concurrent-uploads": "5", "name": info["Name"],
            "registry-mirrors": "[]"}
        now = json.loads(box.request("GET", "/info")[2])
        assert now["Labels"] == ["zone=a", "rack=7"] and now["Debug"] is True
        assert "10.9.0.0/16" in now["RegistryConfig"]["InsecureRegistryCIDRs"]
        # a file that does not parse changes nothing, and no event says it did
        t1 = time.time()
        config.write_text("labels = [\n")
        os.kill(box.pid, signal.SIGHUP)
        wait_for(lambda: b"Error reconfiguring the daemon" in box.log_path.read_bytes(), timeout=10,
                 what="the reload error in the log")
        assert _reload_event(box, t1) is None
        assert json.loads(box.request("GET", "/info")[2])["Labels"] == ["zone=a", "rack=7"]
    finally:
        config.unlink(missing_ok=True)
        t2 = time.time()
        os.kill(box.pid, signal.SIGHUP)  # back to the defaults for the module's other tests
        wait_for(lambda: _reload_event(box, t2), timeout=10, what="the reload back to the defaults")
    assert json.loads(box.request("GET", "/info")[2])["Labels"] == []


def test_docker_events_filters(box, sleeper):
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    t0 = time.time()
    eid = exec_create(box, sleeper, ["true"])
    exec_start(box, eid).read_all()
    box.request("GET", f"/containers/{sleeper}/top")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST=box.url, DOCKER_CONFIG=str(box.root / "docker-config"))
    proc = subprocess.run(
        ["docker", "events", "--since", f"{t0:.3f}", "--until", f"{time.time() + 0.01:.3f}",
         "--filter", f"container={sleeper}", "--filter", "event=exec_die", "--filter", "event=top",
         "--filter", "type=container", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.exitCode}}"],
        env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["container exec_die 0", "container top <no value>"]


def _tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _image(box: Daemon, ref: str) -> dict:
    status, _, data = box.request("GET", f"/images/{ref}/json")
    assert status == 200, data
    return json.loads(data)


def test_image_events_name_the_image_as_dockerd(box):
    t0 = time.time()
    image_id = _image(box, "busybox")["Id"]
    for tag in ("1", "2"):
        assert box.request("POST", f"/images/busybox/tag?repo=evimg&tag={tag}")[0] == 201
    status, _, saved = box.request("GET", "/images/evimg:1/get")
    assert status == 200
    assert box.request("DELETE", "/images/evimg:2")[0] == 200
    status, _, data = box.request("POST", "/images/create?fromSrc=-&repo=evimp&tag=1", _tar_of({"f": b"x"}),
                                  {"Content-Type": "application/x-tar"})
    assert status == 200, data
    imported = _image(box, "evimp:1")["Id"]
    assert box.request("DELETE", "/images/evimp:1")[0] == 200
    assert box.request("DELETE", "/images/evimg:1")[0] == 200
    status, _, data = box.request("POST", "/images/load?quiet=1", saved, {"Content-Type": "application/x-tar"})
    assert status == 200, data
    try:
        got = [(e["Action"], e["Actor"]["ID"], e["Actor"]["Attributes"]["name"])
               for e in events(box, t0, {"type": ["image"]})]
    finally:
        box.request("DELETE", "/images/evimg:1")
    assert got == [
        ("tag", image_id, "evimg:1"), ("tag", image_id, "evimg:2"), ("save", image_id, image_id),
        ("untag", image_id, image_id),
        ("tag", imported, "evimp:1"), ("import", imported, imported),  # the tag first, as dockerd
        ("untag", imported, imported), ("delete", imported, imported),
        ("untag", image_id, image_id),
        ("load", image_id, image_id)]  # the load's tag has no event of its own


def test_volume_create_is_announced_again_for_a_known_name(box):
    t0 = time.time()
    assert box.request("POST", "/volumes/create", {"Name": "ev-again"})[0] == 201
    assert box.request("POST", "/volumes/create", {"Name": "ev-again"})[0] == 201
    cid = run(box, ["true"], HostConfig={"Binds": ["ev-again:/data"]})
    box.request("POST", f"/containers/{cid}/wait")
    rm(box, cid)
    box.request("DELETE", "/volumes/ev-again")
    got = [(e["Type"], e["Action"]) for e in events(box, t0)
           if e["Actor"]["ID"] in ("ev-again", cid) and e["Action"] in ("create", "mount", "destroy")]
    assert got == [("volume", "create"), ("volume", "create"), ("volume", "create"), ("container", "create"),
                   ("volume", "mount"), ("container", "destroy"), ("volume", "destroy")]


@pytest.fixture(scope="module")
def registry():
    """barge's own registry server on 127.0.0.1, anonymous: its host:port."""
    from barge.registry.server.testing import start_registry, stop_registry

    tmp = Path(tempfile.mkdtemp(prefix="barge-evreg-"))
    url, proc = start_registry(tmp)
    try:
        yield url.split("://", 1)[1]
    finally:
        stop_registry(proc)
        remove_tree(tmp)


def test_pull_and_push_are_named_by_the_reference_asked_for(box, registry):
    repo = f"{registry}/ev/bb"
    auth = {"X-Registry-Auth": "e30="}  # {}
    assert box.request("POST", f"/images/busybox/tag?repo={repo}&tag=1")[0] == 201
    t0 = time.time()
    status, _, data = box.request("POST", f"/images/{repo}/push?tag=1", headers=auth, timeout=120)
    assert status == 200 and b"errorDetail" not in data, data
    assert box.request("DELETE", f"/images/{repo}:1")[0] == 200
    for _ in range(2):  # new, then up to date: both announced
        status, _, data = box.request("POST", f"/images/create?fromImage={repo}&tag=1", timeout=120)
        assert status == 200 and b"errorDetail" not in data, data
    try:
        got = [(e["Action"], e["Actor"]["ID"], e["Actor"]["Attributes"]) for e in events(box, t0, {"type": ["image"]})]
    finally:
        box.request("DELETE", f"/images/{repo}:1")
    image_id = _image(box, "busybox")["Id"]
    assert got == [("push", f"{repo}:1", {"name": repo}), ("untag", image_id, {"name": image_id}),
                   ("pull", f"{repo}:1", {"name": repo}), ("pull", f"{repo}:1", {"name": repo})]


def test_prune_events_have_no_actor(box):
    t0 = time.time()
    status, _, data = box.request("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"]})
    assert status == 201, data
    assert box.request("POST", "/networks/create", {"Name": "ev-prune", "Internal": True})[0] == 201
    for path in ("/containers/prune", "/images/prune", "/networks/prune", "/volumes/prune"):
        status, _, data = box.request("POST", path)
        assert status == 200, (path, data)
    got = [e for e in events(box, t0) if e["Action"] == "prune"]
    assert [(e["Type"], e["Actor"]["ID"]) for e in got] == [("container", ""), ("image", ""), ("network", ""),
                                                           ("volume", "")]
    assert all(list(e["Actor"]["Attributes"]) == ["reclaimed"] for e in got)
    assert [("status" in e, e.get("id")) for e in got] == [(True, ""), (True, ""), (False, None), (False, None)]
