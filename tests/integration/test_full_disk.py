"""A full disk (issue 13): the data root on a small loop-mounted ext4, filled by
a pull, a build, a commit, a container writing to its layer and a container's
log. Each fails with an error naming what failed and "no space left on
device", leaves nothing half-written (``POST /system/check`` finds nothing),
and everything works again once the space is freed."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from barge.testing.wait import wait_for
from tests.conftest import (
    Daemon,
    disk_tmp_root,
    make_busybox,
    remove_tree,
    require_exec_driver,
    require_graph_driver,
    short_exec_root,
    test_driver,
)
from tests.integration.build_helpers import build, built_id, context_tar, error_of, stream_text
from tests.integration.build_helpers import leftovers as build_leftovers
from tests.integration.helpers import create, frames, inspect, rm, run
from tests.registry_peers import FakeRegistry, api_pull, busybox_tar, db_rows, layer_tar, make_image, recorded

pytestmark = [pytest.mark.root, pytest.mark.daemon]

#: The small file system: big enough for busybox and a few containers.
FS_SIZE = 128 << 20
#: Free bytes at which a writer has filled it (ext4 keeps a few blocks back for its metadata).
FULL = 1 << 20


class SmallDisk:
    """An ext4 of :data:`FS_SIZE` in a file, loop-mounted at ``mountpoint``.

    :meth:`fill` leaves a given number of bytes free with a filler file; :meth:`free`
    removes the fillers."""

    def __init__(self, root: Path):
        self.image = root / "fs.img"
        self.mountpoint = root / "data"
        self.loop = ""
        self.fillers: list[Path] = []
        try:
            with open(self.image, "wb") as fh:
                fh.truncate(FS_SIZE)
            # -m 0: no blocks reserved for root (the daemon is root; reserved blocks would hide the limit)
            subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", "-b", "4096", str(self.image)], check=True,
                           capture_output=True)
            self.loop = subprocess.run(["losetup", "--find", "--show", str(self.image)], check=True,
                                       capture_output=True, text=True).stdout.strip()
            self.mountpoint.mkdir()
            subprocess.run(["mount", "-t", "ext4", self.loop, str(self.mountpoint)], check=True,
                           capture_output=True)
        except BaseException:
            self.close()
            raise

    def available(self) -> int:
        st = os.statvfs(self.mountpoint)
        return st.f_bavail * st.f_frsize

    def fill(self, leave: int) -> None:
        """A filler file so that about ``leave`` bytes stay free."""
        size = self.available() - leave
        if size <= 0:
            return
        path = self.mountpoint / f"filler-{len(self.fillers)}"
        self.fillers.append(path)
        with open(path, "wb") as fh:
            os.posix_fallocate(fh.fileno(), 0, max(0, size - (256 << 10)))  # room for the extent tree
            if leave == 0:  # the last blocks, one at a time
                try:
                    while True:
                        os.write(fh.fileno(), b"\0" * 4096)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise

    def free(self) -> None:
        for path in self.fillers:
            path.unlink(missing_ok=True)
        self.fillers.clear()

    def close(self) -> None:
        """Unmount, detach the loop device, remove the image (each step even when one before failed)."""
        if os.path.ismount(self.mountpoint):
            if subprocess.run(["umount", str(self.mountpoint)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(self.mountpoint)], capture_output=True)
        if self.loop:
            subprocess.run(["losetup", "-d", self.loop], capture_output=True)
        self.image.unlink(missing_ok=True)


def can_loop_mount() -> str:
    """Why a loop-mounted ext4 cannot be made here ('' when it can)."""
    if os.geteuid() != 0:
        return "needs root (loop devices, mount)"
    for tool in ("mkfs.ext4", "losetup", "mount", "umount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not os.path.exists("/dev/loop-control"):
        return "no /dev/loop-control"
    return ""


@pytest.fixture(scope="module")
def disk() -> Iterator[tuple[SmallDisk, Daemon]]:
    """A daemon whose data root is a small loop-mounted ext4, with busybox."""
    reason = can_loop_mount()
    if reason:
        pytest.skip(f"no loop-mounted file system: {reason}")
    require_exec_driver()
    require_graph_driver(test_driver())
    root = Path(tempfile.mkdtemp(prefix="barge-fd-", dir=disk_tmp_root()))
    small = d = None
    try:
        small = SmallDisk(root)
        d = Daemon(root, test_driver())
        make_busybox(d)
        yield small, d
    finally:
        if d is not None:
            d.close()
        remove_tree(short_exec_root(root))
        if small is not None:
            small.close()
        remove_tree(root)


# ---------------------------------------------------------------------------
# what a failure may leave
# ---------------------------------------------------------------------------


def state(d: Daemon) -> dict:
    """Everything a failed pull, build or commit could leave: images, layers and their driver
    dirs, pending layers, temp and build dirs, containers, the build journal."""
    seen = recorded(d)
    seen["containers"] = sorted(c["Id"] for c in d.json("GET", "/containers/json?all=1"))
    seen["build"] = {k: v for k, v in build_leftovers(d).items() if k != "containers"}
    return seen


def consistent(d: Daemon) -> None:
    """``POST /system/check`` finds nothing; the db passes SQLite's own check."""
    answer = d.json("POST", "/system/check")
    assert answer["Findings"] == [], answer
    assert db_rows(d, "pragma_integrity_check") == [("ok",)]


