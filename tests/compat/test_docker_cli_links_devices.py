"""The real docker CLI on barge with the HostConfig fields issue 12 made work: ``--link`` (hosts,
environment, ``ps --no-trunc`` names, ``inspect``, ``rm --link``), ``--volumes-from``,
``--device`` and ``--device-cgroup-rule`` (the CLI 28 has no ``--mount`` word for
``CreateMountpoint``: tests/integration/test_volumes_from.py sends it). One daemon for the module; each test removes what it made. ``--pull never`` everywhere: a
refusal must never turn into a pull."""

from __future__ import annotations

import os

import pytest

from tests.compat.conftest import own_daemon_cli

pytestmark = pytest.mark.compat


@pytest.fixture(scope="module")
def docker(tmp_path_factory):
    with own_daemon_cli(tmp_path_factory, "barge-dl-") as cli:
        yield cli


def test_link(docker):
    docker("run", "-d", "--pull", "never", "--name", "db", "-e", "PASS=pw", "--expose", "5432", "busybox",
           "sleep", "600")
    try:
        ip = docker.out("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "db")
        out = docker.out("run", "--rm", "--pull", "never", "--name", "web", "--link", "db:database", "busybox",
                         "sh", "-c", "grep database /etc/hosts; env | grep ^DATABASE_ | sort")
        lines = out.splitlines()
        assert lines[0].startswith(f"{ip}\tdatabase ") and lines[0].endswith(" db"), out
        assert f"DATABASE_PORT=tcp://{ip}:5432" in lines and "DATABASE_ENV_PASS=pw" in lines
        assert "DATABASE_NAME=/web/database" in lines
        docker("create", "--pull", "never", "--name", "web2", "--link", "db", "busybox", "true")
        assert docker.out("inspect", "-f", "{{json .HostConfig.Links}}", "web2") == '["/db:/web2/db"]'
        assert docker.out("ps", "--no-trunc", "--filter", "name=^/db$", "--format", "{{.Names}}") == "db,web2/db"
        assert docker.out("ps", "--filter", "name=^/db$", "--format", "{{.Names}}") == "db"
        docker("rm", "--link", "web2/db")
        assert docker.out("inspect", "-f", "{{json .HostConfig.Links}}", "web2") == "null"
        docker("rm", "web2")
        bad = docker("run", "--rm", "--pull", "never", "--link", "nosuch:x", "busybox", "true", check=False)
        assert bad.returncode == 125
        assert b"could not get container for nosuch: No such container: nosuch" in bad.stderr
        host = docker("run", "--rm", "--pull", "never", "--network", "host", "--link", "db", "busybox", "true",
                      check=False)
        assert b"conflicting options: host type networking can't be used with links" in host.stderr
    finally:
        docker("rm", "-f", "db", "web", "web2", check=False)


def test_volumes_from(docker, tmp_path):
    (tmp_path / "f").write_text("host\n")
    docker("create", "--pull", "never", "--name", "data", "-v", "/shared", "-v", f"{tmp_path}:/hostdir:ro",
           "busybox", "true")
    try:
        docker("run", "--rm", "--pull", "never", "--volumes-from", "data", "busybox", "sh", "-c", "echo hi > /shared/x")
        out = docker.out("run", "--rm", "--pull", "never", "--volumes-from", "data:ro", "busybox", "sh", "-c",
                         "cat /shared/x /hostdir/f; touch /shared/y 2>&1 || true")
        assert out.splitlines() == ["hi", "host", "touch: /shared/y: Read-only file system"], out
        bad = docker("run", "--rm", "--pull", "never", "--volumes-from", "nosuch", "busybox", "true", check=False)
        assert bad.returncode == 125 and b"No such container: nosuch" in bad.stderr
    finally:
        docker("rm", "-f", "-v", "data", check=False)


def test_device_and_device_cgroup_rule(docker):
    out = docker.out("run", "--rm", "--pull", "never", "--network", "none", "--device", "/dev/null:/dev/mynull",
                     "busybox", "sh", "-c", "stat -c '%t:%T %a' /dev/mynull; echo x > /dev/mynull && echo ok")
    assert out.splitlines() == ["1:3 666", "ok"]
    if os.path.exists("/dev/loop0"):  # /dev/null is on Docker's default list anyway: loop0 shows the rules
        read_only = docker("run", "--rm", "--pull", "never", "--network", "none", "--device", "/dev/loop0:/dev/l:r",
                           "busybox", "sh", "-c", "head -c 1 /dev/l > /dev/null && echo read-ok; echo x > /dev/l",
                           check=False)
        assert read_only.stdout == b"read-ok\n" and b"Operation not permitted" in read_only.stderr, read_only
        st = os.stat("/dev/loop0")
        major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
        script = f"mknod /tmp/d b {major} {minor} && head -c 1 /tmp/d > /dev/null && echo opened"
        denied = docker("run", "--rm", "--pull", "never", "--network", "none", "busybox", "sh", "-c", script,
                        check=False)
        assert b"opened" not in denied.stdout and b"Operation not permitted" in denied.stderr
        assert docker.out("run", "--rm", "--pull", "never", "--network", "none", "--device-cgroup-rule",
                          f"b {major}:{minor} r", "busybox", "sh", "-c", script) == "opened"
    bad = docker("run", "--rm", "--pull", "never", "--device", "/etc/hostname:/dev/x", "busybox", "true", check=False)
    assert bad.returncode == 125
    assert b'error gathering device information while adding custom device "/etc/hostname": not a device node' \
        in bad.stderr

