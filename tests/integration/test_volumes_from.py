"""``VolumesFrom`` and ``Mounts`` ``BindOptions.CreateMountpoint`` through the API with real
containers: the mount points copied (volumes, binds, ``--mount`` tmpfs; read-only as they were
or with ``:ro``), what wins at a destination, the data shared, removal, the refusals with
dockerd 20.10's words (compared with the reference dockerd), and a missing bind source made
only when asked (API 1.42+).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid

import pytest

from tests.integration.helpers import create, inspect, output, rm

pytestmark = pytest.mark.daemon

TAG = uuid.uuid4().hex[:6]


@pytest.fixture
def hostdir():
    path = tempfile.mkdtemp(prefix="barge-vf-")
    with open(os.path.join(path, "f"), "w") as fh:
        fh.write("host\n")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _by_destination(info: dict) -> dict[str, dict]:
    return {m["Destination"]: m for m in info["Mounts"]}


def test_every_mount_point_is_copied_with_its_mode(box, hostdir):
    src = create(box, f"vsrc-{TAG}", Cmd=["sh", "-c", "echo data > /data/x"], Volumes={"/data": {}},
                 HostConfig={"Binds": [f"{hostdir}:/ro-bind:ro", f"{hostdir}:/rw-bind"],
                             "Mounts": [{"Type": "tmpfs", "Target": "/tm"}], "Tmpfs": {"/cli-tmpfs": ""}})
    try:
        box.request("POST", f"/containers/{src}/start")
        box.request("POST", f"/containers/{src}/wait")
        source = _by_destination(inspect(box, src))
        dst = create(box, Cmd=["true"], HostConfig={"VolumesFrom": [f"vsrc-{TAG}"]})
        mounts = _by_destination(inspect(box, dst))
        assert set(mounts) == {"/data", "/ro-bind", "/rw-bind", "/tm"}  # --tmpfs is no mount point
        assert mounts["/data"]["Name"] == source["/data"]["Name"] and mounts["/data"]["RW"]
        assert mounts["/ro-bind"] == dict(source["/ro-bind"], Mode="")  # dockerd copies no mode words
        assert mounts["/rw-bind"]["RW"] and mounts["/rw-bind"]["Source"] == hostdir
        assert inspect(box, dst)["HostConfig"]["VolumesFrom"] == [f"vsrc-{TAG}"]
        rm(box, dst)
        out = output(box, ["sh", "-c", "cat /data/x /rw-bind/f; touch /data/y 2>&1; touch /rw-bind/g 2>&1; "
                                       "grep -E ' /(data|tm) ' /proc/mounts"],
                     HostConfig={"VolumesFrom": [f"vsrc-{TAG}:ro"]})
        assert out.startswith("data\nhost\n"), out
        assert "touch: /data/y: Read-only file system" in out and "touch: /rw-bind/g: Read-only file system" in out
        assert " /tm tmpfs " in out
    finally:
        rm(box, src)


def test_own_mounts_win_and_image_volumes_give_way(box, hostdir):
    src = create(box, f"vsrc2-{TAG}", Cmd=["true"], Volumes={"/data": {}, "/other": {}})
    try:
        source = _by_destination(inspect(box, src))
        dst = create(box, Cmd=["true"], Volumes={"/data": {}},
                     HostConfig={"VolumesFrom": [f"vsrc2-{TAG}"], "Binds": [f"{hostdir}:/other"]})
        mounts = _by_destination(inspect(box, dst))
        assert mounts["/data"]["Name"] == source["/data"]["Name"]  # not a new anonymous volume
        assert mounts["/other"]["Type"] == "bind" and mounts["/other"]["Source"] == hostdir
        rm(box, src)  # the volume stays while the other container uses it
        names = [v["Name"] for v in box.json("GET", "/volumes")["Volumes"]]
        assert source["/data"]["Name"] in names and source["/other"]["Name"] not in names
        rm(box, dst)  # -v: the last user takes the anonymous volume with it
        names = [v["Name"] for v in box.json("GET", "/volumes")["Volumes"]]
        assert source["/data"]["Name"] not in names
    finally:
        rm(box, src)


def test_refusals_with_dockerd_s_words(box):
    """Texts and codes as the reference dockerd 20.10 gave them (all 400)."""
    for spec, message in (("nosuch", "No such container: nosuch"), ("nosuch:rx", "invalid mode: rx"),
                          ("x:shared", "invalid mode: shared"), ("x:nocopy", "invalid mode: nocopy"),
                          ("", "volumes-from specification cannot be an empty string"),
                          (":ro", 'invalid name or ID supplied: ""')):
        assert create(box, expect=400, Cmd=["true"], HostConfig={"VolumesFrom": [spec]}) == message, spec


def test_create_mountpoint_makes_a_missing_bind_source(box, tmp_path):
    missing = tmp_path / "made" / "here"
    mount = {"Type": "bind", "Source": str(missing), "Target": "/m"}
    message = f'invalid mount config for type "bind": bind source path does not exist: {missing}'
    assert create(box, expect=400, Cmd=["true"], HostConfig={"Mounts": [mount]}) == message
    asked = dict(mount, BindOptions={"CreateMountpoint": True})
    status, _, data = box.request("POST", "/v1.41/containers/create",  # before 1.42 moby drops the field
                                  {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Mounts": [asked]}})
    assert status == 400 and json.loads(data)["message"] == message
    cid = create(box, Cmd=["sh", "-c", "echo in > /m/f"], HostConfig={"Mounts": [asked]})
    try:
        assert not missing.exists()  # made at start, as moby's MountPoint.Setup
        box.request("POST", f"/containers/{cid}/start")
        box.request("POST", f"/containers/{cid}/wait")
        assert missing.is_dir() and oct(missing.stat().st_mode & 0o777) == "0o755"
        assert (missing / "f").read_text() == "in\n"
    finally:
        rm(box, cid)
