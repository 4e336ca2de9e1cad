"""Containers outlive the daemon: SIGKILL it, start it again, and everything carries on.

The monitors keep the containers running while no daemon exists; the new
daemon reconciles its records with the exec driver before it serves: still
running (watch it again), exited meanwhile (record the exit), gone.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from barge.testing.wait import wait_for
from tests.conftest import Daemon, make_busybox, require_exec_driver
from tests.integration.helpers import exit_recorded, leftovers, monitor_pid, run


@pytest.fixture
def kbox(daemon_factory) -> Daemon:
    require_exec_driver()
    d = daemon_factory()
    make_busybox(d)
    return d


def state(d: Daemon, cid: str) -> dict:
    return d.json("GET", f"/containers/{cid}/json")["State"]


def restart_hard(d: Daemon) -> None:
    d.kill()  # SIGKILL: no clean shutdown of anything
    d.start()


def follow_until(d: Daemon, cid: str, needle_after: int, timeout: float = 10.0) -> list[int]:
    """``logs -f --tail 0``: the tick numbers that arrive, until one above ``needle_after``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(d.socket)
    sock.sendall(f"GET /v1.47/containers/{cid}/logs?stdout=1&follow=1&tail=0 HTTP/1.1\r\nHost: d\r\n\r\n".encode())
    data = b""
    end = time.monotonic() + timeout
    seen: list[int] = []
    try:
        while time.monotonic() < end:
            data += sock.recv(65536)
            seen = [int(x) for x in __import__("re").findall(rb"tick(\d+)\n", data)]
            if seen and max(seen) > needle_after:
                return seen
    finally:
        sock.close()
    return seen


TICKER = ["sh", "-c", "trap 'exit 0' TERM; i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done"]


def test_sigkill_daemon_containers_survive_logs_continue_exit_recorded_no_leak(kbox):
    cid = run(kbox, TICKER)
    pid_before = state(kbox, cid)["Pid"]
    wait_for(lambda: b"tick3" in kbox.request("GET", f"/containers/{cid}/logs?stdout=1")[2], what="tick3 in the log")
    restart_hard(kbox)
    # ps shows it running, same process
    rows = kbox.json("GET", "/containers/json")
    assert [r["Id"] for r in rows] == [cid] and rows[0]["State"] == "running"
    st = state(kbox, cid)
    assert st["Running"] and st["Pid"] == pid_before
    # logs -f reaches lines written after the restart
    last = max(int(x) for x in __import__("re").findall(
        rb"tick(\d+)\n", kbox.request("GET", f"/containers/{cid}/logs?stdout=1")[2]))
    seen = follow_until(kbox, cid, last + 2)
    assert seen and max(seen) > last + 2
    mon = monitor_pid(kbox, cid)
    # stop records the exit
    assert kbox.request("POST", f"/containers/{cid}/stop?t=5")[0] == 204
    st = state(kbox, cid)
    assert (st["Status"], st["ExitCode"], st["Running"]) == ("exited", 0, False)
    assert st["FinishedAt"] != "0001-01-01T00:00:00Z"
    # rm leaves no mount, cgroup, state or process
    assert kbox.request("DELETE", f"/containers/{cid}")[0] == 204
    assert leftovers(kbox, cid) == []
    wait_for(lambda: not Path(f"/proc/{mon}").exists() and not Path(f"/proc/{pid_before}").exists(), 5,
             what="the monitor and the container's init to be gone")


def test_exit_while_daemon_is_down_is_recorded(kbox):
    cid = run(kbox, ["sh", "-c", "sleep 1; exit 4"])
    kbox.kill()
    wait_for(lambda: exit_recorded(kbox, cid), 10, what="the monitor to record the exit with no daemon around")
    kbox.start()
    st = state(kbox, cid)
    assert (st["Status"], st["ExitCode"]) == ("exited", 4)
    assert kbox.request("DELETE", f"/containers/{cid}")[0] == 204
    assert leftovers(kbox, cid) == []


def test_restart_policy_resumes_at_daemon_start(kbox):
    cid = run(kbox, ["sleep", "60"], HostConfig={"RestartPolicy": {"Name": "always"}})
    pid = state(kbox, cid)["Pid"]
    kbox.kill()
    os.kill(pid, signal.SIGKILL)  # the container dies while no daemon is there
    wait_for(lambda: exit_recorded(kbox, cid), 5, what="the monitor to record the death")
    kbox.start()
    wait_for(lambda: state(kbox, cid)["Running"], 10, what="the restart policy to start it again")
    assert state(kbox, cid)["Pid"] != pid
    assert kbox.request("DELETE", f"/containers/{cid}?force=1")[0] == 204
    assert leftovers(kbox, cid) == []


def test_watcher_after_restart_records_a_later_exit(kbox):
    cid = run(kbox, ["sh", "-c", "sleep 4; exit 6"])  # outlives the daemon restart, also on a busy machine
    restart_hard(kbox)
    assert state(kbox, cid)["Running"]
    waited = kbox.json("POST", f"/containers/{cid}/wait")
    assert waited["StatusCode"] == 6
    assert state(kbox, cid)["ExitCode"] == 6
    kbox.request("DELETE", f"/containers/{cid}")


