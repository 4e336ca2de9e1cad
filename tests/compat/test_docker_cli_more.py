"""The real docker CLI on barge, beyond run: exec (also -it in a pty), cp, diff, commit, export/import,
events, volumes. One daemon for the module; each test cleans up what it made."""

from __future__ import annotations

import io
import os
import select
import subprocess
import tarfile
import time

import pytest

from barge.testing.wait import wait_for
from tests.compat.conftest import DOCKER, own_daemon_cli, pty_run

pytestmark = pytest.mark.compat


@pytest.fixture(scope="module")
def docker(tmp_path_factory):
    with own_daemon_cli(tmp_path_factory, "barge-dm-") as cli:
        yield cli


@pytest.fixture
def box(docker):
    """A running container named ``box``, removed after the test."""
    docker("run", "-d", "--name", "box", "busybox", "sleep", "600")
    yield "box"
    docker("rm", "-f", "box", check=False)


# ---------------------------------------------------------------------------
# exec
# ---------------------------------------------------------------------------


def test_exec_output_exit_codes_and_options(docker, box):
    assert "etc" in docker.out("exec", box, "ls", "/").split()
    assert docker("exec", box, "sh", "-c", "exit 7", check=False).returncode == 7
    assert docker.out("exec", "-e", "FOO=bar", "-u", "nobody", "-w", "/tmp", box,
                      "sh", "-c", 'echo "$FOO $(id -u) $(pwd)"') == "bar 65534 /tmp"
    missing = docker("exec", box, "nosuchcommand", check=False)
    assert missing.returncode == 127 and b"executable file not found" in missing.stdout + missing.stderr
    assert docker("exec", "-i", box, "tr", "a-z", "A-Z", input=b"piped\n").stdout == b"PIPED\n"
    stopped = docker("exec", "nothere", "ls", check=False)
    assert stopped.returncode != 0 and b"No such container: nothere" in stopped.stderr


def test_exec_detached(docker, box):
    assert docker.out("exec", "-d", box, "sh", "-c", "echo bg > /tmp/bg") == ""
    wait_for(lambda: docker("exec", box, "cat", "/tmp/bg", check=False).stdout == b"bg\n",
             what="the detached exec's file")


def test_exec_on_a_stopped_container_is_refused(docker):
    docker("create", "--name", "idle", "busybox", "true")
    try:
        proc = docker("exec", "idle", "ls", check=False)
        assert proc.returncode != 0 and b"is not running" in proc.stderr
    finally:
        docker("rm", "idle")


def test_exec_interactive_tty_in_a_real_pty(docker, box):
    code, output = pty_run(docker.env, [DOCKER, "exec", "-it", box, "sh"],
                           [(b"# ", b"stty size; echo $((6*7)) $TERM\r"), (b"42 xterm", b"exit 5\r")], size=(33, 111))
    assert b"33 111" in output and b"42 xterm" in output
    assert code == 5


# ---------------------------------------------------------------------------
# cp, diff
# ---------------------------------------------------------------------------


