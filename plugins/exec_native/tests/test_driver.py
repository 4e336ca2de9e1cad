"""The native exec driver end to end: real containers from a busybox root file system.

Needs root, namespaces and cgroups (skipped with the reason otherwise). The
root file system is conftest's busybox tree, mounted read-only. Every
container a test makes is deleted at teardown, even when the test fails.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid

import pytest

from barge import errors
from barge.execdriver import ContainerSpec, LogSpec, MountSpec, ProcessSpec, Resources
from barge.testing.wait import wait_for
from barge_exec_native.attach import AttachClient


def _driver_or_skip(home):
    if os.geteuid() != 0:
        pytest.skip("the native driver needs root")
    from barge_exec_native.driver import NativeDriver

    try:
        return NativeDriver(home)
    except errors.DriverNotSupported as exc:
        pytest.skip(str(exc))


class Box:
    """Makes containers for one test and deletes every one of them afterwards."""

    def __init__(self, driver, base: str, rootfs: str):
        self.driver = driver
        self.base = base
        self.rootfs = rootfs
        self.made: list[tuple[str, str, str]] = []  # (id, state dir, cgroup path)
        self.drivers = [driver]

    def spec(self, args, *, log: dict | None = None, resources: Resources | None = None,
             mounts: list[MountSpec] | None = None, **process) -> ContainerSpec:
        cid = uuid.uuid4().hex
        process.setdefault("env", ["PATH=/bin", "HOME=/root"])
        return ContainerSpec(
            id=cid, rootfs=[{"Type": "bind", "Source": self.rootfs, "Options": ["rbind", "ro"]}],
            process=ProcessSpec(args=list(args), **process), hostname=cid[:12],
            cgroup_path=f"barge-test-native/{cid}", resources=resources or Resources(),
            mounts=mounts or [],
            log=LogSpec(path=os.path.join(self.base, f"{cid}-json.log"), **(log or {})),
        )

    def state_dir(self, spec: ContainerSpec) -> str:
        return os.path.join(self.base, "state", spec.id)

    def create(self, args, **kw) -> tuple[ContainerSpec, str]:
        spec = self.spec(args, **kw)
        sd = self.state_dir(spec)
        self.made.append((spec.id, sd, spec.cgroup_path))
        self.driver.create(spec, sd)
        return spec, sd

    def run(self, args, **kw) -> tuple[ContainerSpec, str, bytes, bytes, int]:
        """create, attach (stdout+stderr), start, read to the end."""
        spec, sd = self.create(args, **kw)
        with attach(sd) as client:
            self.driver.start(spec.id, sd)
            out, err, code = client.read_all(time.monotonic() + 10)
        return spec, sd, out, err, code

    def cleanup(self) -> None:
        for cid, sd, _ in self.made:
            try:
                self.driver.delete(cid, sd)
            except Exception:  # keep cleaning the rest
                pass
        for drv in self.drivers:
            drv.close()


def attach(sd: str, **hello) -> AttachClient:
    request = {"stdin": False, "stdout": True, "stderr": True, "exec_id": None}
    request.update(hello)
    client = AttachClient(os.path.join(sd, "attach.sock"), request, timeout=10)  # long paths too
    assert client.reply == {"ok": True}
    return client


def cgroup_dirs(cgroup_path: str) -> list[str]:
    found = []
    for name in os.listdir("/sys/fs/cgroup"):
        d = os.path.join("/sys/fs/cgroup", name, cgroup_path)
        if os.path.isdir(d):
            found.append(d)
    return found


def log_entries(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return str(tmp_path_factory.mktemp("native"))


@pytest.fixture
def box(base, busybox_rootfs):
    driver = _driver_or_skip(os.path.join(base, "home"))
    b = Box(driver, base, str(busybox_rootfs))
    try:
        yield b
    finally:
        b.cleanup()


# -- life cycle ------------------------------------------------------------------------------------


def test_run_exit_code_output_and_log(box):
    spec, sd, out, err, code = box.run(["sh", "-c", "echo hi; hostname; echo oops >&2; exit 3"])
    assert (out, err, code) == (b"hi\n" + spec.id[:12].encode() + b"\n", b"oops\n", 3)
    final = box.driver.wait(spec.id, sd, 5)
    assert final.status == "stopped" and final.exit_code == 3 and not final.oom_killed
    assert final.started_at and final.finished_at >= final.started_at
    assert box.driver.state(spec.id, sd) == final
    entries = log_entries(spec.log.path)
    assert [(e["log"], e["stream"]) for e in entries if e["stream"] == "stdout"] == [
        ("hi\n", "stdout"), (spec.id[:12] + "\n", "stdout")]
    assert [e["log"] for e in entries if e["stream"] == "stderr"] == ["oops\n"]
    with open(os.path.join(sd, "exit.json")) as f:
        assert json.load(f)["exit_code"] == 3


def test_created_state_then_running(box):
    spec, sd = box.create(["sleep", "100"])
    created = box.driver.state(spec.id, sd)
    assert created.status == "created" and created.pid > 0
    with pytest.raises(errors.Conflict):
        box.driver.kill(spec.id, sd, signal.SIGTERM)
    box.driver.start(spec.id, sd)
    running = box.driver.state(spec.id, sd)
    assert running.status == "running" and running.pid == created.pid and running.started_at
    assert box.driver.wait(spec.id, sd, 0.2) is None
    with pytest.raises(errors.Conflict):
        box.driver.start(spec.id, sd)


def test_command_not_found_is_127_with_dockers_message(box):
    spec, sd = box.create(["nosuch"])
    with pytest.raises(errors.BargeError) as info:
        box.driver.start(spec.id, sd)
    assert 'exec: "nosuch": executable file not found in $PATH' in str(info.value)
    assert info.value.exit_code == 127
    final = box.driver.wait(spec.id, sd, 5)
    assert final.status == "stopped" and final.exit_code == 127 and "not found" in final.error


def test_log_rotation(box):
    script = "i=0; while [ $i -lt 60 ]; do echo line $i; i=$((i+1)); done"
    spec, sd, out, _, code = box.run(["sh", "-c", script], log={"options": {"max-size": "400", "max-file": "3"}})
    assert code == 0 and out.count(b"\n") == 60
    path = spec.log.path
    names = sorted(n for n in os.listdir(os.path.dirname(path)) if n.startswith(os.path.basename(path)))
    assert names == [os.path.basename(path) + s for s in ("", ".1", ".2")]
    lines = [e["log"] for p in (path + ".2", path + ".1", path) for e in log_entries(p)]
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == list(range(numbers[0], 60)) and numbers[0] > 0
    assert all(os.path.getsize(p) <= 400 for p in (path, path + ".1", path + ".2"))


def test_stdin_echo_and_half_close_ends_cat(box):
    spec, sd = box.create(["cat"], stdin=True, stdin_once=True)
    with attach(sd, stdin=True) as client:
        box.driver.start(spec.id, sd)
        client.send(b"hello\nworld\n")
        client.close_stdin()
        out, err, code = client.read_all(time.monotonic() + 10)
    assert (out, err, code) == (b"hello\nworld\n", b"", 0)


def test_two_clients_both_get_output(box):
    spec, sd = box.create(["sh", "-c", "read x; echo got $x"], stdin=True)
    with attach(sd, stdin=True) as writer, attach(sd, stdout=True, stderr=False) as watcher:
        box.driver.start(spec.id, sd)
        writer.send(b"42\n")
        assert writer.read_all(time.monotonic() + 10) == (b"got 42\n", b"", 0)
        assert watcher.read_all(time.monotonic() + 10) == (b"got 42\n", b"", 0)
    # Attaching after the exit gets the exit frame at once.
    assert box.driver.wait(spec.id, sd, 5).exit_code == 0


def test_tty_size_and_resize(box):
    spec, sd = box.create(["sh", "-c", "stty size; read x; stty size"], terminal=True, stdin=True,
                          console_height=30, console_width=100)
    with attach(sd, stdin=True) as client:
        box.driver.start(spec.id, sd)
        seen = b""
        while b"30 100" not in seen:
            stream, payload = client.read_frame()
            assert stream == 1  # a terminal has one stream
            seen += payload
        reply = AttachClient(os.path.join(sd, "attach.sock"),
                             {"control": "resize", "exec_id": None, "height": 40, "width": 120}).reply
        assert reply == {"ok": True}
        client.send(b"go\n")
        out, _, code = client.read_all(time.monotonic() + 10)
    assert b"40 120" in out and code == 0


def test_tty_is_the_containers_own_pts(box):
    """Like runc: the pty comes from the container's devpts, so its name exists there."""
    script = ('tty; test -t 0 && echo stdin-tty; t=$(tty); [ -c "$t" ] && echo exists; '
              'ls -l /dev/console | cut -c1; stty size')
    spec, sd = box.create(["sh", "-c", script], terminal=True, console_height=25, console_width=81)
    with attach(sd) as client:
        box.driver.start(spec.id, sd)
        out, _, code = client.read_all(time.monotonic() + 10)
    assert code == 0
    assert out.replace(b"\r", b"").splitlines() == [b"/dev/pts/0", b"stdin-tty", b"exists", b"c", b"25 81"], out
    spec, sd = box.create(["sleep", "100"], terminal=True)
    box.driver.start(spec.id, sd)
    with attach(sd, exec_id="t") as client:
        box.driver.exec(spec.id, sd, "t", ProcessSpec(args=["sh", "-c", 't=$(tty); echo "$t"; [ -c "$t" ] && echo ok'],
                                                     env=["PATH=/bin"], terminal=True))
        out, _, code = client.read_all(time.monotonic() + 10)
    assert code == 0 and out.replace(b"\r", b"").splitlines() == [b"/dev/pts/1", b"ok"], out