# The real daemon with one more plugin: a hook wrapper that SIGKILLs the daemon
# right after a chosen driver call, once the file named in $BARGE_TEST_CRASH_AT
# holds that hook's name. A kill at the exact worst moment, no timing guesses.
CRASHER = """
import os, runpy, signal, sys
import barge.engine.plugins as plugins
from barge.engine import hookimpl

flag = sys.argv[1]

def armed(name):
    try:
        with open(flag) as fh:
            return fh.read().strip() == name
    except FileNotFoundError:
        return False

class Crasher:
    @hookimpl(hookwrapper=True)
    def barge_graph_create_rw(self, layer_id, parent):
        yield
        if armed("create_rw"):
            os.kill(os.getpid(), signal.SIGKILL)

    @hookimpl(hookwrapper=True)
    def barge_graph_remove(self, layer_id):
        if armed("graph_remove"):
            os.kill(os.getpid(), signal.SIGKILL)
        yield

original = plugins.make_plugin_manager

def make_plugin_manager(*args, **kwargs):
    pm = original(*args, **kwargs)
    pm.register(Crasher(), name="ext:crasher")
    return pm

plugins.make_plugin_manager = make_plugin_manager
sys.argv = ["barge.daemon.main", *sys.argv[2:]]
runpy.run_module("barge.daemon.main", run_name="__main__")
"""


def layer_dirs(d: Daemon, cid: str) -> list[str]:
    graph = d.data_root / "graph"
    return [str(p) for p in graph.rglob(cid)] + [str(p) for p in graph.rglob(cid + "-init")]


def test_daemon_killed_mid_create_leaves_no_half_container(daemon_factory):
    import sys

    require_exec_driver()
    root = daemon_factory.new_root()
    flag = root / "crash-at"
    d = daemon_factory(root=root, prefix=[sys.executable, "-c", CRASHER, str(flag)])
    make_busybox(d)
    flag.write_text("create_rw")
    with pytest.raises(OSError):  # the daemon is killed mid-request: the connection drops
        d.request("POST", "/containers/create?name=half", {"Image": "busybox", "Cmd": ["true"]})
    assert d.proc.wait(10) == -signal.SIGKILL
    flag.unlink()
    import sqlite3

    with sqlite3.connect(d.data_root / "barge.db") as db:
        journal = db.execute("SELECT id, op FROM pending_containers").fetchall()
    assert len(journal) == 1 and journal[0][1] == "create"
    half = journal[0][0]
    assert layer_dirs(d, half)  # the kill left the rw layer behind
    d.start()
    assert d.json("GET", "/containers/json?all=1") == []
    assert layer_dirs(d, half) == [] and not (d.data_root / "containers" / half).exists()
    cid = run(d, ["true"], name="half")  # the name is free
    assert d.json("POST", f"/containers/{cid}/wait")["StatusCode"] == 0


def test_daemon_killed_mid_rm_finishes_the_removal_at_start(daemon_factory):
    import sys

    require_exec_driver()
    root = daemon_factory.new_root()
    flag = root / "crash-at"
    d = daemon_factory(root=root, prefix=[sys.executable, "-c", CRASHER, str(flag)])
    make_busybox(d)
    cid = run(d, ["sleep", "60"], name="doomed")
    pid = state(d, cid)["Pid"]
    flag.write_text("graph_remove")  # the monitor is gone, the rw layer and the row are not
    with pytest.raises(OSError):  # the daemon is killed mid-request: the connection drops
        d.request("DELETE", f"/containers/{cid}?force=1")
    assert d.proc.wait(10) == -signal.SIGKILL
    flag.unlink()
    d.start()
    assert d.request("GET", f"/containers/{cid}/json")[0] == 404
    assert leftovers(d, cid) == [] and layer_dirs(d, cid) == []
    assert not Path(f"/proc/{pid}").exists()


def test_a_commits_pause_cut_off_by_a_kill_is_undone(kbox):
    """commit pauses a running container; a daemon killed before the unpause would leave it paused with
    nobody having asked for it. Its marker (``commit-paused`` in the container's dir) tells recovery
    to unpause it; a pause a user asked for stays. (Found by bench/chaos.py.)"""
    by_commit = run(kbox, TICKER)
    by_user = run(kbox, TICKER)
    for cid in (by_commit, by_user):
        assert kbox.request("POST", f"/containers/{cid}/pause")[0] == 204
    (kbox.data_root / "containers" / by_commit / "commit-paused").touch()  # as commit leaves it mid-way
    restart_hard(kbox)
    assert (state(kbox, by_commit)["Paused"], state(kbox, by_user)["Paused"]) == (False, True)
    assert not (kbox.data_root / "containers" / by_commit / "commit-paused").exists()
    before = len(kbox.request("GET", f"/containers/{by_commit}/logs?stdout=1")[2])
    wait_for(lambda: len(kbox.request("GET", f"/containers/{by_commit}/logs?stdout=1")[2]) > before, 5,
             what="the unpaused container to tick again")
    for cid in (by_commit, by_user):
        assert kbox.request("DELETE", f"/containers/{cid}?force=1")[0] == 204