def assert_clear(status: int, message: str, what: str) -> None:
    """A full disk as dockerd answers it: a 500 saying what failed and why, no internals."""
    assert status == 500, (status, message)
    assert message.startswith(what) and message.endswith("no space left on device"), message
    assert "internal error" not in message and "Errno" not in message and "Traceback" not in message, message


@pytest.fixture
def full(disk) -> Iterator[tuple[SmallDisk, Daemon]]:
    """The module's disk and daemon; afterwards the space is freed, every container removed, and
    the daemon must answer (a test that failed midway leaves the next one a disk with room)."""
    small, d = disk
    yield small, d
    small.free()
    d.remove_containers()
    assert d.request("GET", "/_ping")[0] == 200, d.stderr_text()[-3000:]


def net_none(**body) -> dict:
    return {"HostConfig": {"NetworkMode": "none", **body.pop("HostConfig", {})}, **body}


# ---------------------------------------------------------------------------
# the cases
# ---------------------------------------------------------------------------


def test_pull(full):
    """A layer larger than the free space: the pull's stream names the layer's file and the disk;
    no image, layer, pending layer or temp dir remains; after freeing space the pull works."""
    small, d = full
    registry = FakeRegistry()
    try:
        # 24 MiB of zeros unpacked from a blob of a few KiB: the download fits, the layer does not
        image = make_image([busybox_tar(), layer_tar({"big": b"\0" * (24 << 20)})])
        registry.add("big", "latest", image)
        before = state(d)
        small.fill(8 << 20)
        status, _, error = api_pull(d, f"{registry.host}/big", "latest")
        assert status == 200
        assert error == "failed to register layer: write /big: no space left on device"
        assert state(d) == before
        consistent(d)
        small.free()
        status, _, error = api_pull(d, f"{registry.host}/big", "latest")
        assert (status, error) == (200, "")
        assert d.json("GET", f"/images/{registry.host}/big:latest/json")["Id"] == image.id
    finally:
        registry.stop()
    d.json("DELETE", f"/images/{registry.host}/big:latest")
    consistent(d)


BIG_RUN = "FROM busybox\nRUN dd if=/dev/zero of=/big bs=1M count=12\n"


def test_build(full):
    """A RUN that fills the disk fails with its own error; a step whose layer does not fit, and a
    context that does not fit, fail naming what failed; with forcerm nothing stays; then it builds."""
    small, d = full
    before = state(d)
    # the step's own process meets the full disk
    small.fill(6 << 20)
    messages, _ = build(d, context_tar({"Dockerfile": BIG_RUN}), forcerm=1)
    assert "No space left on device" in stream_text(messages)
    assert error_of(messages) == "The command '/bin/sh -c dd if=/dev/zero of=/big bs=1M count=12' " \
                                 "returned a non-zero code: 1"
    small.free()
    assert state(d) == before
    # the RUN fits, its layer does not (12 MiB in the step's container, 12 more for the layer)
    small.fill(20 << 20)
    messages, _ = build(d, context_tar({"Dockerfile": BIG_RUN}), forcerm=1)
    assert error_of(messages) == "failed to register layer: write /big: no space left on device"
    small.free()
    assert state(d) == before
    # the context does not fit where it is received
    small.fill(8 << 20)
    context = context_tar({"Dockerfile": "FROM busybox\nCOPY big /big\n", "big": os.urandom(12 << 20)})
    _, body = build(d, context, expect=500)
    message = json.loads(body)["message"]
    assert message.startswith("failed to receive the build context: write /") and \
        message.endswith("/context.tar: no space left on device"), message
    small.free()
    assert state(d) == before
    consistent(d)
    # and with room, both build
    for ctx in (context_tar({"Dockerfile": BIG_RUN}), context):
        messages, _ = build(d, ctx)
        d.json("DELETE", f"/images/{built_id(messages)}")
    assert state(d) == before
    consistent(d)


def test_commit(full):
    """A container's 12 MiB fit once, not twice: commit answers 500 naming the layer's file;
    no half image; after freeing space the commit works."""
    small, d = full
    cid = run(d, ["dd", "if=/dev/zero", "of=/big", "bs=1M", "count=12"], **net_none())
    assert d.json("POST", f"/containers/{cid}/wait")["StatusCode"] == 0
    before = state(d)
    small.fill(10 << 20)
    status, _, body = d.request("POST", f"/commit?container={cid}&repo=fd-commit")
    assert_clear(status, json.loads(body)["message"], "failed to register layer: write /big")
    assert state(d) == before
    consistent(d)
    small.free()
    image_id = d.json("POST", f"/commit?container={cid}&repo=fd-commit", expect=201)["Id"]
    rm(d, cid)
    d.json("DELETE", f"/images/{image_id}")
    consistent(d)


