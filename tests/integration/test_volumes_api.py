"""Volumes (local driver) against a real daemon: the API shapes, containers using them, rm -v, prune."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.conftest import Daemon, make_busybox, require_exec_driver
from tests.integration.helpers import create, inspect, rm

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def output_of(d: Daemon, **body) -> bytes:
    """Run a container to its end; its stdout."""
    cid = create(d, **body)
    try:
        status, _, data = d.request("POST", f"/containers/{cid}/start")
        assert status == 204, data
        d.request("POST", f"/containers/{cid}/wait")
        _, _, logs = d.request("GET", f"/containers/{cid}/logs?stdout=1")
        out = b""
        while logs:
            size = int.from_bytes(logs[4:8], "big")
            out, logs = out + logs[8:8 + size], logs[8 + size:]
        return out
    finally:
        rm(d, cid)


def names(d: Daemon, filters: dict | None = None) -> list[str]:
    query = "?filters=" + quote(json.dumps(filters)) if filters else ""
    listing = d.json("GET", f"/volumes{query}")
    assert listing["Warnings"] is None
    return sorted(v["Name"] for v in listing["Volumes"])


def test_create_inspect_list_remove(box):
    vol = box.json("POST", "/volumes/create", {"Name": "shape", "Labels": {"k": "v"}}, expect=201)
    mountpoint = box.data_root / "volumes" / "shape" / "_data"
    assert vol == {"CreatedAt": vol["CreatedAt"], "Driver": "local", "Labels": {"k": "v"},
                   "Mountpoint": str(mountpoint), "Name": "shape", "Options": None, "Scope": "local"}
    assert mountpoint.is_dir()
    assert box.json("GET", "/volumes/shape") == vol
    again = box.json("POST", "/volumes/create", {"Name": "shape"}, expect=201)
    assert again == vol  # an existing name is returned, not replaced
    assert "shape" in names(box) and names(box, {"label": ["k=v"]}) == ["shape"]
    assert names(box, {"name": ["sha"]}) == ["shape"] and names(box, {"driver": ["other"]}) == []
    status, _, _ = box.request("DELETE", "/volumes/shape")
    assert status == 204 and not mountpoint.parent.exists()
    status, _, data = box.request("GET", "/volumes/shape")
    assert status == 404 and json.loads(data)["message"] == "get shape: no such volume"
    assert box.request("DELETE", "/volumes/shape")[0] == 404
    assert box.request("DELETE", "/volumes/shape?force=1")[0] == 204


def test_bad_input(box):
    for body, status in (({"Name": "bad/name"}, 400), ({"Name": "x"}, 400), ({"Driver": "nfs"}, 404),
                         ({"Name": "opts", "DriverOpts": {"type": "tmpfs"}}, 400)):
        got, _, data = box.request("POST", "/volumes/create", body)
        assert got == status, (body, data)
    assert box.request("GET", "/volumes?filters=" + quote('{"bogus":["1"]}'))[0] == 400
    assert box.request("GET", "/volumes?filters=" + quote('{"dangling":["maybe"]}'))[0] == 400
    assert "opts" not in names(box)
    for body, text in (({"Name": "x"}, "create x: volume name is too short, names should be at least two "
                                       "alphanumeric characters"),
                       ({"Name": "opts", "DriverOpts": {"bogus": "1"}}, 'create opts: invalid option: "bogus"')):
        assert json.loads(box.request("POST", "/volumes/create", body)[2])["message"] == text  # dockerd 20.10's


def test_named_volume_is_shared_copied_up_and_in_use(box):
    assert output_of(box, Cmd=["sh", "-c", "echo data > /data/f"], HostConfig={"Binds": ["shared:/data"]}) == b""
    assert output_of(box, Cmd=["cat", "/data/f"], HostConfig={"Binds": ["shared:/data:ro"]}) == b"data\n"
    # a new volume at a path the image has gets the image's files (Docker's copy-up)
    listing = output_of(box, Cmd=["ls", "/etc"], HostConfig={"Binds": ["etcvol:/etc"]})
    assert b"passwd" in listing.split()
    assert (box.data_root / "volumes" / "etcvol" / "_data" / "passwd").exists()
    cid = create(box, Cmd=["true"], HostConfig={"Binds": ["shared:/data"]})
    try:
        mounts = inspect(box, cid)["Mounts"]
        assert mounts == [{"Type": "volume", "Name": "shared",
                           "Source": str(box.data_root / "volumes" / "shared" / "_data"), "Destination": "/data",
                           "Driver": "local", "Mode": "", "RW": True, "Propagation": ""}]
        status, _, data = box.request("DELETE", "/volumes/shared?force=1")
        assert status == 409 and json.loads(data)["message"] == f"remove shared: volume is in use - [{cid}]"
        assert "shared" not in names(box, {"dangling": ["true"]})
    finally:
        rm(box, cid)
    assert "shared" in names(box, {"dangling": ["true"]})
    for name in ("shared", "etcvol"):
        assert box.request("DELETE", f"/volumes/{name}")[0] == 204


def test_anonymous_volumes_rm_v_and_prune(box):
    cid = create(box, Cmd=["true"], Volumes={"/anon": {}})
    anon = inspect(box, cid)["Mounts"][0]["Name"]
    vol = box.json("GET", f"/volumes/{anon}")
    assert len(anon) == 64 and vol["Labels"] == {"com.docker.volume.anonymous": ""}
    rm(box, cid)  # rm -v (the helper removes with v=1)
    assert box.request("GET", f"/volumes/{anon}")[0] == 404
    keep = create(box, Cmd=["true"], Volumes={"/kept": {}})
    kept = inspect(box, keep)["Mounts"][0]["Name"]
    box.request("DELETE", f"/containers/{keep}")  # without v: the anonymous volume stays
    box.json("POST", "/volumes/create", {"Name": "named-one"}, expect=201)
    (box.data_root / "volumes" / kept / "_data" / "blob").write_bytes(b"x" * 1000)
    pruned = box.json("POST", "/volumes/prune")
    assert pruned == {"VolumesDeleted": [kept], "SpaceReclaimed": 1000}
    assert "named-one" in names(box)
    pruned = box.json("POST", "/volumes/prune?filters=" + quote(json.dumps({"all": ["true"]})))
    assert "named-one" in pruned["VolumesDeleted"]
    assert names(box) == []


def test_volumes_outlive_a_daemon_restart_and_orphans_go(daemon_factory):
    require_exec_driver()
    d = daemon_factory()
    make_busybox(d)
    d.json("POST", "/volumes/create", {"Name": "durable"}, expect=201)
    assert output_of(d, Cmd=["sh", "-c", "echo kept > /v/f"], HostConfig={"Binds": ["durable:/v"]}) == b""
    orphan = d.data_root / "volumes" / "orphan" / "_data"  # what a daemon killed mid-remove leaves
    orphan.mkdir(parents=True)
    d.kill()
    d.start()
    assert names(d) == ["durable"] and not orphan.parent.exists()
    assert output_of(d, Cmd=["cat", "/v/f"], HostConfig={"Binds": ["durable:/v"]}) == b"kept\n"
