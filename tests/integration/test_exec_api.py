"""Exec through the Engine API against a real daemon and real containers (busybox, native driver).

Start is driven over a raw unix socket as the docker CLI does it: a JSON
body *and* the upgrade headers, 101, multiplexed frames (raw with a TTY),
half-close for stdin's end; the exit code must be in ``/exec/{id}/json``
when the stream ends.
"""

from __future__ import annotations

import json
import os
import socket

import pytest

from barge.testing.wait import wait_for
from tests.conftest import Daemon
from tests.integration.helpers import UPGRADE, Raw, create, frames, inspect, joined, rm, run

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(scope="module")
def sleeper(box):
    cid = run(box, ["sleep", "600"], name="exec-sleeper")
    yield cid
    rm(box, cid)


def exec_create(d: Daemon, cid: str, cmd: list[str], expect: int = 201, **body) -> str:
    body.setdefault("AttachStdout", True)
    body.setdefault("AttachStderr", True)
    status, _, data = d.request("POST", f"/v1.47/containers/{cid}/exec", dict(body, Cmd=cmd))
    assert status == expect, data
    return json.loads(data)["Id"] if expect == 201 else json.loads(data)["message"]


def exec_start(d: Daemon, eid: str, tty: bool = False, **body) -> Raw:
    payload = json.dumps(dict({"Detach": False, "Tty": tty}, **body)).encode()
    headers = dict(UPGRADE, **{"Content-Type": "application/json"})
    return Raw(d, "POST", f"/v1.47/exec/{eid}/start", headers, payload)


def exec_inspect(d: Daemon, eid: str) -> dict:
    return d.json("GET", f"/exec/{eid}/json")


def test_output_framing_and_exit_code_ready_at_eof(box, sleeper):
    eid = exec_create(box, sleeper, ["sh", "-c", "echo out; echo err >&2; exit 7"])
    before = exec_inspect(box, eid)
    assert before["Running"] is False and before["ExitCode"] is None and before["Pid"] == 0
    assert eid in inspect(box, sleeper)["ExecIDs"]
    r = exec_start(box, eid)
    assert r.status_line == "HTTP/1.1 101 UPGRADED"
    assert r.headers["content-type"] == "application/vnd.docker.multiplexed-stream"
    data = r.read_all()
    r.close()
    assert joined(data, 1) == b"out\n" and joined(data, 2) == b"err\n"
    after = exec_inspect(box, eid)  # right after EOF, as the CLI asks
    assert after["ExitCode"] == 7 and after["Running"] is False and after["Pid"] > 0
    assert after["ContainerID"] == sleeper and after["ID"] == eid
    assert after["ProcessConfig"] == {"arguments": ["-c", "echo out; echo err >&2; exit 7"], "entrypoint": "sh",
                                      "privileged": False, "tty": False}  # no "user": dockerd leaves it out empty
    assert after["OpenStdout"] is True and after["OpenStdin"] is False
    assert inspect(box, sleeper)["ExecIDs"] is None


def test_tty_is_raw_and_takes_stdin(box, sleeper):
    eid = exec_create(box, sleeper, ["sh"], Tty=True, AttachStdin=True, ConsoleSize=[30, 90])
    r = exec_start(box, eid, tty=True)
    assert r.headers["content-type"] == "application/vnd.docker.raw-stream"
    r.sock.sendall(b"stty size; echo $((6*7)) $TERM\nexit 3\n")
    data = r.read_all()
    r.close()
    assert b"30 90" in data and b"42 xterm" in data
    assert exec_inspect(box, eid)["ExitCode"] == 3


def test_half_close_ends_stdin_and_output_goes_on(box, sleeper):
    eid = exec_create(box, sleeper, ["sh", "-c", "cat; echo done"], AttachStdin=True)
    r = exec_start(box, eid)
    r.sock.sendall(b"abc\n")
    r.sock.shutdown(socket.SHUT_WR)
    data = r.read_all()
    r.close()
    assert joined(data, 1) == b"abc\ndone\n"
    assert exec_inspect(box, eid)["ExitCode"] == 0


def test_env_user_workdir_and_privileged(box, sleeper):
    eid = exec_create(box, sleeper, ["sh", "-c", 'echo "$FOO $(id -u):$(id -g) $(pwd) $HOME"'],
                      Env=["FOO=bar"], User="nobody", WorkingDir="/tmp")
    data = exec_start(box, eid).read_all()
    assert joined(data, 1) == b"bar 65534:65534 /tmp /home\n"
    caps = {}
    for privileged in (False, True):
        eid = exec_create(box, sleeper, ["sh", "-c", "grep CapEff /proc/self/status"], Privileged=privileged)
        caps[privileged] = joined(exec_start(box, eid).read_all(), 1).split()[-1]
    assert int(caps[True], 16) > int(caps[False], 16)


