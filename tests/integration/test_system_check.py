"""``barge system check`` on a real daemon: each invariant broken by hand on the host, found, and repaired
(or left, with what to do), then the check finds nothing and the objects work again.

One daemon for the module: each test breaks one thing and must leave the daemon consistent again.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import network_tag
from tests.integration.helpers import busybox_daemon, create, inspect, monitor_pid


@pytest.fixture(scope="module")
def box():
    with busybox_daemon(prefix="barge-chk-") as d:
        yield d


def check(d, repair=False):
    return d.json("POST", "/system/check" + ("?repair=1" if repair else ""))


def findings(d, repair=False):
    return [(f["Area"], f["Object"], f["Problem"]) for f in check(d, repair)["Findings"]]


def consistent(d):
    report = check(d)
    assert report["Findings"] == [], json.dumps(report, indent=1)
    return report


def barge(d, *args):
    return subprocess.run([os.path.join(os.path.dirname(os.sys.executable), "barge"), "-H", d.url, *args],
                          capture_output=True, text=True, timeout=60)


def test_a_busy_daemon_is_consistent(box):
    net = box.json("POST", "/networks/create", {"Name": "chk-net"}, expect=201)["Id"]
    web = create(box, "chk-web", Image="busybox", Cmd=["httpd", "-f", "-p", "80", "-h", "/etc"],
                 HostConfig={"NetworkMode": "chk-net", "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1"}]},
                             "Binds": ["chk-vol:/data"]})
    box.request("POST", f"/containers/{web}/start")
    stopped = create(box, "chk-stopped", Image="busybox", Cmd=["true"])
    box.request("POST", f"/containers/{stopped}/start")
    box.json("POST", f"/containers/{stopped}/wait")
    report = consistent(box)
    assert report["Checked"]["containers"] == 2 and report["Checked"]["volumes"] == 1
    assert report["Checked"]["endpoints"] == 1
    proc = barge(box, "system", "check")
    assert proc.returncode == 0 and "consistent" in proc.stdout, proc.stderr
    box.request("DELETE", f"/containers/{stopped}")
    box.request("DELETE", f"/containers/{web}?force=1")
    box.request("DELETE", f"/networks/{net}")
    box.request("DELETE", "/volumes/chk-vol")
    consistent(box)


def test_leaked_files_are_found_and_removed(box):
    graph = box.data_root / "graph" / box.driver
    layer = (graph / "dir" if box.driver == "vfs" else graph) / ("fe" * 32)
    layer.mkdir()
    orphan_container = box.data_root / "containers" / ("ab" * 32)
    (orphan_container / "mounts").mkdir(parents=True)
    orphan_volume = box.data_root / "volumes" / "lost-volume" / "_data"
    orphan_volume.mkdir(parents=True)
    found = findings(box)
    assert ("layers", layer.name, f"the {box.driver} driver holds a layer no image or container uses") in found
    assert ("containers", str(orphan_container), "a container directory of no container") in found
    assert any(f[0] == "volumes" and f[1] == "lost-volume" for f in found)
    proc = barge(box, "system", "check")
    assert proc.returncode == 1 and "3 inconsistencies, 3 left" in proc.stdout
    proc = barge(box, "system", "check", "--repair")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "repaired: removed" in proc.stdout
    assert not layer.exists() and not orphan_container.exists() and not orphan_volume.parent.exists()
    consistent(box)


def test_a_running_containers_rules_and_bridge_tampered_with(box):
    """The firewall table and a veth: rebuilt and deleted; the container still answers on its port."""
    box.json("POST", "/networks/create", {"Name": "chk-fw"}, expect=201)
    cid = create(box, Image="busybox", Cmd=["httpd", "-f", "-p", "80", "-h", "/etc"],
                 HostConfig={"NetworkMode": "chk-fw", "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1"}]}})
    box.request("POST", f"/containers/{cid}/start")
    port = int(inspect(box, cid)["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
    table = f"barge_test_{network_tag(box.root)}"
    subprocess.run(["nft", "delete", "table", "inet", table], check=True)
    with sqlite3.connect(box.data_root / "barge.db") as db:
        [bridge] = db.execute("SELECT interface FROM networks WHERE name = 'chk-fw'").fetchone()
    stray = "vethchk" + str(os.getpid() % 10)
    subprocess.run(["ip", "link", "add", stray, "type", "veth", "peer", "name", stray + "p"], check=True)
    try:
        subprocess.run(["ip", "link", "set", stray, "master", bridge], check=True)
        found = findings(box)
        assert ("networks", f"nft table {table}", "barge's firewall table is gone") in found
        assert any(f[2].startswith(f"{stray} on bridge {bridge} is no running container's") for f in found), found
        repaired = check(box, repair=True)["Findings"]
        assert all(f["Repaired"] for f in repaired), repaired
        consistent(box)
        body = _fetch(port)
        assert b"root:" in body  # busybox httpd serves /etc/passwd: the forward works again
    finally:
        subprocess.run(["ip", "link", "del", stray], capture_output=True)
        box.request("DELETE", f"/containers/{cid}?force=1")
        box.request("DELETE", "/networks/chk-fw")
    consistent(box)


def _fetch(port: int) -> bytes:
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/passwd", timeout=3) as resp:
                return resp.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_stopped_containers_leftovers_are_released(box):
    """A cgroup and a network namespace left by a stopped container (as a crash between steps leaves them)."""
    cid = create(box, Image="busybox", Cmd=["true"])
    box.request("POST", f"/containers/{cid}/start")
    box.json("POST", f"/containers/{cid}/wait")
    hierarchy = Path("/sys/fs/cgroup/pids")
    if not hierarchy.is_dir():
        hierarchy = Path("/sys/fs/cgroup")  # v2
    cgroups = [hierarchy / "barge" / cid]
    cgroups[0].mkdir(parents=True)
    netns = box.exec_root / "netns" / cid
    netns.parent.mkdir(parents=True, exist_ok=True)  # made at the first networked start, which may not have come
    subprocess.run(["touch", str(netns)], check=True)
    subprocess.run(["mount", "--bind", "/proc/self/ns/net", str(netns)], check=True)
    try:
        found = findings(box)
        assert any(f[1] == cid and "cgroup" in f[2] for f in found), found
        assert any(f[1] == cid and "network namespace" in f[2] for f in found), found
        assert all(f["Repaired"] for f in check(box, repair=True)["Findings"])
        assert not cgroups[0].exists() and not netns.exists()
        consistent(box)
    finally:
        subprocess.run(["umount", "-l", str(netns)], capture_output=True)
        netns.unlink(missing_ok=True)
        for path in (cgroups[0], cgroups[0].parent):
            with contextlib.suppress(OSError):
                path.rmdir()
        box.request("DELETE", f"/containers/{cid}")


def test_what_cannot_be_repaired_is_left_with_what_to_do(box):
    """A container whose rw layer is gone: no repair could give its files back."""
    cid = create(box, Image="busybox", Cmd=["true"])
    rw = inspect(box, cid)["GraphDriver"]["Data"]
    path = Path(rw.get("Dir") or rw.get("UpperDir")).parent if box.driver != "vfs" else Path(rw["Dir"])
    subprocess.run(["rm", "-rf", str(path)], check=True)
    report = check(box, repair=True)
    mine = [f for f in report["Findings"] if f["Object"] == cid]
    assert mine and not mine[0]["Repaired"] and "rm -f" in mine[0]["Action"], report
    proc = barge(box, "system", "check")
    assert proc.returncode == 1 and "lost its rw layer" in proc.stdout
    box.request("DELETE", f"/containers/{cid}?force=1")
    consistent(box)


def test_a_record_that_says_running_is_settled(box):
    """A record made to say running by hand is settled by --repair: its exit recorded, as a daemon start would."""
    cid = create(box, Image="busybox", Cmd=["true"])
    with sqlite3.connect(box.data_root / "barge.db") as db:
        state = json.loads(db.execute("SELECT state FROM containers WHERE id = ?", (cid,)).fetchone()[0])
        state.update(Running=True, Pid=4194304, StartedAt="2026-01-01T00:00:00Z")
        db.execute("UPDATE containers SET state = ? WHERE id = ?", (json.dumps(state), cid))
    found = findings(box)
    assert any(f[1] == cid and "record says running" in f[2] for f in found), found
    [answer] = [f for f in check(box, repair=True)["Findings"] if f["Object"] == cid]
    assert answer["Repaired"] and answer["Action"] == "recorded its exit"
    state = inspect(box, cid)["State"]
    assert state["Running"] is False and state["Pid"] == 0 and state["ExitCode"] == 255
    consistent(box)
    box.request("DELETE", f"/containers/{cid}")


def test_the_check_at_start_logs_nothing_after_a_crash(box):
    """The monitor killed while the daemon is down: the start-up recovery records the exit, and the check
    the daemon runs at start logs that all is consistent."""
    cid = create(box, Image="busybox", Cmd=["sleep", "300"])
    box.request("POST", f"/containers/{cid}/start")
    pid = monitor_pid(box, cid)
    box.stop()
    os.kill(pid, 9)
    box.start()
    deadline = time.monotonic() + 10
    while "system check:" not in _since_start(box) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "system check: consistent" in _since_start(box), _since_start(box)[-2000:]
    assert inspect(box, cid)["State"]["Running"] is False
    consistent(box)
    box.request("DELETE", f"/containers/{cid}")


def _since_start(d) -> str:
    return d.log_path.read_text().rsplit("listening on", 1)[-1]


def test_a_leftover_view_is_unmounted_by_repair_and_at_start(box):
    """A temporary view (cp, commit, copy-up mount one) a killed daemon left mounted."""
    views = [box.data_root / "tmp" / f"barge-mnt-test{i}" for i in range(2)]
    for view in views:
        view.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(view)], check=True)
    try:
        found = findings(box)
        assert ("mounts", str(views[0]), "a temporary view of a layer that no job uses is still mounted") in found
        [answer] = [f for f in check(box, repair=True)["Findings"] if f["Object"] == str(views[0])]
        assert answer["Repaired"] and not views[0].exists()
        box.stop()
        box.start()
        assert not views[1].exists(), "the daemon's start leaves no view of a killed daemon mounted"
        consistent(box)
    finally:
        for view in views:
            subprocess.run(["umount", "-l", str(view)], capture_output=True)
            with contextlib.suppress(OSError):
                view.rmdir()
