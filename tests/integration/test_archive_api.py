"""cp (``/archive`` HEAD, GET, PUT), export and diff against a real daemon and real containers.

Running containers are read and written through their own view of the
file system, stopped ones through their rw layer; untrusted tars and
container symlinks must never reach the host.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile

import pytest

from barge.testing.wait import wait_for
from tests.conftest import Daemon
from tests.integration.helpers import create, joined, rm, run
from tests.integration.test_exec_api import exec_create, exec_start

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

GO_DIR, GO_SYMLINK = 1 << 31, 1 << 27


def sh(d: Daemon, cid: str, script: str) -> bytes:
    eid = exec_create(d, cid, ["sh", "-c", script])
    return joined(exec_start(d, eid).read_all(), 1)


def stat_of(d: Daemon, cid: str, path: str) -> tuple[int, dict | bytes]:
    status, headers, body = d.request("HEAD", f"/containers/{cid}/archive?path={path}")
    value = headers.get("X-Docker-Container-Path-Stat")
    return status, json.loads(base64.b64decode(value)) if value else body


def get_tar(d: Daemon, cid: str, path: str) -> tarfile.TarFile:
    status, headers, body = d.request("GET", f"/containers/{cid}/archive?path={path}")
    assert status == 200, body
    assert headers["Content-Type"] == "application/x-tar"
    assert headers.get("X-Docker-Container-Path-Stat")
    return tarfile.open(fileobj=io.BytesIO(body))


def make_tar(entries: list[tuple[str, bytes | None, dict]]) -> bytes:
    """``(name, data or None for a dir, extra TarInfo fields)``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data, extra in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if data is None and "type" not in extra:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            for k, v in extra.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def put_tar(d: Daemon, cid: str, path: str, tar: bytes, query: str = "") -> tuple[int, bytes]:
    status, _, body = d.request("PUT", f"/containers/{cid}/archive?path={path}{query}", tar,
                                {"Content-Type": "application/x-tar"})
    return status, body


@pytest.fixture(scope="module")
def live(box):
    cid = run(box, ["sh", "-c", "echo live > /live; ln -s /etc/passwd /tmp/lnk; ln -s / /tmp/root; sleep 600"],
              name="archive-live")
    wait_for(lambda: stat_of(box, cid, "/tmp/root")[0] == 200, what="the container's /tmp/root link")
    yield cid
    rm(box, cid)


def test_stat_shapes(box, live):
    status, st = stat_of(box, live, "/etc/passwd")
    assert status == 200 and st["name"] == "passwd" and st["mode"] == 0o644 and st["size"] > 0
    assert st["linkTarget"] == "" and st["mtime"].endswith("Z")
    status, st = stat_of(box, live, "/etc")
    assert st["mode"] & GO_DIR and st["mode"] & 0o777 == 0o755
    status, st = stat_of(box, live, "/tmp/lnk")
    assert st["mode"] & GO_SYMLINK and st["linkTarget"] == "/etc/passwd" and st["name"] == "lnk"
    status, body = stat_of(box, live, "/no/such")
    assert status == 404
    status, _, body = box.request("GET", f"/containers/{live}/archive?path=/no/such")
    assert status == 404 and json.loads(body)["message"] == f"Could not find the file /no/such in container {live}"
    status, _, body = box.request("GET", f"/containers/{live}/archive")
    assert status == 400
    status, _, body = box.request("HEAD", "/containers/nothere/archive?path=/")
    assert status == 404


def test_get_archive_names_like_docker(box, live):
    tf = get_tar(box, live, "/etc")
    names = tf.getnames()
    assert names[0] == "etc" and "etc/passwd" in names
    assert tf.extractfile("etc/passwd").read().startswith(b"root:")
    tf = get_tar(box, live, "/live")
    assert tf.getnames() == ["live"] and tf.extractfile("live").read() == b"live\n"
    tf = get_tar(box, live, "/etc/.")
    assert "./passwd" in tf.getnames()
    tf = get_tar(box, live, "/tmp/lnk")  # the link itself, as Docker sends it
    member = tf.getmember("lnk")
    assert member.issym() and member.linkname == "/etc/passwd"