def test_exec_with_exit_code_and_errors(box):
    spec, sd = box.create(["sleep", "100"])
    with pytest.raises(errors.Conflict):
        box.driver.exec(spec.id, sd, "early", ProcessSpec(args=["true"]))
    box.driver.start(spec.id, sd)
    with attach(sd, exec_id="e1") as client:  # attached before the exec starts
        pid = box.driver.exec(spec.id, sd, "e1", ProcessSpec(
            args=["sh", "-c", "echo in $(hostname); echo bad >&2; exit 5"], env=["PATH=/bin"]))
        assert pid > 0
        assert client.read_all(time.monotonic() + 10) == (b"in " + spec.id[:12].encode() + b"\n", b"bad\n", 5)
    wait_for(lambda: box.driver.exec_state(spec.id, sd, "e1").status == "stopped", 5, interval=0.01, what="e1 stopped")
    assert box.driver.exec_state(spec.id, sd, "e1").exit_code == 5
    with pytest.raises(errors.BargeError) as info:
        box.driver.exec(spec.id, sd, "e2", ProcessSpec(args=["nosuch"], env=["PATH=/bin"]))
    assert "executable file not found" in str(info.value) and info.value.exit_code == 127
    assert box.driver.exec_state(spec.id, sd, "e2").exit_code == 127
    with pytest.raises(errors.NotFound):
        box.driver.exec_state(spec.id, sd, "nope")
    # The exec is inside the container: same pid namespace, pid 1 is sleep.
    with attach(sd, exec_id="e3") as client:
        box.driver.exec(spec.id, sd, "e3", ProcessSpec(args=["cat", "/proc/1/cmdline"], env=["PATH=/bin"]))
        assert client.read_all(time.monotonic() + 10) == (b"sleep\x00100\x00", b"", 0)
    assert box.driver.state(spec.id, sd).status == "running"