def test_cp_both_ways(docker, box, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f.txt").write_text("hello\n")
    (tmp_path / "one.txt").write_text("one\n")
    docker("cp", str(tmp_path / "one.txt"), f"{box}:/tmp/")
    docker("cp", str(src), f"{box}:/tmp/dir")
    assert docker.out("exec", box, "cat", "/tmp/one.txt", "/tmp/dir/sub/f.txt") == "one\nhello"
    docker("cp", f"{box}:/tmp/dir", str(tmp_path / "back"))
    assert (tmp_path / "back" / "sub" / "f.txt").read_text() == "hello\n"
    docker("cp", f"{box}:/etc/passwd", str(tmp_path / "passwd"))
    assert (tmp_path / "passwd").read_text().startswith("root:")
    tar = docker("cp", f"{box}:/etc/hostname", "-").stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        assert tf.getnames() == ["hostname"]
    missing = docker("cp", f"{box}:/no/such", str(tmp_path / "x"), check=False)
    assert missing.returncode != 0 and b"Could not find the file /no/such in container box" in missing.stderr
    # a stopped container, through its rw layer
    docker("create", "--name", "cold", "busybox", "cat", "/in.txt")
    try:
        docker("cp", str(tmp_path / "one.txt"), "cold:/in.txt")
        assert docker("start", "-a", "cold").stdout == b"one\n"
    finally:
        docker("rm", "cold")


def test_diff(docker):
    docker("run", "--name", "differ", "busybox", "sh", "-c", "touch /new; rm /etc/group")
    try:
        lines = docker.out("diff", "differ").splitlines()
        assert "A /new" in lines and "D /etc/group" in lines and "C /etc" in lines
        assert not any(line.endswith(("/etc/hosts", "/etc/resolv.conf")) for line in lines)
    finally:
        docker("rm", "differ")


def test_prune_until_a_duration(docker):
    """``--filter until=24h`` as dockerd reads it: what was made in the last day stays, the rest goes."""
    docker("create", "--name", "young", "busybox", "true")
    docker("network", "create", "young-net")
    try:
        for kind in ("container", "network", "image"):
            docker(kind, "prune", "-f", "--filter", "until=24h")
        assert docker.out("ps", "-aq", "--filter", "name=young") and docker.out("network", "ls", "-q", "-f",
                                                                                 "name=young-net")
        docker("container", "prune", "-f", "--filter", "until=-1m")  # a minute from now: it is older
        assert docker.out("ps", "-aq", "--filter", "name=young") == ""
        bad = docker("container", "prune", "-f", "--filter", "until=soon", check=False)
        assert bad.returncode == 1 and b'failed to parse value as time or duration: \"soon\"' in bad.stderr
    finally:
        docker("rm", "-f", "young", check=False)
        docker("network", "rm", "young-net", check=False)


# ---------------------------------------------------------------------------
# commit, export/import
# ---------------------------------------------------------------------------


def test_commit_then_run_the_new_image(docker):
    docker("run", "--name", "writer", "busybox", "sh", "-c", "echo hi > /hello")
    try:
        image_id = docker.out("commit", "-a", "me", "-m", "note", "-c", 'CMD ["cat", "/hello"]', "writer",
                              "committed:v1")
        assert image_id.startswith("sha256:")
        assert docker("run", "--rm", "committed:v1").stdout == b"hi\n"
        assert docker.out("inspect", "-f", "{{.Author}} {{.Comment}} {{.Config.Cmd}}", "committed:v1") == \
            "me note [cat /hello]"
        history = docker.out("history", "--no-trunc", "--format", "{{.CreatedBy}}", "committed:v1").splitlines()
        assert history[0] == "sh -c echo hi > /hello"
    finally:
        docker("rm", "writer")
        docker("rmi", "committed:v1", check=False)


def test_export_import_run(docker):
    docker("run", "--name", "exported", "busybox", "sh", "-c", "echo mine > /mine")
    try:
        tar = docker("export", "exported").stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
            assert tf.extractfile("mine").read() == b"mine\n"
        image_id = docker.out("import", "-", "flat:1", input=tar)
        assert image_id.startswith("sha256:")
        assert docker("run", "--rm", "flat:1", "cat", "/mine").stdout == b"mine\n"
    finally:
        docker("rm", "exported")
        docker("rmi", "flat:1", check=False)


# ---------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------


class Lines:
    """A pipe's lines, read with a deadline (``readline`` on the pipe would block for ever)."""

    def __init__(self, pipe) -> None:
        self.fd, self.buf = pipe.fileno(), b""

    def until(self, wanted: str, timeout: float) -> list[str] | None:
        """The lines up to and including ``wanted``; None if it did not come within ``timeout`` s."""
        end, lines = time.monotonic() + timeout, []
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                lines.append(line.decode().strip())
                if lines[-1] == wanted:
                    return lines
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            chunk = os.read(self.fd, 4096)
            if not chunk:
                return None
            self.buf += chunk


def test_events_since_until_and_live(docker):
    since = f"{time.time():.6f}"
    follower = subprocess.Popen([DOCKER, "events", "--filter", "type=container", "--format",
                                 "{{.Action}} {{.Actor.Attributes.name}}"], env=docker.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = Lines(follower.stdout)

        def probe_seen() -> bool:  # a container made and removed (no die event) shows in the live stream
            docker("create", "--name", "evprobe", "busybox", "true")
            docker("rm", "evprobe")
            return lines.until("destroy evprobe", timeout=2) is not None

        wait_for(probe_seen, 15, interval=0, what="the events follower to be connected")
        docker("run", "--rm", "--name", "evented", "busybox", "sh", "-c", "exit 2", check=False)
        seen = lines.until("destroy evented", timeout=15) or []
        assert [s for s in seen if s.endswith(" evented")] == \
            ["create evented", "attach evented", "start evented", "die evented", "destroy evented"]
    finally:
        follower.kill()
        follower.wait()
    until = f"{time.time() + 0.01:.6f}"
    past = docker.out("events", "--since", since, "--until", until, "--filter", "event=die",
                      "--format", "{{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}")
    assert past.splitlines() == ["evented 2"]


def test_events_filters_on_every_object_kind(docker, box):
    since = f"{time.time():.6f}"
    docker("exec", box, "sh", "-c", "exit 4", check=False)
    docker("top", box)
    docker("tag", "busybox", "evcli:1")
    docker("rmi", "evcli:1")
    docker("volume", "create", "evcli")
    docker("volume", "rm", "evcli")
    docker("network", "create", "--internal", "evcli")
    docker("network", "rm", "evcli")
    until = f"{time.time() + 0.01:.6f}"

    def shown(*filters: str) -> list[str]:
        args = [a for f in filters for a in ("--filter", f)]
        return docker.out("events", "--since", since, "--until", until, *args,
                          "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.exitCode}}").splitlines()

    assert shown(f"container={box}", "event=exec_create", "event=exec_die", "event=top") == [
        "container exec_create: sh -c exit 4 <no value>", "container exec_die 4", "container top <no value>"]
    assert shown("type=image", "event=tag", "event=untag") == ["image tag <no value>", "image untag <no value>"]
    # a name filter matches any kind whose actor or name starts so (dockerd's fuzzyMatchName): "type" narrows
    assert shown("volume=evcli") == ["image tag <no value>", "volume create <no value>", "volume destroy <no value>",
                                     "network create <no value>", "network destroy <no value>"]
    assert shown("type=volume", "volume=evcli") == ["volume create <no value>", "volume destroy <no value>"]
    assert shown("type=network", "network=evcli") == ["network create <no value>", "network destroy <no value>"]
    assert shown("type=network", "event=connect", f"container={box}") == []  # filters combine (AND across keys)


# ---------------------------------------------------------------------------
# volumes
# ---------------------------------------------------------------------------


def test_volume_commands_and_run_with_volumes(docker):
    assert docker.out("volume", "create", "--label", "team=blue", "vol1") == "vol1"
    assert docker.out("volume", "ls", "-q") == "vol1"
    assert docker.out("volume", "inspect", "-f", "{{.Driver}} {{.Labels.team}} {{.Scope}}", "vol1") == \
        "local blue local"
    docker("run", "--rm", "-v", "vol1:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    assert docker.out("run", "--rm", "-v", "vol1:/data", "busybox", "cat", "/data/f") == "kept"
    docker("run", "-d", "--name", "holder", "-v", "vol1:/data", "busybox", "sleep", "600")
    try:
        busy = docker("volume", "rm", "vol1", check=False)
        assert busy.returncode != 0 and b"volume is in use" in busy.stderr
    finally:
        docker("rm", "-f", "holder")
    docker("run", "--name", "anon", "-v", "/scratch", "busybox", "true")
    anon = docker.out("inspect", "-f", "{{(index .Mounts 0).Name}}", "anon")
    docker("rm", "anon")  # without -v: the anonymous volume stays, for prune
    assert sorted(docker.out("volume", "ls", "-q").split()) == sorted(["vol1", anon])
    assert anon in docker.out("volume", "prune", "-f")
    assert docker.out("volume", "ls", "-q") == "vol1"
    assert docker.out("volume", "rm", "vol1") == "vol1"
    assert docker.out("volume", "ls", "-q") == ""


# ---------------------------------------------------------------------------
# healthchecks
# ---------------------------------------------------------------------------


def test_health_flags_ps_and_inspect(docker):
    """`docker run --health-*`: inspect's State.Health, ps's STATUS and its health filter, as with dockerd."""
    docker("run", "-d", "--name", "hc", "--network", "none", "--health-cmd", "test -f /tmp/ready",
           "--health-interval", "200ms", "--health-retries", "1", "busybox", "sleep", "600")
    try:
        assert docker.out("inspect", "--format", "{{.State.Health.Status}}", "hc") in ("starting", "unhealthy")
        docker("exec", "hc", "touch", "/tmp/ready")
        wait_for(lambda: docker.out("inspect", "--format", "{{.State.Health.Status}}", "hc") == "healthy", 10,
                 what="the probe to pass")
        assert docker.out("ps", "--filter", "health=healthy", "--format", "{{.Names}} {{.Status}}").endswith(
            "(healthy)")
        assert docker.out("ps", "-q", "--filter", "health=unhealthy") == ""
        failing = docker.out("inspect", "--format", "{{len .State.Health.Log}} {{.State.Health.FailingStreak}}", "hc")
        assert failing.split()[1] == "0" and 1 <= int(failing.split()[0]) <= 5
    finally:
        docker("rm", "-f", "hc", check=False)
    docker("run", "-d", "--name", "nohc", "--no-healthcheck", "busybox", "sleep", "600")
    try:
        assert docker.out("inspect", "--format", "{{json .Config.Healthcheck}}", "nohc") == '{"Test":["NONE"]}'
        assert docker.out("inspect", "--format", "{{json .State.Health}}", "nohc") == "null"
    finally:
        docker("rm", "-f", "nohc", check=False)
