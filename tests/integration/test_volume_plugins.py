"""Docker's volume plugin protocol against a real daemon: a plugin found by its socket or spec file,
volumes created, mounted into containers, unmounted at their exit and removed through it.

The plugin (:mod:`tests.integration.volume_plugin`) runs in this process and records every call.
The daemon looks for plugins in this test's own directories (``plugin_socket_dir``,
``plugin_spec_dirs``), never in /run/docker/plugins.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest

from barge.testing.wait import wait_for
from tests.integration.helpers import busybox_daemon, create, inspect, rm
from tests.integration.volume_plugin import VolumePlugin, opts_of

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
DOCKER = shutil.which("docker")


@pytest.fixture(scope="module")
def plugin_dirs():
    top = Path(tempfile.mkdtemp(prefix="barge-vp-", dir="/tmp"))
    (top / "sockets").mkdir()
    (top / "specs").mkdir()
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def plugin(plugin_dirs):
    with VolumePlugin(plugin_dirs / "sockets" / "tvp.sock", plugin_dirs / "tvp-data") as p:
        yield p


@pytest.fixture(scope="module")
def box(plugin_dirs, plugin):
    config = (f'plugin_socket_dir = "{plugin_dirs / "sockets"}"\n'
              f'plugin_spec_dirs = ["{plugin_dirs / "specs"}"]\n')
    with busybox_daemon("barge-vplug-", config=config) as d:
        yield d


def run_to_end(d, **body) -> tuple[str, int]:
    cid = create(d, **body)
    status, _, data = d.request("POST", f"/containers/{cid}/start")
    assert status == 204, data
    code = d.json("POST", f"/containers/{cid}/wait")["StatusCode"]
    return cid, code


def test_create_inspect_list_remove(box, plugin):
    vol = box.json("POST", "/volumes/create", {"Name": "pv1", "Driver": "tvp", "DriverOpts": {"size": "1m"},
                                                "Labels": {"k": "v"}}, expect=201)
    assert vol["Driver"] == "tvp" and vol["Name"] == "pv1" and vol["Scope"] == "local"
    assert vol["Options"] == {"size": "1m"} and vol["Labels"] == {"k": "v"}
    assert vol["Mountpoint"] == ""  # the plugin says where only while it is mounted
    assert "Status" not in vol and box.json("GET", "/volumes/pv1")["Status"] == {"mounts": 0}  # inspect's only
    assert opts_of(plugin, "pv1") == {"size": "1m"}
    assert plugin.methods()[0] == "Plugin.Activate"
    listing = box.json("GET", "/volumes?filters=" + quote(json.dumps({"driver": ["tvp"]})))
    assert [v["Name"] for v in listing["Volumes"]] == ["pv1"]
    assert box.json("GET", "/volumes/pv1")["Driver"] == "tvp"
    status, _, _ = box.request("DELETE", "/volumes/pv1")
    assert status == 204
    assert plugin.bodies("VolumeDriver.Remove")[-1] == {"Name": "pv1"}
    assert not (plugin.data_dir / "pv1").exists()


def test_container_mounts_and_unmounts(box, plugin):
    box.json("POST", "/volumes/create", {"Name": "pv2", "Driver": "tvp"}, expect=201)
    events_from = box.json("GET", "/info")["SystemTime"]
    cid, code = run_to_end(box, Image="busybox", Cmd=["sh", "-c", "echo hello > /data/f"],
                           HostConfig={"Binds": ["pv2:/data"]})
    try:
        assert code == 0
        assert (plugin.data_dir / "pv2" / "f").read_text() == "hello\n"  # written through the plugin's dir
        mounts = plugin.bodies("VolumeDriver.Mount")
        assert mounts[-1]["Name"] == "pv2" and len(mounts[-1]["ID"]) == 64
        wait_for(lambda: any(b == mounts[-1] for b in plugin.bodies("VolumeDriver.Unmount")), 10,
                 what="the unmount at the container's exit")
        point = next(m for m in inspect(box, cid)["Mounts"] if m["Destination"] == "/data")
        assert point["Driver"] == "tvp" and point["Name"] == "pv2"
        status, _, data = box.request("DELETE", "/volumes/pv2")
        assert status == 409 and b"volume is in use" in data
        status, _, data = box.request("GET", "/events?since=" + quote(events_from) + "&until=" + quote(
            box.json("GET", "/info")["SystemTime"]) + "&filters=" + quote(json.dumps({"type": ["volume"]})))
        actions = [(e["Action"], e["Actor"]["Attributes"].get("driver")) for e in map(json.loads, data.splitlines())]
        assert ("mount", "tvp") in actions and ("unmount", "tvp") in actions
    finally:
        rm(box, cid)
    assert box.request("DELETE", "/volumes/pv2")[0] == 204


def test_volume_driver_and_mount_driver_config(box, plugin):
    cid, code = run_to_end(box, Image="busybox", Cmd=["sh", "-c", "echo a > /a/x; echo b > /b/y; echo c > /c/z"],
                           HostConfig={"VolumeDriver": "tvp", "Binds": ["pv3:/a"],
                                       "Mounts": [{"Type": "volume", "Source": "pv4", "Target": "/b",
                                                   "VolumeOptions": {"DriverConfig": {
                                                       "Name": "tvp", "Options": {"o": "1"}}}}]},
                           Volumes={"/c": {}})
    try:
        assert code == 0
        assert (plugin.data_dir / "pv3" / "x").read_text() == "a\n"
        assert (plugin.data_dir / "pv4" / "y").read_text() == "b\n"
        assert opts_of(plugin, "pv4") == {"o": "1"}
        anonymous = next(m["Name"] for m in inspect(box, cid)["Mounts"] if m["Destination"] == "/c")
        assert (plugin.data_dir / anonymous / "z").read_text() == "c\n"  # --volume-driver takes anonymous ones too
    finally:
        status, _, _ = box.request("DELETE", f"/containers/{cid}?v=1&force=1")
        assert status == 204
    assert not (plugin.data_dir / anonymous).exists()  # rm -v removed it through the plugin
    for name in ("pv3", "pv4"):
        assert box.request("DELETE", f"/volumes/{name}")[0] == 204


def test_unknown_driver(box):
    status, _, data = box.request("POST", "/volumes/create", {"Name": "x1", "Driver": "nope"})
    assert status == 404
    assert json.loads(data)["message"] == 'create x1: error looking up volume plugin nope: plugin "nope" not found'
    status, _, data = box.request("POST", "/containers/create", {"Image": "busybox", "HostConfig": {
        "VolumeDriver": "nope", "Binds": ["x2:/x"]}})
    assert status == 404 and b'plugin \\"nope\\" not found' in data
    assert box.request("GET", "/volumes/x2")[0] == 404


def test_spec_file_and_plugin_errors(box, plugin, plugin_dirs):
    spec = plugin_dirs / "specs" / "byspec.spec"
    spec.write_text(f"unix://{plugin.socket_path}\n")
    try:
        vol = box.json("POST", "/volumes/create", {"Name": "pv5", "Driver": "byspec"}, expect=201)
        assert vol["Driver"] == "byspec"
        plugin.fail["VolumeDriver.Create"] = "no space left"
        status, _, data = box.request("POST", "/volumes/create", {"Name": "pv6", "Driver": "byspec"})
        assert status >= 400 and b"no space left" in data and box.request("GET", "/volumes/pv6")[0] == 404
        plugin.fail.clear()
        plugin.fail["VolumeDriver.Remove"] = "busy"
        status, _, data = box.request("DELETE", "/volumes/pv5")
        assert status == 409 and b"busy" in data
        assert box.request("GET", "/volumes/pv5")[0] == 200  # the record stays while the plugin refuses
    finally:
        plugin.fail.clear()
        spec.unlink()
    status, _, _ = box.request("DELETE", "/volumes/pv5?force=1")
    assert status == 204 or status == 404


def test_docker_cli(box, plugin):
    if DOCKER is None:
        pytest.skip("the docker CLI is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST=box.url, DOCKER_CONFIG=str(box.root / "docker-config"))

    def docker(*args: str) -> str:
        proc = subprocess.run([DOCKER, *args], capture_output=True, env=env, timeout=120, text=True)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return proc.stdout

    assert docker("volume", "create", "-d", "tvp", "clivol").strip() == "clivol"
    (plugin.data_dir / "theirs").mkdir()  # the plugin's own, which barge never made: listed as dockerd does
    try:
        listing = docker("volume", "ls")
    finally:
        (plugin.data_dir / "theirs").rmdir()
    assert "tvp       clivol" in listing and "tvp       theirs" in listing
    docker("run", "--rm", "-v", "clivol:/data", "busybox", "sh", "-c", "echo cli > /data/file")
    assert (plugin.data_dir / "clivol" / "file").read_text() == "cli\n"
    docker("run", "--rm", "--volume-driver", "tvp", "-v", "clivol2:/data", "busybox", "touch", "/data/t")
    assert (plugin.data_dir / "clivol2" / "t").exists()
    assert docker("volume", "inspect", "-f", "{{.Driver}}", "clivol2").strip() == "tvp"
    docker("volume", "rm", "clivol", "clivol2")
    assert not (plugin.data_dir / "clivol").exists() and not (plugin.data_dir / "clivol2").exists()


def test_a_failed_start_unmounts(box, plugin):
    cid = create(box, Image="busybox", Cmd=["/no/such/command"], HostConfig={"VolumeDriver": "tvp",
                                                                               "Binds": ["pv7:/data"]})
    try:
        status, _, data = box.request("POST", f"/containers/{cid}/start")
        assert status >= 400, data
        mounts = [b for b in plugin.bodies("VolumeDriver.Mount") if b["Name"] == "pv7"]
        assert mounts and plugin.bodies("VolumeDriver.Unmount")[-1] == mounts[-1]
        assert not plugin.mounts["pv7"]
    finally:
        rm(box, cid)
    assert box.request("DELETE", "/volumes/pv7")[0] == 204


def test_unmount_after_a_daemon_restart(box, plugin):
    """A container that outlives the daemon still has its plugin volume unmounted when it stops."""
    cid = create(box, Image="busybox", Cmd=["sleep", "60"], HostConfig={"VolumeDriver": "tvp", "Binds": ["pv8:/data"]})
    try:
        assert box.request("POST", f"/containers/{cid}/start")[0] == 204
        mount = [b for b in plugin.bodies("VolumeDriver.Mount") if b["Name"] == "pv8"][-1]
        box.restart()
        assert box.request("POST", f"/containers/{cid}/stop?t=0")[0] == 204
        wait_for(lambda: mount in plugin.bodies("VolumeDriver.Unmount"), 10, what="the unmount after the restart")
    finally:
        rm(box, cid)
    assert box.request("DELETE", "/volumes/pv8")[0] == 204
