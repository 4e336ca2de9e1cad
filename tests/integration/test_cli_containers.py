"""``barge`` container commands as real processes against a real daemon with
real containers (the native exec driver): run's flow and exit codes, piped
stdin, ``run -it`` in a real pty, run -d + logs -f + stop + rm, ps and its
filters, and the other commands; plus ``docker ps`` parity where docker is
installed.

One daemon and one busybox image per module (containers are cheap, daemons
and images are not); each test removes the containers it made.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
import uuid

import pytest

from barge.testing.wait import wait_for

pytestmark = pytest.mark.daemon


def _env(daemon) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BARGE_", "DOCKER_"))}
    env["BARGE_HOST"] = daemon.url
    env["DOCKER_HOST"] = daemon.url
    return env


def barge(daemon, *args, input: bytes | None = None, check: bool = True, timeout: float = 60):
    proc = subprocess.run([sys.executable, "-m", "barge", *args], input=input, capture_output=True,
                          env=_env(daemon), timeout=timeout)
    if check:
        assert proc.returncode == 0, f"barge {' '.join(args)}: {proc.returncode}\n{proc.stderr.decode()}"
    return proc


def text(proc) -> str:
    return proc.stdout.decode()


@pytest.fixture(scope="module")
def cdaemon():
    """A daemon with busybox:latest, for this module."""
    from tests.conftest import DaemonFactory, require_exec_driver

    require_exec_driver()
    factory = DaemonFactory()
    try:
        d = factory()
        made = barge(d, "mkimage", "busybox", timeout=600)
        d.busybox = text(made).splitlines()[-1]
        yield d
    finally:
        factory.close()


@pytest.fixture
def names(cdaemon):
    """Unique container names; every one is removed (with -f) afterwards."""
    made: list[str] = []

    def new(prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        made.append(name)
        return name

    yield new
    if made:
        barge(cdaemon, "rm", "-f", *made, check=False)


def _gone(daemon, name: str, timeout: float = 10) -> bool:
    return wait_for(lambda: not text(barge(daemon, "ps", "-aq", "-f", f"name=^{name}$")).strip(), timeout,
                    interval=0.1, what=f"container {name} to be removed")


# ------------------------------------------------------------------ run

def test_run_rm_echo(cdaemon, names):
    name = names()
    proc = barge(cdaemon, "run", "--rm", "--name", name, "busybox", "echo", "hi")
    assert text(proc) == "hi\n" and proc.stderr == b""
    assert _gone(cdaemon, name)  # --rm waited for the removal (condition=removed)


def test_run_keeps_stdout_and_stderr_apart_and_returns_the_exit_code(cdaemon, names):
    proc = barge(cdaemon, "run", "--name", names(), "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert proc.returncode == 3
    assert proc.stdout == b"out\n" and proc.stderr == b"err\n"


@pytest.mark.parametrize("command, code, message", [
    (["nosuch-command"], 127, 'exec: "nosuch-command": executable file not found in $PATH'),
    (["/etc/passwd"], 126, "permission denied"),
])
def test_run_cannot_invoke(cdaemon, names, command, code, message):
    proc = barge(cdaemon, "run", "--rm", "--name", names(), "busybox", *command, check=False)
    assert proc.returncode == code, proc.stderr
    err = proc.stderr.decode()
    assert err.startswith("barge: Error response from daemon: ") and message in err
    assert "Run 'barge run --help' for more information" in err


def test_run_unknown_image_is_125(cdaemon):
    # the implicit pull goes to a registry on loopback where nothing listens: no traffic leaves the machine
    proc = barge(cdaemon, "run", "--rm", "127.0.0.1:1/no-such-image-here", check=False)
    assert proc.returncode == 125
    err = proc.stderr.decode()
    assert err.startswith("Unable to find image '127.0.0.1:1/no-such-image-here:latest' locally\n"), err
    assert "barge: " in err and "connection refused" in err.lower()


def test_run_interactive_with_piped_stdin(cdaemon, names):
    proc = barge(cdaemon, "run", "-i", "--rm", "--name", names(), "busybox", "sh", "-c", "cat; echo end >&2; exit 4",
                 input=b"line one\nline two\n", check=False)
    assert proc.returncode == 4
    assert proc.stdout == b"line one\nline two\n" and proc.stderr == b"end\n"


def test_run_interactive_streams_more_than_a_pipe_buffer(cdaemon, names):
    data = b"".join(b"%d\n" % i for i in range(20000))  # ~110 kB: several socket buffers
    proc = barge(cdaemon, "run", "-i", "--rm", "--name", names(), "busybox", "wc", "-l", input=data, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [b"20000"]


def test_run_applies_flags(cdaemon, names):
    name = names()
    proc = barge(cdaemon, "run", "--name", name, "-e", "A=1", "-w", "/tmp", "-h", "box", "-l", "k=v",
                 "-m", "64m", "--pids-limit", "50", "--ulimit", "nofile=100:200", "--cap-drop", "ALL",
                 "busybox", "sh", "-c", "echo $A $(pwd) $(hostname) $(ulimit -n)")
    assert text(proc) == "1 /tmp box 100\n"
    info = json.loads(text(barge(cdaemon, "inspect", name)))[0]
    hc = info["HostConfig"]
    assert hc["Memory"] == 64 << 20 and hc["PidsLimit"] == 50 and hc["CapDrop"] == ["ALL"]
    assert hc["Ulimits"] == [{"Name": "nofile", "Hard": 200, "Soft": 100}]
    assert info["Config"]["Labels"] == {"k": "v"} and info["Config"]["Hostname"] == "box"


def test_create_start_attach_and_wait(cdaemon, names):
    name = names()
    cid = text(barge(cdaemon, "create", "--name", name, "busybox", "sh", "-c", "echo started; exit 6")).strip()
    assert len(cid) == 64
    proc = barge(cdaemon, "start", "-a", name, check=False)
    assert proc.returncode == 6 and proc.stdout == b"started\n"
    assert text(barge(cdaemon, "wait", name)) == "6\n"
    assert text(barge(cdaemon, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name)) == "exited 6\n"


# ------------------------------------------------------------------ detached

def test_run_detached_logs_follow_stop_rm(cdaemon, names):
    name = names()
    cid = text(barge(cdaemon, "run", "-d", "--name", name, "busybox", "sh", "-c",
                     "i=0; while true; do echo out $i; echo err $i >&2; i=$((i+1)); sleep 0.1; done")).strip()
    assert len(cid) == 64
    follow = subprocess.Popen([sys.executable, "-m", "barge", "logs", "-f", name], env=_env(cdaemon),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    early = b""
    try:
        while b"out 1\n" not in early:  # unbuffered: communicate() reads the fd itself
            chunk = os.read(follow.stdout.fileno(), 4096)
            assert chunk, "logs -f ended before the second line"
            early += chunk
        assert barge(cdaemon, "ps", "-q", "-f", f"name={name}").stdout.strip() == cid[:12].encode()
        assert text(barge(cdaemon, "stop", "-t", "1", name)) == f"{name}\n"
        out, err = follow.communicate(timeout=30)  # logs -f ends when the container does
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    assert follow.returncode == 0
    out = early + out
    assert out.startswith(b"out 0\nout 1\n") and b"err" not in out
    assert err.startswith(b"err 0\nerr 1\n") and b"out" not in err
    tail = barge(cdaemon, "logs", "--tail", "1", name)
    last = tail.stdout + tail.stderr  # --tail counts lines of both streams together
    assert last.count(b"\n") == 1 and last.startswith((b"out ", b"err "))
    status = text(barge(cdaemon, "ps", "-a", "--format", "{{.Status}}", "-f", f"name={name}")).strip()
    assert status.startswith("Exited (") and status.endswith("ago")
    assert text(barge(cdaemon, "rm", name)) == f"{name}\n"
    assert _gone(cdaemon, name)


def test_lifecycle_commands(cdaemon, names):
    name, renamed = names(), names()
    barge(cdaemon, "run", "-d", "--name", name, "busybox", "sleep", "300")
    top = text(barge(cdaemon, "top", name)).splitlines()
    assert top[0].split()[:2] == ["UID", "PID"] and any("sleep 300" in line for line in top[1:])
    stats = text(barge(cdaemon, "stats", "--no-stream", name)).splitlines()
    assert stats[0].split()[:4] == ["CONTAINER", "ID", "NAME", "CPU"] and stats[1].split()[1] == name
    assert text(barge(cdaemon, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", name)) == f"{name} 1\n"
    assert text(barge(cdaemon, "pause", name)) == f"{name}\n"
    assert "(Paused)" in text(barge(cdaemon, "ps", "--format", "{{.Status}}", "-f", f"name={name}"))
    assert text(barge(cdaemon, "unpause", name)) == f"{name}\n"
    assert text(barge(cdaemon, "update", "-m", "32m", name)) == f"{name}\n"
    barge(cdaemon, "rename", name, renamed)
    assert text(barge(cdaemon, "inspect", "-f", "{{.Name}} {{.HostConfig.Memory}}", renamed)) == f"/{renamed} {32 << 20}\n"
    assert text(barge(cdaemon, "kill", "-s", "KILL", renamed)) == f"{renamed}\n"
    assert text(barge(cdaemon, "wait", renamed)) == "137\n"
    refused = barge(cdaemon, "rm", "no-such-container", check=False)
    assert refused.returncode == 1 and refused.stderr.decode().startswith("Error response from daemon: ")


def test_ps_all_quiet_filters(cdaemon, names):
    running, exited = names("run"), names("exit")
    rid = text(barge(cdaemon, "run", "-d", "--name", running, "-l", "role=web", "busybox", "sleep", "300")).strip()
    barge(cdaemon, "run", "--name", exited, "busybox", "true")
    table = text(barge(cdaemon, "ps")).splitlines()
    header = [h for h in table[0].split("  ") if h.strip()]
    assert [h.strip() for h in header] == ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert any(line.endswith(running) and '"sleep 300"' in line for line in table[1:])
    assert not any(line.endswith(exited) for line in table[1:])
    assert any(line.endswith(exited) for line in text(barge(cdaemon, "ps", "-a")).splitlines())
    assert rid[:12] in text(barge(cdaemon, "ps", "-q")).split()
    assert rid in text(barge(cdaemon, "ps", "-q", "--no-trunc")).split()
    assert text(barge(cdaemon, "ps", "-a", "-f", "status=exited", "--format", "{{.Names}}")).split().count(exited) == 1
    assert text(barge(cdaemon, "ps", "-f", "label=role=web", "--format", "{{.Names}} {{.Label \"role\"}}")) == f"{running} web\n"
    latest = text(barge(cdaemon, "ps", "-l", "--format", "{{.Names}}")).split()
    assert latest == [exited]
    assert text(barge(cdaemon, "container", "ls", "-a", "-n", "2", "--format", "{{.Names}}")).split() == [exited, running]


def test_docker_cli_sees_the_same_table(cdaemon, names):
    if shutil.which("docker") is None:
        pytest.skip("docker CLI is not installed")
    name = names()
    barge(cdaemon, "run", "-d", "--name", name, "-p", "8080:80", "busybox", "sleep", "300")
    # Everything but the clock-dependent columns (CREATED, STATUS) must be equal.
    fmt = "{{.ID}}|{{.Image}}|{{.Command}}|{{.Ports}}|{{.Names}}|{{.State}}|{{.Labels}}|{{.Mounts}}|{{.Networks}}|{{.Size}}"
    for args in (["ps", "--format", fmt], ["ps", "--format", "json"], ["ps", "-q"], ["ps", "--no-trunc", "-q"]):
        args = args + ["-f", f"name={name}"]
        ours = barge(cdaemon, *args).stdout
        theirs = subprocess.run(["docker", *args], capture_output=True, env=_env(cdaemon), timeout=60)
        assert theirs.returncode == 0, theirs.stderr
        if args[2] == "json":
            ours, theirs_out = json.loads(ours), json.loads(theirs.stdout)
            for key in ("RunningFor", "Status"):
                ours.pop(key), theirs_out.pop(key)
            assert ours == theirs_out
        else:
            assert ours == theirs.stdout
    head = text(barge(cdaemon, "ps", "-f", f"name={name}")).splitlines()[0]
    theirs = subprocess.run(["docker", "ps", "-f", f"name={name}"], capture_output=True, env=_env(cdaemon)).stdout.decode()
    assert head.split() == theirs.splitlines()[0].split()


# ------------------------------------------------------------------ terminal

class Pty:
    """A child process on a real pseudo-terminal of a given size."""

    #: the terminals of the running test: ``_no_terminal_left`` ends what a failed test left running
    live: list["Pty"] = []

    def __init__(self, argv: list[str], env: dict, rows: int = 24, cols: int = 80):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        self.buf = b""
        Pty.live.append(self)

    def end(self) -> None:
        """Kill the child if it still runs, reap it, close the terminal (a failed test's clean-up)."""
        with contextlib.suppress(ChildProcessError, ProcessLookupError):
            if self.pid and os.waitpid(self.pid, os.WNOHANG)[0] == 0:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1

    def expect(self, token: bytes, timeout: float = 30) -> bool:
        deadline = time.time() + timeout
        while token not in self.buf and time.time() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    break
                if not data:
                    break
                self.buf += data
        return token in self.buf

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.kill(self.pid, signal.SIGWINCH)

    def wait(self, timeout: float = 30) -> int:
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.expect(b"\0never\0", timeout=0.2)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                self.fd, self.pid = -1, 0
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        self.fd, self.pid = -1, 0
        raise AssertionError(f"still running; output so far: {self.buf!r}")


@pytest.fixture(autouse=True)
def _no_terminal_left():
    yield
    while Pty.live:
        Pty.live.pop().end()


def test_run_it_in_a_real_pty(cdaemon, names):
    term = Pty([sys.executable, "-m", "barge", "run", "-it", "--rm", "--name", names(), "busybox", "sh"], _env(cdaemon),
               rows=33, cols=101)
    assert term.expect(b"# "), term.buf
    term.send(b"echo $((6*7))\r")
    assert term.expect(b"42\r\n"), term.buf
    term.send(b"stty size\r")
    assert term.expect(b"33 101"), term.buf  # resized to our terminal right after start
    term.resize(40, 120)  # and again on SIGWINCH: asked until the shell sees the new size
    wait_for(lambda: term.send(b"stty size\r") or term.expect(b"40 120", timeout=1), timeout=30,
             what="stty size to say 40 120")
    term.send(b"exit 3\r")
    assert term.wait() == 3


def test_run_it_detach_keys(cdaemon, names):
    name = names()
    term = Pty([sys.executable, "-m", "barge", "run", "-it", "--name", name, "busybox", "sh"], _env(cdaemon))
    assert term.expect(b"# "), term.buf
    term.send(b"\x10")
    time.sleep(0.2)  # not a wait: the second key comes in a later read, and still completes the sequence
    term.send(b"\x11")
    assert term.wait() == 0  # the client detached, with status 0, as docker's does
    # moby keeps a TTY container's stdin open when an attach ends (it closes it only without a TTY)
    assert text(barge(cdaemon, "inspect", "-f", "{{.State.Status}}", name)) == "running\n"
    term = Pty([sys.executable, "-m", "barge", "attach", name], _env(cdaemon))
    term.send(b"echo back $((6*7))\r")
    assert term.expect(b"back 42"), term.buf
    term.send(b"exit 5\r")
    assert term.wait() == 5


def test_config_detach_keys_are_the_default(cdaemon, names, tmp_path):
    """config.json's ``detachKeys`` stands in for ``--detach-keys`` (docker's CLI does the same)."""
    name = names()
    (tmp_path / "config.json").write_text(json.dumps({"detachKeys": "ctrl-x"}))
    env = dict(_env(cdaemon), DOCKER_CONFIG=str(tmp_path))
    term = Pty([sys.executable, "-m", "barge", "run", "-it", "--name", name, "busybox", "sh"], env)
    assert term.expect(b"# "), term.buf
    term.send(b"\x18")
    assert term.wait() == 0
    assert text(barge(cdaemon, "inspect", "-f", "{{.State.Status}}", name)) == "running\n"
    term = Pty([sys.executable, "-m", "barge", "exec", "-it", name, "sh"], env)
    assert term.expect(b"# "), term.buf
    term.send(b"\x18")
    assert term.wait() == 1 and b"read escape sequence" in term.buf, term.buf  # as docker exec -it says it
    (tmp_path / "config.json").write_text(json.dumps({"detachKeys": "ctrl-1"}))
    proc = subprocess.run([sys.executable, "-m", "barge", "exec", name, "true"], env=env, capture_output=True,
                          timeout=60)
    assert proc.returncode == 1 and proc.stderr == b"Unknown character: 'ctrl-1'\n", proc.stderr  # the config's keys
    assert barge(cdaemon, "exec", "--detach-keys", "ctrl-y", name, "true", check=False).returncode == 0


def _read_until(proc, token: bytes, timeout: float = 30) -> bytes:
    data = b""
    deadline = time.time() + timeout
    while token not in data and time.time() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            data += chunk
    assert token in data, data
    return data


def test_signals_are_proxied_to_the_container(cdaemon, names):
    script = 'trap "echo got INT; exit 9" INT; echo ready; while true; do sleep 0.1; done'
    proc = subprocess.Popen([sys.executable, "-m", "barge", "run", "--rm", "--name", names(), "busybox", "sh", "-c", script],
                            env=_env(cdaemon), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        early = _read_until(proc, b"ready\n")
        proc.send_signal(signal.SIGINT)  # -> POST /containers/{id}/kill?signal=INT
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 9, err
    assert early + out == b"ready\ngot INT\n"


def test_without_sig_proxy_ctrl_c_leaves_the_container_running(cdaemon, names):
    name = names()
    proc = subprocess.Popen([sys.executable, "-m", "barge", "run", "--sig-proxy=false", "--name", name, "busybox",
                             "sh", "-c", "echo ready; sleep 300"], env=_env(cdaemon), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _read_until(proc, b"ready\n")
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert text(barge(cdaemon, "inspect", "-f", "{{.State.Status}}", name)) == "running\n"


def test_exec_in_a_running_container(cdaemon, names):
    name = names()
    barge(cdaemon, "run", "-d", "--name", name, "busybox", "sleep", "300")
    proc = barge(cdaemon, "exec", "-e", "X=6", name, "sh", "-c", "echo $((X*7)); echo e >&2; exit 5", check=False)
    assert proc.returncode == 5, proc.stderr
    assert proc.stdout == b"42\n" and proc.stderr == b"e\n"
    piped = barge(cdaemon, "exec", "-i", name, "cat", input=b"through exec\n")
    assert piped.stdout == b"through exec\n"
    term = Pty([sys.executable, "-m", "barge", "exec", "-it", name, "sh"], _env(cdaemon), rows=30, cols=90)
    assert term.expect(b"# "), term.buf
    term.send(b"stty size; echo $((6*7))\r")
    assert term.expect(b"30 90\r\n42\r\n"), term.buf
    term.send(b"exit 3\r")
    assert term.wait() == 3


def test_attach_follows_a_running_container_to_its_exit(cdaemon, names):
    name = names()
    barge(cdaemon, "run", "-d", "--name", name, "busybox", "sh", "-c",
          'trap "echo bye; exit 7" TERM; while true; do echo tick; sleep 0.1; done')
    proc = subprocess.Popen([sys.executable, "-m", "barge", "attach", "--no-stdin", name], env=_env(cdaemon),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _read_until(proc, b"tick\n")
        barge(cdaemon, "stop", name)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 7, err
    assert out.endswith(b"bye\n")
    stopped = barge(cdaemon, "attach", name, check=False)
    assert stopped.returncode == 1
    assert stopped.stderr == b"You cannot attach to a stopped container, start it first\n"
