"""Containers through the Engine API against a real daemon, real containers (busybox, native driver).

One daemon per module (``box``): each test makes its own containers and
removes them. Attach is driven over a raw unix socket exactly as the docker
CLI does it (upgrade, half-close, detach keys).
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from barge.testing.wait import wait_for
from tests.conftest import Daemon, make_busybox, require_exec_driver, test_driver
from tests.integration.helpers import (
    UPGRADE,
    Raw,
    attach,
    create,
    dechunk,
    frames,
    inspect,
    joined,
    leftovers,
    monitor_pid,
    rm,
    run,
)

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


# ---------------------------------------------------------------------------
# the run flow: create, attach, wait, start
# ---------------------------------------------------------------------------


def test_run_flow_multiplexed_attach_and_wait(box):
    cid = create(box, Cmd=["sh", "-c", "echo out; echo err >&2; exit 3"], AttachStdout=True, AttachStderr=True)
    try:
        att = attach(box, cid)
        assert att.status_line == "HTTP/1.1 101 UPGRADED"
        assert att.headers["content-type"] == "application/vnd.docker.multiplexed-stream"
        assert att.headers["connection"] == "Upgrade" and att.headers["upgrade"] == "tcp"
        waiter = Raw(box, "POST", f"/v1.47/containers/{cid}/wait?condition=next-exit")
        assert waiter.status_line == "HTTP/1.1 200 OK"  # the head arrives before the container starts
        assert inspect(box, cid)["State"]["Status"] == "created"
        assert box.request("POST", f"/v1.47/containers/{cid}/start")[0] == 204
        out = att.read_all()  # the daemon closes the stream when the process exits
        assert joined(out, 1) == b"out\n" and joined(out, 2) == b"err\n"
        body = dechunk(waiter.read_all())
        assert json.loads(body) == {"Error": None, "StatusCode": 3}
        st = inspect(box, cid)["State"]
        assert (st["Status"], st["ExitCode"], st["Running"]) == ("exited", 3, False)
        att.close()
        waiter.close()
    finally:
        rm(box, cid)


def test_tty_raw_stream_with_stdin(box):
    cid = create(box, Cmd=["sh"], Tty=True, OpenStdin=True, StdinOnce=True, AttachStdin=True, AttachStdout=True,
                 AttachStderr=True)
    try:
        att = attach(box, cid, "stream=1&stdin=1&stdout=1&stderr=1")
        assert att.headers["content-type"] == "application/vnd.docker.raw-stream"
        assert box.request("POST", f"/containers/{cid}/start")[0] == 204
        assert box.request("POST", f"/containers/{cid}/resize?h=40&w=100")[0] == 200
        att.sock.sendall(b"stty size; echo $((6*7))\n")
        out = att.read_until(b"42")
        assert b"40 100" in out and b"42" in out
        att.sock.sendall(b"exit 3\n")
        att.read_all()
        wait_for(lambda: inspect(box, cid)["State"]["ExitCode"] == 3, what="the shell to exit 3")
        att.close()
    finally:
        rm(box, cid)


def test_half_close_is_stdin_eof(box):
    cid = create(box, Cmd=["cat"], OpenStdin=True, StdinOnce=True, AttachStdin=True, AttachStdout=True)
    try:
        att = attach(box, cid, "stream=1&stdin=1&stdout=1&stderr=1")
        assert box.request("POST", f"/containers/{cid}/start")[0] == 204
        att.sock.sendall(b"hello\nworld\n")
        att.sock.shutdown(socket.SHUT_WR)  # what the docker CLI does when its stdin ends
        out = att.read_all()
        assert joined(out, 1) == b"hello\nworld\n"
        wait_for(lambda: inspect(box, cid)["State"]["Status"] == "exited", what="the container to exit")
        assert inspect(box, cid)["State"]["ExitCode"] == 0
        att.close()
    finally:
        rm(box, cid)


def test_detach_keys_end_attach_and_keep_container(box):
    cid = run(box, ["sh"], Tty=True, OpenStdin=True)
    try:
        att = attach(box, cid, "stream=1&stdin=1&stdout=1&stderr=1&detachKeys=ctrl-x,x")
        att.sock.sendall(b"echo before\n")
        assert b"before" in att.read_until(b"before")
        att.sock.sendall(b"\x18x")
        att.sock.settimeout(5)
        att.read_all()  # closed by the daemon
        assert inspect(box, cid)["State"]["Running"] is True
        again = attach(box, cid, "stream=1&stdin=1&stdout=1&stderr=1")  # default ctrl-p,ctrl-q
        again.sock.sendall(b"echo again\n")
        assert b"again" in again.read_until(b"again")
        again.sock.sendall(b"\x10\x11")
        again.read_all()
        assert inspect(box, cid)["State"]["Running"] is True
        att.close()
        again.close()
        status, _, data = box.request("POST", f"/v1.47/containers/{cid}/attach?stream=1&detachKeys=ctrl-1",
                                      headers=UPGRADE)
        assert status == 400, data
    finally:
        rm(box, cid)


def test_attach_without_upgrade_is_a_200_stream(box):
    cid = create(box, Cmd=["sh", "-c", "sleep 0.3; echo plain"])
    try:
        att = attach(box, cid, upgrade=False)
        assert att.status_line == "HTTP/1.1 200 OK"
        assert "chunked" not in att.headers.get("transfer-encoding", "")
        assert box.request("POST", f"/containers/{cid}/start")[0] == 204
        assert joined(att.read_all(), 1) == b"plain\n"
        att.close()
    finally:
        rm(box, cid)


def test_attach_with_logs_replays_output(box):
    cid = run(box, ["sh", "-c", "echo early; sleep 30"])
    try:
        wait_for(lambda: b"early" in box.request("GET", f"/containers/{cid}/logs?stdout=1")[2],
                 what="'early' in the log")
        att = attach(box, cid, "stream=0&logs=1&stdout=1&stderr=1")
        assert joined(att.read_all(), 1) == b"early\n"
        att.close()
    finally:
        rm(box, cid)


# ---------------------------------------------------------------------------
# logs
# ---------------------------------------------------------------------------


def logs(d: Daemon, cid: str, query: str) -> tuple[str, bytes]:
    status, headers, data = d.request("GET", f"/v1.47/containers/{cid}/logs?{query}")
    assert status == 200, data
    return headers["Content-Type"], data


def test_logs_streams_tail_timestamps_since(box):
    script = "echo one; echo two >&2; sleep 1.2; echo three; echo four >&2"
    cid = run(box, ["sh", "-c", script])
    try:
        wait_for(lambda: inspect(box, cid)["State"]["Status"] == "exited", what="the container to exit")
        ctype, data = logs(box, cid, "stdout=1&stderr=1")
        assert ctype == "application/vnd.docker.multiplexed-stream"
        assert frames(data) == [(1, b"one\n"), (2, b"two\n"), (1, b"three\n"), (2, b"four\n")]
        assert frames(logs(box, cid, "stdout=1")[1]) == [(1, b"one\n"), (1, b"three\n")]
        assert frames(logs(box, cid, "stderr=1&tail=1")[1]) == [(2, b"four\n")]
        assert frames(logs(box, cid, "stdout=1&stderr=1&tail=2")[1]) == [(1, b"three\n"), (2, b"four\n")]
        # tail counts lines before the stream filter, as Docker does: the last two are three, four
        stamped = frames(logs(box, cid, "stdout=1&timestamps=1&tail=2")[1])[0][1].decode()
        stamp, _, text = stamped.partition(" ")
        assert text == "three\n" and len(stamp) == len("2024-01-01T00:00:00.000000000Z") and stamp.endswith("Z")
        from barge.timefmt import parse_rfc3339

        since = parse_rfc3339(stamp) - 0.5
        assert [p for _, p in frames(logs(box, cid, f"stdout=1&stderr=1&since={since:.9f}")[1])] == \
            [b"three\n", b"four\n"]
        assert [p for _, p in frames(logs(box, cid, f"stdout=1&stderr=1&until={since:.9f}")[1])] == \
            [b"one\n", b"two\n"]
        status, _, data = box.request("GET", f"/containers/{cid}/logs")
        assert status == 400 and b"at least one stream" in data
    finally:
        rm(box, cid)


def test_logs_tty_is_raw(box):
    cid = run(box, ["sh", "-c", "echo tty-line"], Tty=True)
    try:
        wait_for(lambda: inspect(box, cid)["State"]["Status"] == "exited", what="the container to exit")
        ctype, data = logs(box, cid, "stdout=1&stderr=1")
        assert ctype == "application/vnd.docker.raw-stream" and data == b"tty-line\r\n"
    finally:
        rm(box, cid)


def test_logs_follow_reaches_new_lines_and_ends_at_stop(box):
    cid = run(box, ["sh", "-c", "trap 'exit 0' TERM; i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done"])
    try:
        follower = Raw(box, "GET", f"/v1.47/containers/{cid}/logs?stdout=1&follow=1&tail=1")
        assert follower.status_line == "HTTP/1.1 200 OK"
        first = follower.read_until(b"line5")
        assert b"line5" in first
        assert box.request("POST", f"/containers/{cid}/stop?t=5")[0] == 204
        rest = follower.read_all()  # ends once the container stopped
        assert rest.endswith(b"0\r\n\r\n")  # the chunked body's end
        follower.close()
    finally:
        rm(box, cid)


# ---------------------------------------------------------------------------
# stop, kill, restart, pause, rm
# ---------------------------------------------------------------------------


def test_stop_kill_restart_pause_unpause(box):
    cid = run(box, ["sh", "-c", "while true; do sleep 0.1; done"], name="lifecycle")
    try:
        first_start = inspect(box, cid)["State"]["StartedAt"]
        assert box.request("POST", f"/containers/{cid}/start")[0] == 304
        assert box.request("POST", "/containers/lifecycle/pause")[0] == 204
        st = inspect(box, cid)["State"]
        assert (st["Status"], st["Paused"], st["Running"]) == ("paused", True, True)
        row = box.json("GET", '/containers/json?filters={"name":["lifecycle"]}')[0]
        assert row["State"] == "paused" and row["Status"].endswith("(Paused)")
        status, _, data = box.request("POST", "/containers/lifecycle/pause")
        assert status == 409 and b"already paused" in data
        assert box.request("POST", "/containers/lifecycle/unpause")[0] == 204
        assert inspect(box, cid)["State"]["Status"] == "running"
        status, _, data = box.request("POST", "/containers/lifecycle/unpause")
        assert status == 409 and b"is not paused" in data
        assert box.request("POST", "/containers/lifecycle/kill?signal=WINCH")[0] == 204
        time.sleep(0.2)  # not a wait: time for an exit that a non-fatal signal must not cause
        assert inspect(box, cid)["State"]["Running"] is True
        status, _, data = box.request("POST", "/containers/lifecycle/kill?signal=NOPE")
        assert status == 400 and b"Invalid signal: NOPE" in data
        started = time.monotonic()
        assert box.request("POST", "/containers/lifecycle/stop?t=1")[0] == 204  # sh as PID 1 ignores TERM
        assert 0.9 < time.monotonic() - started < 8
        st = inspect(box, cid)["State"]
        assert (st["Status"], st["ExitCode"]) == ("exited", 137)
        assert box.request("POST", "/containers/lifecycle/stop")[0] == 304
        status, _, data = box.request("POST", "/containers/lifecycle/kill")
        assert status == 409 and b"is not running" in data
        assert box.request("POST", "/containers/lifecycle/restart?t=1")[0] == 204
        st = inspect(box, cid)["State"]
        assert st["Running"] and st["StartedAt"] != first_start
        assert box.request("POST", "/containers/lifecycle/kill?signal=SIGKILL")[0] == 204
        st = inspect(box, cid)["State"]
        assert (st["Status"], st["ExitCode"]) == ("exited", 137)
    finally:
        rm(box, cid)


def test_stop_signal_and_graceful_exit(box):
    cid = run(box, ["sh", "-c", "trap 'exit 7' USR1; while true; do sleep 0.1; done"], StopSignal="SIGUSR1")
    try:
        assert box.request("POST", f"/containers/{cid}/stop")[0] == 204
        assert inspect(box, cid)["State"]["ExitCode"] == 7
    finally:
        rm(box, cid)


def test_rm_refuses_running_and_force_leaves_nothing(box):
    cid = run(box, ["sleep", "60"], name="victim")
    try:
        mon = monitor_pid(box, cid)
        assert Path(f"/proc/{mon}").exists()
        status, _, data = box.request("DELETE", "/containers/victim")
        assert status == 409
        assert json.loads(data)["message"] == (f"You cannot remove a running container {cid}. "
                                               "Stop the container before attempting removal or force remove")
        assert box.request("DELETE", "/containers/victim?force=1")[0] == 204
        assert box.request("GET", f"/containers/{cid}/json")[0] == 404
        assert leftovers(box, cid) == []
        wait_for(lambda: not Path(f"/proc/{mon}").exists(), 5, what=f"the monitor {mon} to exit")
        status, _, data = box.request("DELETE", "/containers/victim")
        assert status == 404 and json.loads(data)["message"] == "No such container: victim"
    finally:
        rm(box, cid)


# ---------------------------------------------------------------------------
# ps and inspect
# ---------------------------------------------------------------------------


def test_ps_lists_and_filters(box):
    a = run(box, ["sleep", "60"], name="ps-a", Labels={"role": "web"})
    b = run(box, ["sh", "-c", "exit 2"], name="ps-b", Labels={"role": "job"})
    c = create(box, "ps-c", Cmd=["true"])
    try:
        wait_for(lambda: inspect(box, b)["State"]["Status"] == "exited", what="ps-b to exit")

        def names(query: str = "") -> list[str]:
            return [r["Names"][0] for r in box.json("GET", "/containers/json" + query) if r["Names"][0].startswith("/ps-")]

        assert names() == ["/ps-a"]
        assert names("?all=1") == ["/ps-c", "/ps-b", "/ps-a"]
        assert names("?limit=1") == ["/ps-c"]
        assert names('?filters={"status":["exited"]}') == ["/ps-b"]
        assert names('?filters={"status":["created"]}') == ["/ps-c"]
        assert names('?all=1&filters={"exited":["2"]}') == ["/ps-b"]
        assert names('?all=1&filters={"label":["role=web"]}') == ["/ps-a"]
        assert names('?all=1&filters={"name":["ps-[ab]"]}') == ["/ps-b", "/ps-a"]
        assert names(f'?all=1&filters={{"id":["{a[:10]}"]}}') == ["/ps-a"]
        assert names('?all=1&filters={"ancestor":["busybox"]}') == ["/ps-c", "/ps-b", "/ps-a"]
        assert names('?all=1&filters={"ancestor":["nosuchimage"]}') == []
        assert names('?filters={"before":["ps-c"]}') == ["/ps-b", "/ps-a"]
        assert names('?filters={"since":["ps-a"]}') == ["/ps-c", "/ps-b"]
        status, _, data = box.request("GET", '/containers/json?filters={"status":["sleepy"]}')
        assert status == 400
        row = next(r for r in box.json("GET", "/containers/json?all=1&size=1") if r["Id"] == b)
        assert row["Status"].startswith("Exited (2) ") and row["Status"].endswith(" ago")
        assert row["Command"] == "sh -c 'exit 2'" and row["Image"] == "busybox" and row["State"] == "exited"
        assert row["ImageID"].startswith("sha256:") and row["Labels"] == {"role": "job"}
        assert row["Ports"] == [] and row["HostConfig"] == {"NetworkMode": "bridge"}
        assert row["SizeRootFs"] > 0 and "SizeRw" not in row  # it wrote nothing: dockerd leaves a zero size out
        running = next(r for r in box.json("GET", "/containers/json") if r["Id"] == a)
        assert running["Status"].startswith("Up ")
    finally:
        for cid in (a, b, c):
            rm(box, cid)


def test_inspect_shape_and_defaults(box):
    cid = run(box, ["sleep", "60"], name="shape")
    try:
        doc = inspect(box, "shape")
        assert doc["Id"] == cid and doc["Name"] == "/shape" and doc["Path"] == "sleep" and doc["Args"] == ["60"]
        st = doc["State"]
        assert st["Status"] == "running" and st["Pid"] > 0 and st["StartedAt"].endswith("Z")
        assert st["FinishedAt"] == "0001-01-01T00:00:00Z" and st["Error"] == "" and st["OOMKilled"] is False
        assert doc["Config"]["Hostname"] == cid[:12] and doc["Config"]["Image"] == "busybox"
        assert doc["Config"]["Cmd"] == ["sleep", "60"] and any(e.startswith("PATH=") for e in doc["Config"]["Env"])
        hc = doc["HostConfig"]
        assert hc["LogConfig"] == {"Type": "json-file", "Config": {}} and hc["NetworkMode"] == "bridge"
        assert hc["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0} and hc["Runtime"] == "native"
        assert hc["ShmSize"] == 67108864 and hc["AutoRemove"] is False
        assert doc["LogPath"].endswith(f"{cid}-json.log") and doc["Driver"] == test_driver()
        assert doc["HostsPath"].endswith("/hosts") and Path(doc["HostsPath"]).read_text().startswith("127.0.0.1")
        assert Path(doc["HostnamePath"]).read_text() == cid[:12] + "\n"
        assert doc["GraphDriver"]["Name"] == test_driver() and doc["Platform"] == "linux"
        ns = doc["NetworkSettings"]
        assert "bridge" in ns["Networks"] and ns["IPAddress"] == ns["Networks"]["bridge"]["IPAddress"] != ""
        assert ns["SandboxKey"].endswith(cid) and ns["Gateway"] and ns["MacAddress"].startswith("02:42:")
        sized = box.json("GET", "/containers/shape/json?size=1")
        assert sized["SizeRw"] >= 0 and sized["SizeRootFs"] >= sized["SizeRw"]
        hostname = Raw(box, "GET", "/containers/shape/json")
        hostname.close()
    finally:
        rm(box, cid)


def test_container_sees_its_hostname_env_and_limits(box):
    cid = run(box, ["sh", "-c", "hostname; echo $HOSTNAME $HOME; cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
                    "2>/dev/null || cat /sys/fs/cgroup/memory.max; ip link 2>/dev/null | grep -c '^[0-9]'; id -u"],
              Env=["X=1"], HostConfig={"Memory": 64 << 20})
    try:
        wait_for(lambda: inspect(box, cid)["State"]["Status"] == "exited", what="the container to exit")
        out = joined(logs(box, cid, "stdout=1&stderr=1")[1], 1).decode().split("\n")
        assert out[0] == cid[:12] and out[1] == f"{cid[:12]} /root"
        assert out[2] == str(64 << 20)
        assert out[3] == "2"  # lo and eth0 on the default bridge
        assert out[4] == "0"
    finally:
        rm(box, cid)


# ---------------------------------------------------------------------------
# bad input and start failures
# ---------------------------------------------------------------------------


def test_exec_failures_give_127_and_126(box):
    cid = create(box, Cmd=["nosuch"])
    try:
        status, _, data = box.request("POST", f"/containers/{cid}/start")
        assert status == 400 and "executable file not found" in json.loads(data)["message"]
        st = inspect(box, cid)["State"]
        assert (st["Status"], st["ExitCode"]) == ("created", 127) and "executable file not found" in st["Error"]
        assert leftovers(box, cid) == ["container dir"]
    finally:
        rm(box, cid)
    cid = create(box, Cmd=["/etc"])
    try:
        status, _, data = box.request("POST", f"/containers/{cid}/start")
        assert status == 400
        assert inspect(box, cid)["State"]["ExitCode"] == 126
    finally:
        rm(box, cid)


def test_bad_input_answers_like_docker(box, tmp_path):
    cid = create(box, "taken", Cmd=["true"])
    try:
        message = create(box, "taken", expect=409, Cmd=["true"])
        assert message == (f'Conflict. The container name "/taken" is already in use by container "{cid}". '
                           "You have to remove (or rename) that container to be able to reuse that name.")
        assert "Invalid container name" in create(box, "-bad", expect=400, Cmd=["true"])
        assert create(box, expect=404, Image="nosuch", Cmd=["true"]) == "No such image: nosuch:latest"
        assert create(box, expect=400, Cmd=["true"], HostConfig={"Binds": ["/nonexistent-barge:/x"]}) == \
            'invalid mount config for type "bind": bind source path does not exist: /nonexistent-barge'
        assert create(box, expect=400, Cmd=["true"], HostConfig={"Memory": 1 << 20}) == \
            "Minimum memory limit allowed is 6MB"
        bad_user = create(box, Cmd=["true"], User="nosuch")
        status, _, data = box.request("POST", f"/containers/{bad_user}/start")
        assert status == 500
        assert json.loads(data)["message"] == "unable to find user nosuch: no matching entries in passwd file"
        rm(box, bad_user)
        status, _, data = box.request("POST", "/containers/nosuch/start")
        assert status == 404 and json.loads(data)["message"] == "No such container: nosuch"
        ids_before = {c["Id"] for c in box.json("GET", "/containers/json?all=1")}
        assert cid in ids_before and len([i for i in ids_before if i.startswith(cid[:12])]) == 1
    finally:
        rm(box, cid)


def test_bind_mounts_ro_and_rw(box, tmp_path):
    src = tmp_path / "share"
    src.mkdir()
    (src / "in.txt").write_text("from host\n")
    cid = run(box, ["sh", "-c", "cat /ro/in.txt; echo x > /ro/y 2>/dev/null || echo ro-refused; echo made > /rw/out.txt"],
              HostConfig={"Binds": [f"{src}:/ro:ro", f"{src}:/rw"], "Tmpfs": {"/scratch": "size=1m"}})
    try:
        wait_for(lambda: inspect(box, cid)["State"]["Status"] == "exited", what="the container to exit")
        out = joined(logs(box, cid, "stdout=1")[1], 1)
        assert out == b"from host\nro-refused\n"
        assert (src / "out.txt").read_text() == "made\n"
        mounts = {m["Destination"]: m for m in inspect(box, cid)["Mounts"]}
        assert mounts["/ro"]["RW"] is False and mounts["/rw"]["RW"] is True and mounts["/rw"]["Source"] == str(src)
    finally:
        rm(box, cid)


# ---------------------------------------------------------------------------
# wait, AutoRemove, restart policies
# ---------------------------------------------------------------------------


def test_wait_conditions(box):
    cid = create(box, Cmd=["sh", "-c", "exit 4"])
    try:
        assert box.json("POST", f"/containers/{cid}/wait")["StatusCode"] == 0  # not running: at once
        status, _, data = box.request("POST", f"/containers/{cid}/wait?condition=someday")
        assert status == 200 and b'"StatusCode": 0' in data  # dockerd 20.10 reads an unknown one as not-running
        assert box.request("POST", "/containers/nosuch/wait")[0] == 404
        waiter = Raw(box, "POST", f"/containers/{cid}/wait?condition=next-exit")
        box.request("POST", f"/containers/{cid}/start")
        assert json.loads(dechunk(waiter.read_all()))["StatusCode"] == 4
        waiter.close()
        remover = Raw(box, "POST", f"/containers/{cid}/wait?condition=removed")
        rm(box, cid)
        assert json.loads(dechunk(remover.read_all()))["StatusCode"] == 4
        remover.close()
    finally:
        rm(box, cid)


def test_auto_remove(box):
    cid = create(box, Cmd=["sh", "-c", "exit 5"], HostConfig={"AutoRemove": True})
    waiter = Raw(box, "POST", f"/containers/{cid}/wait?condition=removed")
    assert box.request("POST", f"/containers/{cid}/start")[0] == 204
    body = dechunk(waiter.read_all())
    waiter.close()
    assert json.loads(body)["StatusCode"] == 5
    assert box.request("GET", f"/containers/{cid}/json")[0] == 404
    assert leftovers(box, cid) == []
    failing = create(box, Cmd=["nosuch"], HostConfig={"AutoRemove": True})
    assert box.request("POST", f"/containers/{failing}/start")[0] == 400
    assert box.request("GET", f"/containers/{failing}/json")[0] == 404


def test_restart_policy_on_failure_with_limit(box):
    cid = run(box, ["sh", "-c", "exit 1"], HostConfig={"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}})
    try:
        wait_for(lambda: inspect(box, cid)["RestartCount"] == 2 and inspect(box, cid)["State"]["Status"] == "exited",
                 timeout=15, what="two restarts, then the exit")
        time.sleep(0.5)  # not a wait: time for a third restart that must not come
        doc = inspect(box, cid)
        assert doc["RestartCount"] == 2 and doc["State"]["ExitCode"] == 1
    finally:
        rm(box, cid)


def test_restart_policy_always_until_stopped(box):
    cid = run(box, ["sh", "-c", "echo run; sleep 0.2"], HostConfig={"RestartPolicy": {"Name": "always"}})
    try:
        wait_for(lambda: inspect(box, cid)["RestartCount"] >= 2, timeout=15, what="two restarts")
        assert box.request("POST", f"/containers/{cid}/stop?t=1")[0] in (204, 304)
        wait_for(lambda: inspect(box, cid)["State"]["Status"] == "exited", what="the container to exit")
        count = inspect(box, cid)["RestartCount"]
        time.sleep(1.0)  # not a wait: time for a restart after the stop, which must not come
        assert inspect(box, cid)["RestartCount"] == count and inspect(box, cid)["State"]["Status"] == "exited"
    finally:
        rm(box, cid)


# ---------------------------------------------------------------------------
# rename, update, top, stats, info
# ---------------------------------------------------------------------------


def test_rename_update_top_stats(box):
    cid = run(box, ["sleep", "60"], name="before")
    other = create(box, "other", Cmd=["true"])
    try:
        assert box.request("POST", "/containers/before/rename?name=after")[0] == 204
        assert inspect(box, cid)["Name"] == "/after"
        status, _, data = box.request("POST", "/containers/after/rename?name=other")
        assert status == 409 and b"already in use" in data
        upd = box.json("POST", f"/containers/{cid}/update", {"Memory": 32 << 20, "PidsLimit": 50,
                                                              "RestartPolicy": {"Name": "unless-stopped"}})
        assert not upd["Warnings"]
        hc = inspect(box, cid)["HostConfig"]
        assert (hc["Memory"], hc["MemorySwap"], hc["PidsLimit"]) == (32 << 20, 64 << 20, 50)
        assert hc["RestartPolicy"]["Name"] == "unless-stopped"
        top = box.json("GET", f"/containers/{cid}/top")
        assert "PID" in top["Titles"] and "CMD" in top["Titles"]
        assert [p[-1] for p in top["Processes"]] == ["sleep 60"]
        top = box.json("GET", f"/containers/{cid}/top?ps_args=-o%20pid,comm")
        assert top["Titles"] == ["PID", "COMMAND"] and top["Processes"][0][1] == "sleep"
        stats = box.json("GET", f"/containers/{cid}/stats?stream=0")
        assert stats["id"] == cid and stats["name"] == "/after"
        assert stats["memory_stats"]["usage"] > 0 and stats["memory_stats"]["limit"] == 32 << 20
        assert stats["pids_stats"]["current"] >= 1 and stats["pids_stats"]["limit"] == 50
        assert stats["cpu_stats"]["system_cpu_usage"] > stats["precpu_stats"]["system_cpu_usage"] > 0
        info = box.json("GET", "/info")
        assert info["Containers"] >= 2 and info["ContainersRunning"] >= 1 and info["ContainersStopped"] >= 1
        status, _, _ = box.request("GET", f"/containers/{other}/top")
        assert status == 409
    finally:
        rm(box, cid)
        rm(box, other)


def test_stats_stream_sends_one_document_per_second(box):
    cid = run(box, ["sleep", "60"])
    try:
        r = Raw(box, "GET", f"/containers/{cid}/stats?stream=1")
        data = r.read_until(b"\n{", timeout=5)
        data += r.read_until(b"}\r\n", timeout=5)
        rm(box, cid)
        data += r.read_all()  # the stream ends once the container is gone
        r.close()
        docs = [json.loads(line) for line in dechunk(data).split(b"\n") if line.startswith(b"{")]
        assert len(docs) >= 2 and docs[1]["precpu_stats"]["cpu_usage"]["total_usage"] > 0
    finally:
        rm(box, cid)


def test_named_exec_driver_missing_stops_daemon(daemon_factory):
    root = daemon_factory.new_root()
    (root / "daemon.toml").write_text('[exec]\ndriver = "nosuchexec"\n')
    d = daemon_factory(root=root, wait=False)
    assert d.wait_exit() == 1
    assert "exec driver 'nosuchexec' is not installed" in d.stderr_text()


# Runs the real daemon with one more extension plugin that records container events.
EVENT_RECORDER = """
import json, runpy, sys
import barge.engine.plugins as plugins
from barge.engine import hookimpl