def test_exec_stdin_and_tty(box):
    spec, sd = box.create(["sleep", "100"])
    box.driver.start(spec.id, sd)
    with attach(sd, exec_id="cat", stdin=True) as client:
        box.driver.exec(spec.id, sd, "cat", ProcessSpec(args=["cat"], env=["PATH=/bin"], stdin=True, stdin_once=True))
        client.send(b"piped\n")
        client.close_stdin()
        assert client.read_all(time.monotonic() + 10) == (b"piped\n", b"", 0)
    with attach(sd, exec_id="tty") as client:
        box.driver.exec(spec.id, sd, "tty", ProcessSpec(args=["stty", "size"], env=["PATH=/bin"], terminal=True,
                                                       console_height=12, console_width=34))
        out, _, code = client.read_all(time.monotonic() + 10)
    assert out == b"12 34\r\n" and code == 0


def test_kill_pause_resume_processes(box):
    spec, sd = box.create(["sh", "-c", "sleep 100 & wait"])
    box.driver.start(spec.id, sd)
    wait_for(lambda: len(box.driver.processes(spec.id, sd)) >= 2, 5, interval=0.01, what="sh and its sleep")
    box.driver.pause(spec.id, sd)
    assert box.driver.state(spec.id, sd).status == "paused"
    with pytest.raises(errors.Conflict):
        box.driver.pause(spec.id, sd)
    box.driver.resume(spec.id, sd)
    assert box.driver.state(spec.id, sd).status == "running"
    with pytest.raises(errors.Conflict):
        box.driver.resume(spec.id, sd)
    stats = box.driver.stats(spec.id, sd)
    assert stats["pids_stats"]["current"] >= 2 and stats["memory_stats"]["usage"] > 0
    box.driver.kill(spec.id, sd, signal.SIGKILL)
    final = box.driver.wait(spec.id, sd, 5)
    assert final.exit_code == 137 and final.status == "stopped"
    with pytest.raises(errors.Conflict):
        box.driver.kill(spec.id, sd, signal.SIGKILL)