def test_get_root_of_a_running_container_leaves_kernel_files_out(box, live):
    tf = get_tar(box, live, "/")
    names = tf.getnames()
    assert "./live" in names and "./etc/passwd" in names
    assert "./proc" in names and not any(n.startswith(("./proc/", "./sys/", "./dev/")) for n in names)


def test_symlinks_resolve_inside_the_container(box, live):
    # /tmp/root -> / inside the container: the path must land on the container's own files
    tf = get_tar(box, live, "/tmp/root/live")
    assert tf.extractfile("live").read() == b"live\n"
    status, st = stat_of(box, live, "/tmp/root/etc/hostname")
    assert status == 200
    tf = get_tar(box, live, "/tmp/root/etc/hostname")
    assert tf.extractfile("hostname").read().strip() == live[:12].encode()


def test_put_into_a_running_container(box, live):
    tar = make_tar([("dir", None, {}), ("dir/file.txt", b"hello\n", {"mode": 0o640, "uid": 7, "gid": 8})])
    assert put_tar(box, live, "/tmp", tar) == (200, b"")
    assert sh(box, live, "cat /tmp/dir/file.txt; stat -c '%a %u %g' /tmp/dir/file.txt") == b"hello\n640 7 8\n"
    assert put_tar(box, live, "/tmp", make_tar([("owned", b"x", {"uid": 7})]), "&copyUIDGID=1")[0] == 200
    assert sh(box, live, "stat -c '%u %g' /tmp/owned") == b"0 0\n"  # the container's user is root
    status, body = put_tar(box, live, "/live", make_tar([("x", b"x", {})]))
    assert status == 400 and json.loads(body)["message"] == "extraction point is not a directory"
    status, body = put_tar(box, live, "/no/dir", make_tar([("x", b"x", {})]))
    assert status == 404
    status, body = put_tar(box, live, "/", make_tar([("etc", b"not a dir", {})]), "&noOverwriteDirNonDir=true")
    assert status == 400 and "cannot overwrite directory" in json.loads(body)["message"]
    assert sh(box, live, "test -d /etc && echo dir") == b"dir\n"


def test_whiteout_names_are_plain_files_in_a_copy(box, live):
    """cp is not a layer: ``.wh.x`` is a file to copy, not a deletion of ``x``."""
    sh(box, live, "mkdir -p /tmp/wh && echo keep > /tmp/wh/x")
    assert put_tar(box, live, "/tmp/wh", make_tar([(".wh.x", b"file\n", {})])) == (200, b"")
    assert sh(box, live, "cat /tmp/wh/x /tmp/wh/.wh.x") == b"keep\nfile\n"
    names = get_tar(box, live, "/tmp/wh").getnames()
    assert "wh/.wh.x" in names and "wh/x" in names


def test_untrusted_tar_never_writes_outside(box, live, tmp_path):
    canary = tmp_path / "canary"
    escape = os.path.relpath(canary, "/")
    bad = make_tar([("good", b"ok", {}), ("../../../../../../../../" + escape, b"pwned", {})])
    status, body = put_tar(box, live, "/tmp", bad)
    assert status == 400 and "escapes" in json.loads(body)["message"]
    assert not canary.exists()
    assert sh(box, live, "ls /tmp/good 2>&1 || echo absent").endswith(b"absent\n")  # checked before writing
    # a symlink in the tar pointing at / , then a file through it: stays in the extraction dir
    sneaky = make_tar([("esc", None, {"type": tarfile.SYMTYPE, "linkname": str(tmp_path)}),
                       ("esc/canary", b"pwned", {})])
    status, _ = put_tar(box, live, "/tmp", sneaky)
    assert not canary.exists()
    # and through the container's own symlink to / (the container's root, not the host's)
    status, _ = put_tar(box, live, "/tmp/root" + str(tmp_path), make_tar([("canary", b"x", {})]))
    assert status == 404 and not canary.exists()