out = open(sys.argv[1], "a")

class Recorder:
    @hookimpl
    def barge_container_event(self, action, container_id, attributes):
        out.write(json.dumps([action, container_id, attributes]) + "\\n"); out.flush()

original = plugins.make_plugin_manager

def make_plugin_manager(*args, **kwargs):
    pm = original(*args, **kwargs)
    pm.register(Recorder(), name="ext:recorder")
    return pm

plugins.make_plugin_manager = make_plugin_manager
sys.argv = ["barge.daemon.main", *sys.argv[2:]]
runpy.run_module("barge.daemon.main", run_name="__main__")
"""


def test_lifecycle_events_reach_extension_plugins(daemon_factory):
    import sys

    require_exec_driver()
    root = daemon_factory.new_root()
    record = root / "events.log"
    d = daemon_factory(root=root, prefix=[sys.executable, "-c", EVENT_RECORDER, str(record)])
    make_busybox(d)
    cid = create(d, "ev", Cmd=["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"],
                 Labels={"team": "a"})
    for call in ("start", "pause", "unpause", "kill?signal=HUP", "rename?name=ev2", "restart?t=2", "stop?t=2"):
        status, _, data = d.request("POST", f"/containers/{cid}/{call}")
        assert status == 204, (call, data)
    assert d.request("DELETE", f"/containers/{cid}")[0] == 204
    wait_for(lambda: "destroy" in record.read_text(), what="the destroy event in the plugin's record")
    events = [json.loads(line) for line in record.read_text().splitlines()]
    assert all(e[1] == cid for e in events)
    actions = [e[0] for e in events]
    assert actions == ["create", "start", "pause", "unpause", "kill", "rename", "kill", "die", "stop", "start",
                       "restart", "kill", "die", "stop", "destroy"]
    assert events[0][2] == {"team": "a", "name": "ev", "image": "busybox"}
    assert events[4][2]["signal"] == "1" and events[5][2]["oldName"] == "/ev" and events[5][2]["name"] == "ev2"
    assert events[7][2]["exitCode"] == "0"


def test_oom_killed_is_reported(box):
    cid = run(box, ["sh", "-c", "a=$(yes | head -c 200000000); echo survived"],
              HostConfig={"Memory": 16 << 20, "MemorySwap": 16 << 20})
    try:
        wait_for(lambda: inspect(box, cid)["State"]["Status"] == "exited", timeout=30, what="the container to exit")
        st = inspect(box, cid)["State"]
        assert st["OOMKilled"] is True and st["ExitCode"] == 137
        assert b"survived" not in box.request("GET", f"/containers/{cid}/logs?stdout=1")[2]
    finally:
        rm(box, cid)


def test_pids_limit_contains_a_fork_flood(box):
    # busybox sh stops at the first fork that fails; ``echo`` is a builtin and counts the forks that worked
    cid = run(box, ["sh", "-c", "for i in $(seq 300); do sleep 30 & echo $i; done"], HostConfig={"PidsLimit": 100})
    try:
        wait_for(lambda: inspect(box, cid)["State"]["Status"] == "exited", timeout=30, what="the container to exit")
        out = box.request("GET", f"/containers/{cid}/logs?stdout=1&stderr=1")[2]
        started = [int(x) for x in joined(out, 1).split()]
        assert b"can't fork" in joined(out, 2)
        assert 90 <= max(started) < 100  # sh itself plus its sleeps: never more than pids.max = 100
        assert box.request("GET", "/_ping")[0] == 200
    finally:
        rm(box, cid)


def test_half_close_without_stdin_keeps_the_output_coming(box):
    cid = run(box, ["sh", "-c", "sleep 0.5; echo after"])
    try:
        att = attach(box, cid, "stream=1&stdin=1&stdout=1&stderr=1")  # no OpenStdin: stdin is not attached
        att.sock.shutdown(socket.SHUT_WR)  # the docker CLI does this at once when it has no stdin to send
        assert joined(att.read_all(), 1) == b"after\n"
        att.close()
    finally:
        rm(box, cid)


def test_prune_removes_stopped_containers(box):
    keep = run(box, ["sleep", "60"])
    gone = run(box, ["true"], Labels={"p": "1"})
    kept = run(box, ["true"], Labels={"p": "2"})
    try:
        wait_for(lambda: inspect(box, gone)["State"]["Status"] == "exited" and
                 inspect(box, kept)["State"]["Status"] == "exited", what="both containers to exit")
        result = box.json("POST", '/containers/prune?filters={"label":["p=1"]}')
        assert result["ContainersDeleted"] == [gone] and result["SpaceReclaimed"] >= 0
        assert box.request("GET", f"/containers/{gone}/json")[0] == 404
        assert box.request("GET", f"/containers/{kept}/json")[0] == 200
        assert box.request("POST", '/containers/prune?filters={"bogus":["x"]}')[0] == 400
    finally:
        for cid in (keep, gone, kept):
            rm(box, cid)
