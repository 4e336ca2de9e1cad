"""The local driver's mount options (type/device/o) against a real daemon: checked at create,
mounted at the first user, shared, unmounted after the last; dockerd 20.10's texts."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from tests.integration.helpers import create, rm
from tests.integration.test_volumes_api import output_of

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def host_mounted(path: Path) -> bool:
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == str(path) for line in fh)


def message(box, method: str, url: str, body=None) -> tuple[int, str]:
    status, _, data = box.request(method, url, body)
    return status, json.loads(data)["message"] if data else ""


def test_create_checks_options_with_dockerds_texts(box):
    for opts, text in (({"foo": "bar"}, 'create o1: invalid option: "foo"'),
                       ({"type": "tmpfs"}, 'create o1: missing required option: "device"'),
                       ({"device": "tmpfs"}, 'create o1: missing required option: "type"'),
                       ({"o": "size=1m"}, 'create o1: missing required option: "device"'),
                       ({"size": "1m"}, "create o1: quota size requested but no quota support")):
        assert message(box, "POST", "/volumes/create", {"Name": "o1", "DriverOpts": opts}) == (400, text)
    assert box.request("GET", "/volumes/o1")[0] == 404


def test_tmpfs_volume_mounted_shared_and_unmounted(box):
    opts = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1000"}
    vol = box.json("POST", "/volumes/create", {"Name": "tv", "DriverOpts": opts}, expect=201)
    point = box.data_root / "volumes" / "tv" / "_data"
    assert vol["Options"] == opts and vol["Mountpoint"] == str(point)
    assert not host_mounted(point)  # mounted at first use only
    a = create(box, Cmd=["sleep", "60"], HostConfig={"Binds": ["tv:/d"]})
    b = create(box, Cmd=["sleep", "60"], HostConfig={"Binds": ["tv:/e"]})
    try:
        assert box.request("POST", f"/containers/{a}/start")[0] == 204
        assert host_mounted(point)
        assert box.request("POST", f"/containers/{b}/start")[0] == 204
        out = output_of(box, Cmd=["sh", "-c", "grep ' /d ' /proc/self/mountinfo; stat -c %u /d; echo hi > /d/f"],
                        HostConfig={"Binds": ["tv:/d"]}).decode()
        assert " - tmpfs tmpfs " in out and "size=1024k" in out and "uid=1000" in out and out.endswith("1000\n")
        assert (point / "f").read_text() == "hi\n"  # the one tmpfs, shared
        assert box.request("POST", f"/containers/{a}/stop?t=0")[0] == 204
        assert host_mounted(point)  # b still uses it
        assert message(box, "DELETE", "/volumes/tv")[0] == 409
        assert box.request("POST", f"/containers/{b}/stop?t=0")[0] == 204
        assert not host_mounted(point) and not (point / "f").exists()
    finally:
        rm(box, a)
        rm(box, b)
    assert box.request("DELETE", "/volumes/tv")[0] == 204
    assert not point.parent.exists()


def test_bind_volume_of_a_host_directory(box):
    src = Path(tempfile.mkdtemp(prefix="barge-volopt-"))
    try:
        (src / "kept").write_text("host\n")
        box.json("POST", "/volumes/create",
                 {"Name": "bv", "DriverOpts": {"type": "none", "device": str(src), "o": "bind"}}, expect=201)
        assert output_of(box, Cmd=["sh", "-c", "cat /d/kept; echo c > /d/new"], HostConfig={"Binds": ["bv:/d"]}) \
            == b"host\n"
        assert (src / "new").read_text() == "c\n"
        assert not host_mounted(box.data_root / "volumes" / "bv" / "_data")
        assert box.request("DELETE", "/volumes/bv")[0] == 204
        assert (src / "kept").exists()  # removing the volume leaves the host's files
    finally:
        for f in src.iterdir():
            f.unlink()
        src.rmdir()


def test_mount_errors_fail_the_start(box):
    for name, opts, detail in (
            ("bad1", {"type": "none", "device": "/nonexistent-barge", "o": "bind"},
             "mount /nonexistent-barge:{point}, flags: 0x1000: no such file or directory"),
            ("bad2", {"type": "tmpfs", "device": "tmpfs", "o": "bogus"},
             "mount tmpfs:{point}, data: bogus: invalid argument")):
        box.json("POST", "/volumes/create", {"Name": name, "DriverOpts": opts}, expect=201)
        point = box.data_root / "volumes" / name / "_data"
        cid = create(box, Cmd=["true"], HostConfig={"Binds": [f"{name}:/d"]})
        try:
            status, text = message(box, "POST", f"/containers/{cid}/start")
            assert status == 500
            assert text == (f"error while mounting volume '{point}': failed to mount local volume: "
                            + detail.format(point=point))
        finally:
            rm(box, cid)
        assert box.request("DELETE", f"/volumes/{name}")[0] == 204


def test_mount_outlives_a_restart_and_a_crash():
    from tests.integration.helpers import busybox_daemon

    with busybox_daemon("barge-volopt-") as d:
        d.json("POST", "/volumes/create",
               {"Name": "rv", "DriverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}}, expect=201)
        point = d.data_root / "volumes" / "rv" / "_data"
        cid = create(d, Cmd=["sleep", "60"], HostConfig={"Binds": ["rv:/d"]})
        try:
            assert d.request("POST", f"/containers/{cid}/start")[0] == 204
            d.restart()  # the container keeps running, and its volume mounted
            assert host_mounted(point)
            assert d.request("POST", f"/containers/{cid}/stop?t=0")[0] == 204
            assert not host_mounted(point)  # the adopted user was the last
            assert d.request("POST", f"/containers/{cid}/start")[0] == 204
            d.kill()  # a crash: the next daemon takes the mount over from the running container
            d.start()
            assert host_mounted(point)
        finally:
            rm(d, cid)
        assert not host_mounted(point)