def test_container_writes_to_its_layer(full):
    """The process sees ENOSPC itself; the daemon records its exit, answers, and runs the next one."""
    small, d = full
    small.fill(6 << 20)
    script = 'err=$(dd if=/dev/zero of=/big bs=1M 2>&1); echo "rc=$?"; rm /big; echo "$err"'
    cid = run(d, ["sh", "-c", script], **net_none())
    assert d.json("POST", f"/containers/{cid}/wait")["StatusCode"] == 0
    out = output_of(d, cid)
    assert out.startswith("rc=1\n") and "dd: error writing '/big': No space left on device" in out, out
    # a container that fills the disk and stays: stop and rm still work while it is full
    cid2 = run(d, ["sh", "-c", "dd if=/dev/zero of=/big bs=1M; exec sleep 1000"], **net_none())
    wait_for(lambda: small.available() < FULL, what="the container to fill the disk")
    assert d.request("POST", f"/containers/{cid2}/stop?t=0")[0] == 204
    assert inspect(d, cid2)["State"]["Status"] == "exited"
    rm(d, cid2)
    small.free()
    rm(d, cid)
    assert output_of(d, run(d, ["echo", "again"], **net_none())) == "again\n"
    consistent(d)


def test_container_log_fills_the_disk(full):
    """json-file lines that do not fit are dropped (dockerd logs "Error writing log message" and goes
    on); the container and its monitor run on, the log holds only whole lines and stays readable,
    and lines are written again once there is room."""
    small, d = full
    small.fill(6 << 20)
    line = "x" * 100
    cid = run(d, ["sh", "-c", f"i=0; while :; do i=$((i+1)); echo \"$i {line}\"; done"], **net_none())
    wait_for(lambda: small.available() < FULL, what="the log to fill the disk")
    time.sleep(0.5)  # writing on into a full disk
    assert inspect(d, cid)["State"]["Running"]
    log_path = Path(inspect(d, cid)["LogPath"])
    status, _, body = d.request("GET", f"/containers/{cid}/logs?stdout=1&tail=2")
    assert status == 200 and len(frames(body)) == 2, body[-300:]
    assert all(p.endswith(f" {line}\n".encode()) for _, p in frames(body))
    size_when_full = log_path.stat().st_size
    monitor_log = (d.exec_root / "containers" / cid / "monitor.log").read_text()
    assert monitor_log.count("writing the log failed") == 1 and "No space left on device" in monitor_log, monitor_log
    small.free()
    wait_for(lambda: log_path.stat().st_size > size_when_full + (1 << 20), what="the log to grow again")
    assert inspect(d, cid)["State"]["Running"]
    d.request("POST", f"/containers/{cid}/kill")
    wait_for(lambda: inspect(d, cid)["State"]["Status"] == "exited", what="the container to exit")
    # whole records only: a record that did not fit was cut back, none is torn
    records = [json.loads(raw) for raw in log_path.read_bytes().splitlines()]
    numbers = [int(r["log"].split()[0]) for r in records]
    assert numbers == sorted(numbers) and numbers[-1] - numbers[0] + 1 > len(numbers), "no line was dropped?"
    assert all(r["log"] == f"{n} {line}\n" for r, n in zip(records, numbers))
    rm(d, cid)
    consistent(d)


def test_database_full(full):
    """No room at all: the create's db write (or its rw layer) does not fit: a 500 naming the job
    and the file, no traceback, nothing recorded, the db consistent; with room it works
    (tests/unit/test_no_space.py makes SQLITE_FULL itself)."""
    small, d = full
    small.fill(0)
    status, _, body = d.request("POST", "/containers/create", {"Image": "busybox"})
    message = json.loads(body)["message"]
    assert_clear(status, message, "container create failed: ")
    assert d.json("GET", "/containers/json?all=1") == []
    small.free()
    consistent(d)
    cid = create(d, Image="busybox")
    rm(d, cid)


def test_daemon_starts_on_a_full_disk(full):
    """A daemon restarted with no space left serves; ps and images answer; after freeing space it runs containers."""
    small, d = full
    d.stop()
    small.fill(0)
    d.start()
    assert d.json("GET", "/containers/json?all=1") == []
    assert [i["RepoTags"] for i in d.json("GET", "/images/json")] == [["busybox:latest"]]
    assert "the database is opened in exclusive locking mode" in d.stderr_text()
    status, _, body = d.request("POST", "/containers/create", {"Image": "busybox"})
    assert_clear(status, json.loads(body)["message"], "container create failed: ")
    small.free()
    assert output_of(d, run(d, ["echo", "up"], **net_none())) == "up\n"
    d.restart()  # out of the exclusive locking mode a full disk started it in: others may read the db again
    consistent(d)


def output_of(d: Daemon, cid: str) -> str:
    d.request("POST", f"/containers/{cid}/wait")
    status, _, body = d.request("GET", f"/containers/{cid}/logs?stdout=1&stderr=1")
    assert status == 200, body
    return b"".join(p for _, p in frames(body)).decode()