def test_update_changes_limits(box):
    spec, sd = box.create(["sleep", "100"], resources=Resources(pids_limit=50))
    box.driver.update(spec.id, sd, Resources(pids_limit=20))
    assert box.driver.stats(spec.id, sd)["pids_stats"]["limit"] == 20
    with open(os.path.join(sd, "spec.json")) as f:
        assert json.load(f)["resources"]["pids_limit"] == 20


def _process_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] in "ZX"
    except FileNotFoundError:
        return True


def test_delete_leaves_no_cgroup_mount_or_process(box):
    pids = []
    specs = []
    for started in (False, True):
        spec, sd = box.create(["sleep", "100"])
        if started:
            box.driver.start(spec.id, sd)
        with open(os.path.join(sd, "monitor.pid")) as f:
            pids.append(int(f.read().split()[0]))
        pids.append(box.driver.state(spec.id, sd).pid)
        specs.append((spec, sd))
    for spec, sd in specs:
        began = time.monotonic()
        box.driver.delete(spec.id, sd)
        assert time.monotonic() - began < 3  # the monitor ended by itself, not by timeout
        box.driver.delete(spec.id, sd)  # idempotent
        assert not os.path.exists(sd)
        assert cgroup_dirs(spec.cgroup_path) == []
        assert box.driver.state(spec.id, sd).status == "unknown"
    for pid in pids:
        assert _process_gone(pid), pid
    with open("/proc/self/mountinfo") as f:
        assert os.path.join(box.base, "state") not in f.read()


def test_failed_create_leaves_nothing(box):
    spec = box.spec(["true"], mounts=[MountSpec("/data", "bind", "/nonexistent/source", ["rbind"])])
    sd = box.state_dir(spec)
    with pytest.raises(errors.InvalidParameter) as info:
        box.driver.create(spec, sd)
    assert "/nonexistent/source" in str(info.value)
    assert not os.path.exists(sd)
    assert cgroup_dirs(spec.cgroup_path) == []


def test_oom_killed(box):
    spec, sd, *_ = box.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
                           resources=Resources(memory=8 << 20, memory_swap=8 << 20))
    final = box.driver.wait(spec.id, sd, 10)
    assert final.oom_killed and final.exit_code == 137


# -- the daemon dies; its containers do not --------------------------------------------------------


