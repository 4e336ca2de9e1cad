"""``/plugins`` against a real daemon: barge's driver packages listed as plugins, and a managed plugin
(a static C volume plugin, ``plugin_fixtures/volplugin.c``) created from a folder, enabled, used as a
volume driver by containers, kept across a daemon restart, disabled and removed, through the API and
the docker CLI, with dockerd's texts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import quote

import pytest

from barge.testing.wait import wait_for
from tests.integration.helpers import busybox_daemon

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
DOCKER = shutil.which("docker")
SOURCE = Path(__file__).parent / "plugin_fixtures" / "volplugin.c"
CONFIG = {
    "Description": "barge's test volume plugin",
    "Documentation": "https://example.invalid/volplugin",
    "Entrypoint": ["/volplugin"],
    "Interface": {"Types": ["docker.volumedriver/1.0"], "Socket": "vol.sock"},
    "Env": [{"Name": "DEBUG", "Description": "debug output", "Settable": ["value"], "Value": "0"}],
    "Args": {"Name": "args", "Description": "", "Settable": ["value"], "Value": []},
}


@pytest.fixture(scope="module")
def box():
    with busybox_daemon("barge-plug-") as d:
        try:
            yield d
        finally:  # a plugin left enabled by a failed test would outlive the daemon, as containers do
            for p in d.json("GET", "/plugins"):
                if p["PluginReference"]:
                    d.request("DELETE", f"/plugins/{p['Id']}?force=1")


@pytest.fixture(scope="module")
def plugin_dir(box):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: no static test plugin to build")
    top = box.root / "volplugin"
    (top / "rootfs" / "run" / "docker" / "plugins").mkdir(parents=True)
    built = subprocess.run(["gcc", "-static", "-O2", "-o", str(top / "rootfs" / "volplugin"), str(SOURCE)],
                           capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"cannot build a static binary here: {built.stderr[-300:]}")
    (top / "config.json").write_text(json.dumps(CONFIG))
    return top


@pytest.fixture(scope="module")
def docker(box):
    if DOCKER is None:
        pytest.skip("the docker CLI is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST=box.url, DOCKER_CONFIG=str(box.root / "docker-config"))

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([DOCKER, *args], capture_output=True, env=env, timeout=120, text=True)
        if check:
            assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return proc

    return run


def message(box, method: str, path: str, body=None) -> tuple[int, str]:
    status, _, data = box.request(method, path, body)
    return status, json.loads(data)["message"] if data else ""


def plugin_events(box, plugin_id: str) -> list[str]:
    until = quote(box.json("GET", "/info")["SystemTime"])
    status, _, data = box.request("GET", f"/events?since=0&until={until}&filters=" +
                                  quote(json.dumps({"type": ["plugin"]})))
    assert status == 200
    return [e["Action"] for e in map(json.loads, data.splitlines()) if e["Actor"]["ID"] == plugin_id]


def test_driver_packages_are_listed(box, docker):
    plugins = box.json("GET", "/plugins")
    names = {p["Name"]: p for p in plugins}
    assert "volume/local" in names and "exec/native" in names
    for ep in entry_points(group="barge.log_drivers"):  # the log drivers, once their package is installed
        assert names[f"log/{ep.name}"]["Config"]["Interface"]["Types"] == ["docker.logdriver/1.0"]
    graph = [p for p in plugins if p["Name"].startswith("graph/")]
    assert graph and all(p["Config"]["Interface"]["Types"] == ["docker.graphdriver/1.0"] for p in graph)
    selected = box.json("GET", "/info")["Driver"]
    assert names[f"graph/{selected}"]["Enabled"] is True and "(selected" in names[f"graph/{selected}"]["Config"][
        "Description"]
    volumes = box.json("GET", "/plugins?filters=" + quote(json.dumps({"capability": ["volumedriver"]})))
    assert [p["Name"] for p in volumes] == ["volume/local"]
    assert box.json("GET", "/plugins/volume%2Flocal/json")["Id"] == names["volume/local"]["Id"]
    out = docker("plugin", "ls").stdout
    assert "NAME" in out and "exec/native" in out and "true" in out
    assert json.loads(docker("plugin", "inspect", "volume/local").stdout)[0]["Name"] == "volume/local"
    assert message(box, "GET", "/plugins?filters=" + quote(json.dumps({"enable": ["x"]}))) == (
        400, "Invalid filter 'enable'")
    assert message(box, "GET", "/plugins?filters=" + quote(json.dumps({"enabled": ["maybe"]}))) == (
        400, "Invalid filter 'enabled=[maybe]'")
    assert message(box, "POST", "/plugins/exec%2Fnative/disable")[0] == 400


def test_unknown_plugin_and_registry_answers(box):
    for method, path in (("GET", "/plugins/nope/json"), ("POST", "/plugins/nope/enable?timeout=0"),
                         ("POST", "/plugins/nope/disable"), ("DELETE", "/plugins/nope"),
                         ("POST", "/plugins/nope/push")):
        assert message(box, method, path) == (404, 'plugin "nope" not found'), path
    assert message(box, "POST", "/plugins/nope/set", ["A=1"]) == (404, 'plugin "nope" not found')
    status, text = message(box, "POST", "/plugins/pull?remote=localhost:1/x", [])
    assert status == 400 and "does not pull" in text
    assert message(box, "GET", "/plugins/privileges") == (400, "invalid reference format")
    assert message(box, "POST", "/plugins/create?name=UPPER", b"")[0] == 400


def test_managed_plugin_lifecycle(box, docker, plugin_dir):
    assert docker("plugin", "create", "vp", str(plugin_dir)).stdout.strip() == "vp"
    out = docker("plugin", "ls").stdout
    line = next(line for line in out.splitlines() if "vp:latest" in line)
    assert "barge's test volume plugin" in line and line.rstrip().endswith("false")
    assert "already exists" in docker("plugin", "create", "vp", str(plugin_dir), check=False).stderr
    plugin = json.loads(docker("plugin", "inspect", "vp").stdout)[0]
    assert plugin["Name"] == "vp:latest" and plugin["Enabled"] is False and plugin["PluginReference"] == "vp:latest"
    assert plugin["Settings"] == {"Args": [], "Devices": [], "Env": ["DEBUG=0"], "Mounts": []}
    assert plugin["Config"]["Interface"] == {"Socket": "vol.sock", "Types": ["docker.volumedriver/1.0"]}
    assert plugin["Config"]["rootfs"]["diff_ids"][0].startswith("sha256:")
    pid = plugin["Id"]
    rootfs = box.data_root / "plugins" / pid / "rootfs"
    assert (rootfs / "volplugin").is_file()

    docker("plugin", "set", "vp", "DEBUG=1", "args=-v x")
    settings = box.json("GET", "/plugins/vp/json")["Settings"]
    assert settings["Env"] == ["DEBUG=1"] and settings["Args"] == ["-v", "x"]
    docker("plugin", "set", "vp", "args=")
    assert message(box, "POST", "/plugins/vp/set", ["NOPE=1"]) == (
        400, 'setting "NOPE" not found in the plugin configuration')
    status, text = message(box, "POST", "/volumes/create", {"Name": "mv0", "Driver": "vp"})
    assert status == 409 and text == "create mv0: error looking up volume plugin vp: plugin vp found but disabled"
    assert "plugin is already disabled" in docker("plugin", "disable", "vp", check=False).stderr
    assert message(box, "POST", "/plugins/vp/enable?timeout=abc") == (400, 'strconv.Atoi: parsing "abc": invalid syntax')

    docker("plugin", "enable", "vp")
    assert box.json("GET", "/plugins/vp:latest/json")["Enabled"] is True
    wait_for(lambda: "listening on /run/docker/plugins/vol.sock" in (rootfs.parent / "plugin-json.log").read_text(),
             10, what="the plugin's output in its log")
    assert message(box, "POST", "/plugins/vp/set", ["DEBUG=2"]) == (
        400, "cannot set on an active plugin, disable plugin before setting")
    assert message(box, "POST", "/plugins/vp/enable?timeout=30")[0] == 409

    assert docker("volume", "create", "-d", "vp", "mv1").stdout.strip() == "mv1"
    docker("run", "--rm", "-v", "mv1:/data", "busybox", "sh", "-c", "echo managed > /data/f")
    assert (rootfs / "data" / "mv1" / "f").read_text() == "managed\n"  # the plugin's path, under its rootfs
    vol = box.json("GET", "/volumes/mv1")
    assert vol["Driver"] == "vp:latest" and vol["Mountpoint"] == "/data/mv1"  # as the plugin says, as dockerd
    assert "plugin vp:latest is in use" in docker("plugin", "disable", "vp", check=False).stderr
    assert "plugin vp:latest is in use" in docker("plugin", "rm", "vp", check=False).stderr

    assert plugin_events(box, pid) == ["create", "enable"]
    box.restart()  # the record and the enabled plugin survive
    assert box.json("GET", "/plugins/vp/json")["Enabled"] is True
    docker("run", "--rm", "-v", "mv1:/data", "busybox", "cat", "/data/f")
    docker("volume", "rm", "mv1")
    assert not (rootfs / "data" / "mv1").exists()
    calls = (rootfs / "data" / "calls.log").read_text().split("\n")
    assert "VolumeDriver.Mount mv1" in calls and "VolumeDriver.Unmount mv1" in calls and "VolumeDriver.Remove mv1" in calls

    assert message(box, "DELETE", "/plugins/vp") == (409, "plugin vp:latest is enabled")
    docker("plugin", "disable", "vp")
    assert not (box.exec_root / "plugins" / pid).exists()  # its socket and runtime directory, gone
    docker("plugin", "rm", "vp")
    assert plugin_events(box, pid) == ["disable", "remove"]  # the events since the restart
    assert not (box.data_root / "plugins" / pid).exists()
    assert message(box, "GET", "/plugins/vp/json") == (404, 'plugin "vp" not found')


def test_enable_fails_when_the_socket_never_comes(box, plugin_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(plugin_dir, bad)
    (bad / "config.json").write_text(json.dumps(dict(CONFIG, Entrypoint=["/volplugin-missing"])))
    tar = subprocess.run(["tar", "-C", str(bad), "-c", "."], capture_output=True, check=True).stdout
    status, _, data = box.request("POST", "/plugins/create?name=broken", tar)
    assert status == 204, data
    status, text = message(box, "POST", "/plugins/broken/enable?timeout=5")
    assert status >= 400 and text
    assert box.json("GET", "/plugins/broken/json")["Enabled"] is False
    wait_for(lambda: box.request("DELETE", "/plugins/broken")[0] == 200, 10, what="the broken plugin's removal")