def test_stopped_container_and_read_only_rootfs(box):
    cid = create(box, Cmd=["cat", "/data/in.txt"])
    try:
        status, _ = put_tar(box, cid, "/", make_tar([("data", None, {}), ("data/in.txt", b"from cp\n", {})]))
        assert status == 200
        assert get_tar(box, cid, "/data/in.txt").extractfile("in.txt").read() == b"from cp\n"
        box.request("POST", f"/containers/{cid}/start")
        status, _, _ = box.request("POST", f"/containers/{cid}/wait")
        _, _, logs = box.request("GET", f"/containers/{cid}/logs?stdout=1")
        assert logs.endswith(b"from cp\n")
    finally:
        rm(box, cid)
    ro = create(box, Cmd=["true"], HostConfig={"ReadonlyRootfs": True})
    try:
        status, body = put_tar(box, ro, "/tmp", make_tar([("x", b"x", {})]))
        assert status == 400 and json.loads(body)["message"] == "container rootfs is marked read-only"
    finally:
        rm(box, ro)


def test_stopped_container_volumes_are_its_volumes(box):
    cid = create(box, Cmd=["cat", "/data/sub/in.txt"], HostConfig={"Binds": ["cpvol:/data"]})
    try:
        tar = make_tar([("sub", None, {}), ("sub/in.txt", b"into the volume\n", {})])
        assert put_tar(box, cid, "/data", tar)[0] == 200
        source = box.data_root / "volumes" / "cpvol" / "_data"
        assert (source / "sub" / "in.txt").read_bytes() == b"into the volume\n"
        status, st = stat_of(box, cid, "/data")
        assert status == 200 and st["name"] == "data" and st["mode"] & GO_DIR
        tf = get_tar(box, cid, "/data")
        assert "data/sub/in.txt" in tf.getnames()
        status, _, body = box.request("GET", f"/containers/{cid}/archive?path=/data/nothere")
        assert status == 404 and "/data/nothere" in json.loads(body)["message"]
        box.request("POST", f"/containers/{cid}/start")
        box.request("POST", f"/containers/{cid}/wait")
        _, _, logs = box.request("GET", f"/containers/{cid}/logs?stdout=1")
        assert logs.endswith(b"into the volume\n")
    finally:
        rm(box, cid)
        box.request("DELETE", "/volumes/cpvol")


def test_export_running_and_stopped(box, live):
    for cid in (live,):
        status, headers, body = box.request("GET", f"/containers/{cid}/export")
        assert status == 200 and headers["Content-Type"] == "application/octet-stream"  # dockerd's (sniffed)
        tf = tarfile.open(fileobj=io.BytesIO(body))
        names = set(tf.getnames())
        assert {"bin/sh", "etc/passwd", "live"} <= names
        # what dockerd's init layer holds, there once each
        assert {".dockerenv", "dev/console", "dev/pts", "dev/shm", "etc/mtab"} <= names
        assert len(tf.getnames()) == len(names) and tf.getmember("etc/mtab").linkname == "/proc/mounts"
        assert not any(n.startswith("proc/") for n in names)  # no mounts of the running container
        assert tf.extractfile("live").read() == b"live\n"
    cid = run(box, ["sh", "-c", "echo gone > /gone"])
    box.request("POST", f"/containers/{cid}/wait")
    try:
        status, _, body = box.request("GET", f"/containers/{cid}/export")
        tf = tarfile.open(fileobj=io.BytesIO(body))
        assert tf.extractfile("gone").read() == b"gone\n"
    finally:
        rm(box, cid)
    status, _, body = box.request("GET", "/containers/nothere/export")
    assert status == 404


def test_changes(box):
    cid = run(box, ["sh", "-c", "touch /new; rm /etc/group; mkdir -p /var/x; echo y > /var/x/y"])
    box.request("POST", f"/containers/{cid}/wait")
    try:
        changes = box.json("GET", f"/containers/{cid}/changes")
        got = {(c["Path"], c["Kind"]) for c in changes}
        assert {("/new", 1), ("/etc/group", 2), ("/var/x", 1), ("/var/x/y", 1)} <= got
        assert not any(p in ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf") for p, _ in got)
    finally:
        rm(box, cid)
    fresh = create(box, Cmd=["true"])
    try:
        box.request("POST", f"/containers/{fresh}/start")
        box.request("POST", f"/containers/{fresh}/wait")
        assert box.json("GET", f"/containers/{fresh}/changes") is None  # runtime mount targets are not changes
    finally:
        rm(box, fresh)