def test_containers_survive_daemon_death(box):
    old = box.driver
    spec, sd = box.create(["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done"])
    old.start(spec.id, sd)
    with open(os.path.join(sd, "monitor.pid")) as f:
        monitor_pid = int(f.read().split()[0])
    with open(f"/proc/{monitor_pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    assert int(fields[1]) != os.getpid()  # ppid: not the daemon
    assert int(fields[3]) != os.getsid(0)  # its own session (not a leader: no controlling tty)
    # The daemon dies: its driver instance and spawner go, without any goodbye.
    spawner = old._spawner._proc
    os.kill(spawner.pid, signal.SIGKILL)
    spawner.wait(5)
    old._spawner._sock.close()
    new = _driver_or_skip(os.path.join(box.base, "home"))
    box.driver = new
    box.drivers.append(new)
    assert new.state(spec.id, sd).status == "running"
    with attach(sd) as client:
        stream, payload = client.read_frame()
        assert stream == 1 and payload.startswith(b"tick ")
        new.kill(spec.id, sd, signal.SIGKILL)
        client.read_all(time.monotonic() + 10)
    final = new.wait(spec.id, sd, 10)
    assert final.status == "stopped" and final.exit_code == 137
    with open(os.path.join(sd, "exit.json")) as f:
        assert json.load(f)["exit_code"] == 137
    assert any(e["log"].startswith("tick ") for e in log_entries(spec.log.path))
    # A new container works with the new instance (it starts its own spawner).
    _, _, out, _, code = box.run(["echo", "after"])
    assert (out, code) == (b"after\n", 0)


def test_wait_after_monitor_killed_reports_lost_exit(box):
    spec, sd = box.create(["sleep", "100"])
    box.driver.start(spec.id, sd)
    with open(os.path.join(sd, "monitor.pid")) as f:
        monitor_pid = int(f.read().split()[0])
    os.kill(monitor_pid, signal.SIGKILL)
    wait_for(lambda: _process_gone(monitor_pid), 5, interval=0.01, what="the killed monitor gone")
    # The init lives on (orphaned): still running, and kill still reaches it.
    assert box.driver.state(spec.id, sd).status == "running"
    box.driver.kill(spec.id, sd, signal.SIGKILL)
    final = box.driver.wait(spec.id, sd, 5)
    assert final.status == "stopped" and final.exit_code == 255 and "monitor" in final.error


def test_wait_ends_a_container_whose_monitor_was_killed(box):
    """With its monitor gone nobody keeps the container's log, serves attach or records its exit: wait
    kills the orphaned init and reports the exit as lost, so that the daemon records it, releases the
    container and applies its restart policy (the chaos campaign's monitor kills)."""
    spec, sd = box.create(["sleep", "100"])
    box.driver.start(spec.id, sd)
    with open(os.path.join(sd, "monitor.pid")) as f:
        monitor_pid = int(f.read().split()[0])
    with open(os.path.join(sd, "state.json")) as f:
        init_pid = int(json.load(f)["pid"])
    os.kill(monitor_pid, signal.SIGKILL)
    final = box.driver.wait(spec.id, sd, 15)
    assert final is not None and final.status == "stopped" and final.exit_code == 255
    assert "monitor died" in final.error
    wait_for(lambda: _process_gone(init_pid), 5, interval=0.01, what="the orphaned init gone")


# -- the attach protocol's edges -------------------------------------------------------------------


def _raw(sd: str, line: bytes) -> bytes:
    """Send one raw line to the monitor; return everything it answers before closing."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(os.path.join(sd, "attach.sock"))
        s.sendall(line)
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        return data


def test_attach_protocol_errors_and_late_attach(box):
    spec, sd = box.create(["sleep", "100"])
    assert json.loads(_raw(sd, b"not json\n"))["ok"] is False
    assert json.loads(_raw(sd, b'{"control": "reboot"}\n'))["ok"] is False
    resize = json.loads(_raw(sd, b'{"control": "resize", "exec_id": null, "height": 10, "width": 10}\n'))
    assert resize["ok"] is False and resize["type"] == "Conflict"
    state = json.loads(_raw(sd, b'{"control": "state"}\n'))
    assert state["ok"] and state["status"] == "created"
    box.driver.start(spec.id, sd)
    box.driver.exec(spec.id, sd, "quick", ProcessSpec(args=["true"], env=["PATH=/bin"]))
    wait_for(lambda: box.driver.exec_state(spec.id, sd, "quick").status == "stopped", 5, interval=0.01,
             what="quick stopped")
    # Attaching to a finished exec answers at once with its exit frame.
    with attach(sd, exec_id="quick") as client:
        assert client.read_all(time.monotonic() + 5) == (b"", b"", 0)
    with pytest.raises(errors.Conflict):
        box.driver.exec(spec.id, sd, "quick", ProcessSpec(args=["true"], env=["PATH=/bin"]))
    with pytest.raises(errors.InvalidParameter):
        box.driver.exec(spec.id, sd, "../escape", ProcessSpec(args=["true"]))


def test_state_dir_beyond_unix_socket_path_limit(box):
    spec = box.spec(["echo", "long"])
    sd = os.path.join(box.base, "state", "d" * 60, "e" * 60, spec.id)
    assert len(os.path.join(sd, "attach.sock")) > 108
    box.made.append((spec.id, sd, spec.cgroup_path))
    box.driver.create(spec, sd)
    with attach(sd) as client:
        box.driver.start(spec.id, sd)
        assert client.read_all(time.monotonic() + 10) == (b"long\n", b"", 0)
    assert box.driver.wait(spec.id, sd, 5).exit_code == 0


def test_clients_that_hang_up_are_let_go(box):
    spec, sd = box.create(["sleep", "100"])
    box.driver.start(spec.id, sd)
    with open(os.path.join(sd, "monitor.pid")) as f:
        monitor_pid = int(f.read().split()[0])

    def open_fds() -> int:
        return len(os.listdir(f"/proc/{monitor_pid}/fd"))

    before = open_fds()
    for _ in range(20):  # each wait that times out connects and hangs up
        assert box.driver.wait(spec.id, sd, 0.01) is None
    wait_for(lambda: open_fds() <= before + 1, what="the monitor to let the hung-up clients go")


def test_spawner_ends_with_its_daemon(tmp_path):
    """The spawner follows its daemon's death (EOF on the inherited socket), however it dies."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from barge_exec_native.spawn_client import SpawnerClient\n"
        "c = SpawnerClient()\n"
        f"c.spawn({str(tmp_path / 'no-such-dir')!r}, 30)\n"  # starts the spawner; the answer is an error
        "print(c.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    daemon = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        spawner_pid = int(daemon.stdout.readline())
        assert os.path.exists(f"/proc/{spawner_pid}")
    finally:
        daemon.kill()
        daemon.wait()
        daemon.stdin.close()
        daemon.stdout.close()
    wait_for(lambda: _process_gone(spawner_pid), 5, interval=0.01, what="the spawner to follow its daemon")


def test_not_supported_without_root(tmp_path, monkeypatch):
    from barge_exec_native.driver import NativeDriver

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(errors.DriverNotSupported) as info:
        NativeDriver(tmp_path)
    assert str(info.value).startswith("native: not supported: needs root")


def test_container_processes_start_with_default_signal_dispositions(box):
    # Python ignores SIGPIPE; a container must not inherit that (yes | head would never end).
    _, _, out, _, code = box.run(["grep", "SigIgn", "/proc/self/status"])
    assert (out, code) == (b"SigIgn:\t0000000000000000\n", 0)


def _read_until(client: AttachClient, marker: bytes, timeout: float = 10) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        client.settimeout(max(0.01, deadline - time.monotonic()))
        got = client.read_frame()
        assert got is not None, f"connection ended before {marker!r}: {seen!r}"
        seen += got[1]
    return seen


def test_stdin_once_with_a_tty_survives_its_client(box):
    """moby's rule: a client's EOF closes a stdin_once stdin only without a TTY.

    ``docker run -it`` then detaching (or a dropped client) must leave the
    shell running; the next attach still talks to it.
    """
    spec, sd = box.create(["sh"], terminal=True, stdin=True, stdin_once=True)
    with attach(sd, stdin=True) as client:
        box.driver.start(spec.id, sd)
        client.send(b"echo one-$((40+2))\n")
        _read_until(client, b"one-42")
        client.close_stdin()  # the client's EOF (a detach ends the same way)
        time.sleep(0.3)  # not a wait: time for the shell to end, which it must not
    with attach(sd, stdin=True) as client:  # dropped without a half-close
        client.send(b"echo two-$((40+3))\n")
        _read_until(client, b"two-43")
    time.sleep(0.3)  # not a wait: as above
    assert box.driver.state(spec.id, sd).status == "running"
    with attach(sd, stdin=True) as client:
        client.send(b"exit 5\n")
        _, _, code = client.read_all(time.monotonic() + 10)
    assert code == 5


def test_init_reaper_is_named_reaps_orphans_and_prints_nothing(box):
    """``--init``: PID 1 is ``barge-init`` in ps/top (comm and command line),
    orphans are reaped, and nothing of its own reaches the container's output."""
    spec = box.spec(["sh", "-c", "(sleep 0.1 &); sleep 0.5; cat /proc/1/comm; tr '\\0' ' ' </proc/1/cmdline; echo;"
                     "ps -o stat,comm | grep -c '^Z'; exit 3"])
    spec.init = True
    sd = box.state_dir(spec)
    box.made.append((spec.id, sd, spec.cgroup_path))
    box.driver.create(spec, sd)
    with attach(sd) as client:
        box.driver.start(spec.id, sd)
        host_pid = box.driver.state(spec.id, sd).pid
        with open(f"/proc/{host_pid}/comm") as f:
            host_comm = f.read()
        with open(f"/proc/{host_pid}/cmdline", "rb") as f:
            host_cmdline = f.read()
        out, err, code = client.read_all(time.monotonic() + 10)
    assert (err, code) == (b"", 3)
    comm, cmdline, zombies = out.decode().splitlines()
    assert comm == "barge-init" and host_comm == "barge-init\n"
    # the title is cut to the length of the spawner's command line it replaces
    assert cmdline.startswith("barge-init -- sh -c (sleep 0.1 &);")
    assert host_cmdline.startswith(b"barge-init\0--\0sh\0-c\0(sleep 0.1 &);")
    assert zombies == "0"  # the orphaned sleep was reaped by PID 1