def test_detached_exec_records_its_exit(box, sleeper):
    eid = exec_create(box, sleeper, ["sh", "-c", "echo bg > /tmp/detached; sleep 0.3; exit 4"],
                      AttachStdout=False, AttachStderr=False)
    status, _, data = box.request("POST", f"/exec/{eid}/start", {"Detach": True})
    assert status == 200 and data == b""
    wait_for(lambda: exec_inspect(box, eid)["ExitCode"] == 4, timeout=10, what="the detached exec to exit 4")
    check = exec_create(box, sleeper, ["cat", "/tmp/detached"])
    assert joined(exec_start(box, check).read_all(), 1) == b"bg\n"


def test_resize_waits_for_the_process(box, sleeper):
    eid = exec_create(box, sleeper, ["sh", "-c", "sleep 0.5; stty size"], Tty=True)
    r = exec_start(box, eid, tty=True)
    status, _, data = box.request("POST", f"/exec/{eid}/resize?h=40&w=100")
    assert status == 200, data
    out = r.read_all()
    r.close()
    assert b"40 100" in out


def test_detach_keys_leave_the_process_running(box, sleeper):
    # with a TTY the process keeps its stdin after a detach (moby closes it only without one)
    eid = exec_create(box, sleeper, ["sh"], Tty=True, AttachStdin=True, DetachKeys="ctrl-x")
    r = exec_start(box, eid, tty=True)
    r.sock.sendall(b"echo ready\n")
    assert b"ready" in r.read_until(b"ready\r\n")
    r.sock.sendall(b"\x18")
    r.read_all()  # the stream ends at the detach keys
    r.close()
    state = exec_inspect(box, eid)
    assert state["Running"] is True and state["ExitCode"] is None
    os.kill(state["Pid"], 9)  # its exit is still recorded, by the daemon's follower
    wait_for(lambda: exec_inspect(box, eid)["ExitCode"] == 137, timeout=10, what="the detached exec killed (137)")
    assert exec_inspect(box, eid)["Running"] is False


def test_command_not_found_is_127_in_the_stream(box, sleeper):
    eid = exec_create(box, sleeper, ["nosuchcommand"])
    data = exec_start(box, eid).read_all()
    assert b'executable file not found in $PATH' in joined(data, 1)
    assert exec_inspect(box, eid)["ExitCode"] == 127


def test_bad_input(box, sleeper):
    stopped = create(box, Cmd=["true"])
    try:
        message = exec_create(box, stopped, ["ls"], expect=409)
        assert message == f"Container {stopped} is not running"
    finally:
        rm(box, stopped)
    assert "No such container: nothere" in exec_create(box, "nothere", ["ls"], expect=404)
    assert exec_create(box, sleeper, [], expect=400) == "No exec command specified"
    status, _, data = box.request("POST", f"/containers/{sleeper}/exec", b"{not json",
                                  {"Content-Type": "application/json"})
    assert status == 400
    for method, path in (("GET", "/exec/nosuch/json"), ("POST", "/exec/nosuch/resize?h=1&w=1")):
        status, _, data = box.request(method, path)
        assert status == 404 and json.loads(data)["message"] == "No such exec instance: nosuch"
    status, _, data = box.request("POST", "/exec/nosuch/start", {"Detach": True})
    assert status == 404
    eid = exec_create(box, sleeper, ["true"])
    exec_start(box, eid).read_all()
    status, _, data = box.request("POST", f"/exec/{eid}/start", {"Detach": True})
    assert status == 409 and "has already run" in json.loads(data)["message"]


def test_exec_dies_with_its_container(box):
    cid = run(box, ["sleep", "600"])
    try:
        eid = exec_create(box, cid, ["sleep", "600"])
        r = exec_start(box, eid)
        wait_for(lambda: exec_inspect(box, eid)["Running"], timeout=10, what="the exec to run")
        box.request("POST", f"/containers/{cid}/kill")
        r.read_all()
        r.close()
        final = exec_inspect(box, eid)
        assert final["Running"] is False and final["ExitCode"] == 137
    finally:
        rm(box, cid)
    status, _, _ = box.request("GET", f"/exec/{eid}/json")
    assert status == 404  # forgotten with its container


def test_exec_without_upgrade_is_a_200_stream(box, sleeper):
    eid = exec_create(box, sleeper, ["echo", "plain"])
    payload = json.dumps({"Detach": False, "Tty": False}).encode()
    r = Raw(box, "POST", f"/v1.47/exec/{eid}/start", {"Content-Type": "application/json"}, payload)
    assert r.status_line.startswith("HTTP/1.1 200")
    assert [p for s, p in frames(r.read_all())] == [b"plain\n"]
    r.close()
    assert exec_inspect(box, eid)["ExitCode"] == 0
