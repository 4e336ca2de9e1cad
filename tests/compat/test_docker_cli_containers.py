"""The real docker CLI runs containers on barge: run, -d, logs -f, stop, rm, wait, ps, -it in a pty."""

from __future__ import annotations

import subprocess

import pytest

from barge.testing.wait import wait_for
from tests.compat.conftest import DOCKER, pty_run
from tests.conftest import make_busybox, require_exec_driver

pytestmark = pytest.mark.compat


@pytest.fixture
def docker(docker_cli, daemon):
    require_exec_driver()
    make_busybox(daemon)
    return docker_cli


def test_run_rm_echo(docker):
    proc = docker("run", "--rm", "busybox", "echo", "hi")
    assert proc.stdout == b"hi\n"
    assert docker.out("ps", "-a", "-q") == ""


def test_run_exit_codes(docker):
    assert docker("run", "--rm", "busybox", "sh", "-c", "exit 3", check=False).returncode == 3
    missing = docker("run", "busybox", "nosuchcommand", check=False)
    assert missing.returncode == 127 and b"executable file not found" in missing.stderr
    assert docker("run", "busybox", "/etc", check=False).returncode == 126
    bad_user = docker("run", "-u", "nosuch", "busybox", "true", check=False)
    assert bad_user.returncode == 125
    assert b"unable to find user nosuch: no matching entries in passwd file" in bad_user.stderr
    taken = docker("run", "--name", "dup", "busybox", "true")
    assert taken.returncode == 0
    again = docker("create", "--name", "dup", "busybox", "true", check=False)
    assert again.returncode != 0 and b'The container name "/dup" is already in use' in again.stderr


def test_run_detached_logs_follow_stop_rm(docker):
    cid = docker.out("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
                     "trap 'exit 0' TERM; i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done")
    assert len(cid) == 64
    follower = subprocess.Popen([DOCKER, "logs", "-f", "ticker"], env=docker.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    try:
        lines = [follower.stdout.readline() for _ in range(4)]
        assert lines == [b"tick0\n", b"tick1\n", b"tick2\n", b"tick3\n"]
        assert docker.out("stop", "ticker") == "ticker"
        follower.wait(timeout=15)  # logs -f ends when the container stops
        assert follower.returncode == 0
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert docker.out("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "ticker") == "exited 0"
    assert docker.out("ps", "-a", "--format", "{{.Names}} {{.Status}}").startswith("ticker Exited (0)")
    assert docker.out("rm", "ticker") == "ticker"
    assert docker.out("ps", "-a", "-q") == ""


def test_wait_ps_and_friends(docker):
    cid = docker.out("run", "-d", "busybox", "sh", "-c", "sleep 1; exit 7")
    assert docker.out("ps", "-q") == cid[:12]
    assert docker.out("wait", cid) == "7"
    assert docker.out("ps", "-q") == ""
    assert docker.out("ps", "-a", "-q") == cid[:12]
    assert docker.out("ps", "-a", "-q", "--no-trunc", "--filter", "exited=7") == cid
    long = docker.out("run", "-d", "--name", "sleeper", "busybox", "sleep", "60")
    assert docker.out("top", "sleeper").splitlines()[1].split()[-2:] == ["sleep", "60"]
    stats = docker.out("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", "sleeper")
    name, usage, _, limit, pids = stats.split(" ", 4)
    assert name == "sleeper" and usage.endswith("B") and pids == "1"
    docker("pause", "sleeper")
    assert "(Paused)" in docker.out("ps", "--format", "{{.Status}}", "--filter", "name=sleeper")
    docker("unpause", "sleeper")
    docker("rename", "sleeper", "napper")
    docker("restart", "-t", "1", "napper")
    assert docker.out("inspect", "-f", "{{.State.Running}} {{.Name}}", "napper") == "true /napper"
    rm = docker("rm", "napper", check=False)
    assert rm.returncode != 0 and b"cannot remove a running container" in rm.stderr.lower()
    docker("rm", "-f", "napper", cid)
    assert docker.out("ps", "-a", "-q") == ""
    assert long


def test_run_interactive_tty_in_a_real_pty(docker):
    code, output = pty_run(
        docker.env, [DOCKER, "run", "-it", "--rm", "busybox", "sh"],
        [(b"# ", b"echo $((6*7))\r"), (b"42", b"exit 3\r")],
    )
    assert b"42" in output
    assert code == 3


def test_run_interactive_detach_keys_leave_it_running(docker):
    code, output = pty_run(
        docker.env, [DOCKER, "run", "-it", "--name", "stay", "busybox", "sh"],
        [(b"# ", b"echo u$((1+1))p\r"), (b"u2p", b"\x10\x11")],
    )
    assert code == 0
    wait_for(lambda: docker.out("inspect", "-f", "{{.State.Running}}", "stay") == "true", what="stay to be running")
    docker("rm", "-f", "stay")


def test_run_with_stdin_pipe(docker):
    proc = docker("run", "-i", "--rm", "busybox", "sh", "-c", "tr a-z A-Z", input=b"piped text\n")
    assert proc.stdout == b"PIPED TEXT\n"


def test_run_with_a_large_stdin(docker):
    """More stdin than the daemon buffers (flow control on the hijacked connection)."""
    import hashlib

    data = b"".join(b"%d\n" % i for i in range(1, 200_001))  # ~1.3 MB
    proc = docker("run", "-i", "--rm", "busybox", "md5sum", input=data)
    assert proc.stdout.split()[0].decode() == hashlib.md5(data).hexdigest()
    assert docker.out("ps", "-a", "-q") == ""


def test_attach_to_running_and_start_attached(docker):
    docker("run", "-d", "--name", "later", "busybox", "sh", "-c", "sleep 1; echo late; exit 4")
    attached = docker("attach", "later", check=False)
    assert attached.stdout == b"late\n" and attached.returncode == 4
    again = docker("start", "-a", "later", check=False)
    assert again.stdout == b"late\n" and again.returncode == 4
    assert docker.out("logs", "later") == "late\nlate"
    docker("rm", "later")
