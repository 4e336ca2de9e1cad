"""Docker's plugins without a daemon: names, settings, discovery, the managed plugins' records and
tars, ``/plugins`` filters, and the volume store over a real volume plugin (a thread of this process)."""

from __future__ import annotations

import io
import json
import socket
import tarfile

import pytest

from barge.containers.store import SCHEMA as CONTAINERS
from barge.db import Database
from barge.dockerplugins.discovery import Discovery
from barge.dockerplugins.managed import (
    PluginStore,
    apply_settings,
    capability_of,
    full_config,
    initial_settings,
    normalize_name,
)
from barge.dockerplugins.service import PluginService
from barge.dockerplugins.transport import PluginClient, PluginError
from barge.errors import Conflict, InvalidParameter, NotFound
from barge.graph.schema import SCHEMA as GRAPH
from barge.volumes.store import SCHEMA as VOLUMES
from barge.volumes.store import VolumeStore, volumes_of_driver
from tests.integration.volume_plugin import VolumePlugin

CONFIG = {
    "Description": "d", "Entrypoint": ["/p"], "Interface": {"Types": ["docker.volumedriver/1.0"], "Socket": "p.sock"},
    "Env": [{"Name": "DEBUG", "Settable": ["value"], "Value": "0"}, {"Name": "FIXED", "Value": "x"},
            {"Name": "TWO", "Settable": ["value", "other"]}],
    "Args": {"Name": "args", "Settable": ["value"], "Value": ["-a"]},
    "Mounts": [{"Name": "data", "Source": "/srv", "Destination": "/data", "Type": "bind", "Settable": ["source"]}],
}


def plugin_record(enabled: bool = False) -> dict:
    config = full_config(CONFIG, "sha256:" + "0" * 64, "1.0")
    return {"Id": "a" * 64, "Name": "p:latest", "Enabled": enabled, "Settings": initial_settings(config),
            "PluginReference": "p:latest", "Config": config}


def test_names_and_capabilities():
    assert normalize_name("foo") == "foo:latest"
    assert normalize_name("localhost:5000/x/y:1") == "localhost:5000/x/y:1"
    with pytest.raises(InvalidParameter, match=r"failed to parse reference UPPER: invalid reference format"):
        normalize_name("UPPER")
    with pytest.raises(InvalidParameter, match="canonical references are not permitted"):
        normalize_name("foo@sha256:" + "1" * 64)
    assert capability_of("docker.volumedriver/1.0") == "volumedriver" and capability_of("junk") == ""


def test_full_config_fills_dockerd_defaults_and_checks_types():
    config = full_config({}, "sha256:x", "v")
    assert config["Args"] == {"Description": "", "Name": "", "Settable": [], "Value": []}
    assert config["Linux"] == {"AllowAllDevices": False, "Capabilities": [], "Devices": None}
    assert config["User"] == {} and config["rootfs"] == {"diff_ids": ["sha256:x"], "type": "layers"}
    for bad in ({"Entrypoint": "sh"}, {"Interface": {"Types": ["volumedriver"]}}, {"Env": ["A=1"]},
                {"Linux": []}):
        with pytest.raises(InvalidParameter, match="failed to parse config"):
            full_config(bad, "sha256:x", "v")


def test_settings_as_moby_sets_them():
    p = plugin_record()
    assert p["Settings"] == {"Args": ["-a"], "Devices": [], "Env": ["DEBUG=0", "FIXED=x"],
                             "Mounts": [CONFIG["Mounts"][0]]}
    apply_settings(p, ["DEBUG=1", "args=-b -c", "data.source=/other", "DEBUG"])
    assert p["Settings"]["Env"] == ["FIXED=x", "DEBUG="] and p["Settings"]["Args"] == ["-b", "-c"]
    assert p["Settings"]["Mounts"][0]["Source"] == "/other" and p["Config"]["Mounts"][0]["Source"] == "/srv"
    for args, text in ((["NOPE=1"], 'setting "NOPE" not found in the plugin configuration'),
                       (["FIXED=y"], '"FIXED" is not settable'),
                       (["DEBUG.path=y"], '"DEBUG.path" is not settable'),
                       (["TWO=y"], "multiple fields are settable, one must be specified"),
                       (["=y"], "invalid format, must be <name>[.<field>][=<value>]")):
        before = json.dumps(p["Settings"])
        with pytest.raises(InvalidParameter) as err:
            apply_settings(p, ["DEBUG=5", *args])
        assert str(err.value) == text and json.dumps(p["Settings"]) == before  # nothing half-applied
    p["Enabled"] = True
    with pytest.raises(InvalidParameter, match="cannot set on an active plugin"):
        apply_settings(p, ["DEBUG=1"])


def test_discovery(tmp_path):
    sockets, specs = tmp_path / "run", tmp_path / "etc"
    (sockets / "nested").mkdir(parents=True)
    specs.mkdir()
    found = Discovery(sockets, (specs,))
    assert found.address("x") is None and found.address("../x") is None
    with socket.socket(socket.AF_UNIX) as s1, socket.socket(socket.AF_UNIX) as s2:
        s1.bind(str(sockets / "a.sock"))
        s2.bind(str(sockets / "nested" / "nested.sock"))
        assert found.address("a") == f"unix://{sockets}/a.sock"
        assert found.address("nested") == f"unix://{sockets}/nested/nested.sock"
    (specs / "b.spec").write_text("tcp://127.0.0.1:9\n")
    assert found.address("b") == "tcp://127.0.0.1:9"
    (specs / "c.json").write_text(json.dumps({"Name": "c", "Addr": "unix:///x.sock"}))
    assert found.address("c") == "unix:///x.sock"
    (specs / "d.json").write_text(json.dumps({"Name": "d", "Addr": "tcp://h:1", "TLSConfig": {"CAFile": "/ca"}}))
    with pytest.raises(InvalidParameter, match="TLS"):
        found.address("d")
    assert found.names() == ["a", "b", "c", "d", "nested"]
    (specs / "e.spec").write_text("http://h\n")
    with pytest.raises(InvalidParameter, match="unsupported plugin address"):
        found.address("e")


def test_store_records_survive_and_leftovers_go(tmp_path):
    store = PluginStore(tmp_path)
    store.load()
    p = plugin_record()
    store.dir(p["Id"]).mkdir()
    store.save(p)
    (tmp_path / ("b" * 64)).mkdir()  # a create cut short: no record
    again = PluginStore(tmp_path)
    assert again.load() == 1 and not (tmp_path / ("b" * 64)).exists()
    assert again.get("p")["Id"] == p["Id"] and again.get("p:latest") and again.get("aaaa")["Name"] == "p:latest"
    with pytest.raises(NotFound, match='plugin "q" not found'):
        again.get("q")
    with pytest.raises(Conflict, match="plugin p:latest already exists"):
        again.check_new("p:latest")
    again.delete(p["Id"])
    assert not store.dir(p["Id"]).exists() and again.find("p") is None


def _tar(entries: dict[str, bytes | None]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            else:
                info.size, info.mode = len(data), 0o755
                tf.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def service(tmp_path, users=lambda name: 0) -> PluginService:
    store = PluginStore(tmp_path / "plugins")
    store.load()
    events: list = []
    svc = PluginService(store, None, Discovery(tmp_path / "run", ()), lambda *e: events.append(e), "1.0", users)
    svc.events = events  # type: ignore[attr-defined]
    return svc


def test_create_list_filters_and_remove(tmp_path):
    svc = service(tmp_path)
    svc.create("vp", _tar({"./config.json": json.dumps(CONFIG).encode(), "./rootfs": None,
                           "./rootfs/p": b"#!/bin/sh\n", "./other": b"ignored"}))
    p = svc.inspect("vp")
    assert p["Name"] == "vp:latest" and (svc.store.rootfs(p["Id"]) / "p").read_bytes() == b"#!/bin/sh\n"
    assert not (svc.store.rootfs(p["Id"]) / "other").exists()
    assert svc.events == [("create", p["Id"], {"name": "vp:latest"})]
    names = [x["Name"] for x in svc.list({"capability": ["volumedriver"]})]
    assert names == ["volume/local", "vp:latest"]
    assert [x["Name"] for x in svc.list({"enabled": ["false"]})] == ["vp:latest"]
    assert "vp:latest" not in [x["Name"] for x in svc.list({"capability": ["^network"]})]
    for filters, text in (({"enable": ["x"]}, "Invalid filter 'enable'"),
                          ({"enabled": ["true", "0"]}, "Invalid filter 'enabled=[true 0]'")):
        with pytest.raises(InvalidParameter) as err:
            svc.list(filters)
        assert str(err.value) == text
    for bad, text in (({"config.json": b"{}"}, "no rootfs found"), ({"rootfs/x": b""}, "config not found"),
                      ({"config.json": b"[", "rootfs/x": b""}, "failed to parse config"),
                      ({"config.json": b"{}", "rootfs/../../escape": b"x"}, "escapes the target")):
        with pytest.raises(InvalidParameter, match=text):
            svc.create("other", _tar(bad))
    assert [x.name for x in (tmp_path / "plugins").iterdir()] == [p["Id"]]  # the failed ones left nothing
    assert not (tmp_path / "escape").exists() and not (tmp_path / "plugins" / "escape").exists()
    with pytest.raises(InvalidParameter, match="does not pull"):
        svc.refuse_registry(remote="localhost:1/x")
    with pytest.raises(NotFound):
        svc.volume_driver("vp:latest" + "x")
    with pytest.raises(Conflict, match="plugin vp found but disabled"):
        svc.volume_driver("vp")
    svc.remove("vp", force=False)
    assert not svc.store.dir(p["Id"]).exists() and svc.events[-1] == ("remove", p["Id"], {"name": "vp"})


def test_volume_store_over_a_plugin(tmp_path):
    db = Database(tmp_path / "db", (GRAPH, CONTAINERS, VOLUMES))
    (tmp_path / "run").mkdir()
    with VolumePlugin(tmp_path / "run" / "tvp.sock", tmp_path / "tvp", scope="global") as plugin:
        svc = service(tmp_path, users=lambda name: volumes_of_driver(db, name))
        store = VolumeStore(db, tmp_path / "data", drivers=svc.volume_driver, listing=svc.volume_drivers)
        vol, new = store.create("v1", "tvp", {"o": "1"})
        (plugin.data_dir / "theirs").mkdir()  # a volume the plugin had before barge knew it
        listing = {v["Name"]: v for v in store.list()["Volumes"]}
        assert set(listing) == {"v1", "theirs"} and listing["theirs"]["Driver"] == "tvp"
        assert listing["theirs"]["Scope"] == "global" and listing["theirs"]["Labels"] is None
        assert [v["Name"] for v in store.list({"label": ["k"]})["Volumes"]] == []
        assert [v["Name"] for v in store.list({"name": ["the"]})["Volumes"]] == ["theirs"]
        plugin.fail["VolumeDriver.List"] = "down"
        assert store.list()["Warnings"] == ["tvp: down"]
        plugin.fail.clear()
        (plugin.data_dir / "theirs").rmdir()
        assert new and vol.driver == "tvp" and (plugin.data_dir / "v1").is_dir()
        view = store.inspect("v1")
        assert view["Scope"] == "global" and view["Mountpoint"] == "" and view["Options"] == {"o": "1"}
        path = store.mount("c" * 64, {"Name": "v1", "Destination": "/d"})
        assert path == str(plugin.data_dir / "v1") and store.inspect("v1")["Mountpoint"] == path
        assert volumes_of_driver(db, "tvp") == 1
        with pytest.raises(NotFound, match='create v2: error looking up volume plugin nope: plugin "nope" not found'):
            store.create("v2", "nope")
        store.unmount("c" * 64, {"Name": "v1", "Destination": "/d", "Driver": "tvp"})
        assert plugin.bodies("VolumeDriver.Unmount") == plugin.bodies("VolumeDriver.Mount")  # the same ID
        plugin.fail["VolumeDriver.Remove"] = "busy"
        with pytest.raises(Conflict, match="remove v1: busy"):
            store.remove("v1")
        assert store.find("v1") is not None
        plugin.fail.clear()
        store.remove("v1")
        assert store.find("v1") is None and not (plugin.data_dir / "v1").exists()
    with pytest.raises(PluginError):
        PluginClient(f"unix://{tmp_path}/run/tvp.sock").activate()
    db.close()


def test_hostile_configs_are_refused():
    for socket_name in ("../../run/other.sock", "/abs.sock", ".."):
        with pytest.raises(InvalidParameter, match="must be a file name"):
            full_config({"Interface": {"Socket": socket_name}}, "sha256:x", "v")


def test_request_volume_drivers():
    from barge.containers.request import mount_points

    host = {"VolumeDriver": "tvp", "Binds": ["va:/a", "/tmp:/b"], "Mounts": [
        {"Type": "volume", "Source": "vc", "Target": "/c",
         "VolumeOptions": {"NoCopy": True, "DriverConfig": {"Name": "other", "Options": {"k": "v"}}}},
        {"Type": "volume", "Source": "vd", "Target": "/d"}]}
    points = {p["Destination"]: p for p in mount_points(host, {"Volumes": {"/e": {}}}, lambda path: True)}
    assert points["/a"]["Driver"] == "tvp" and points["/b"]["Type"] == "bind"
    assert points["/c"]["Driver"] == "other" and points["/c"]["DriverOpts"] == {"k": "v"}
    assert points["/c"]["Mode"] == "nocopy"
    assert points["/d"]["Driver"] == "local"  # a Mounts entry names its own driver; VolumeDriver is for -v
    assert points["/e"]["Driver"] == "tvp" and points["/e"]["Anonymous"]


def test_a_name_another_driver_has_is_refused(tmp_path):
    db = Database(tmp_path / "db", (GRAPH, CONTAINERS, VOLUMES))
    (tmp_path / "run").mkdir()
    with VolumePlugin(tmp_path / "run" / "tvp.sock", tmp_path / "tvp"):
        store = VolumeStore(db, tmp_path / "data", drivers=service(tmp_path).volume_driver)
        store.create("loc")
        store.create("rem", "tvp")
        text = "create loc: driver 'local' already has volume 'loc': volume name must be unique"
        for call in (lambda: store.create("loc", "tvp"), lambda: store.ensure("loc", driver="tvp")):
            with pytest.raises(Conflict) as err:
                call()
            assert str(err.value) == text
        with pytest.raises(Conflict, match="driver 'tvp' already has volume 'rem'"):
            store.create("rem", "local")
        assert store.create("rem")[0].driver == "tvp"  # no driver named: the one it has
        assert store.ensure("rem", driver="local").driver == "tvp"  # -v rem:/x names none
        store.remove("rem")
    db.close()


@pytest.mark.parametrize("config", [
    {"Env": [{"Value": "x"}]}, {"Env": [{"Name": 1}]}, {"Env": [{"Name": "A", "Settable": "value"}]},
    {"Mounts": [{"Source": 5}]}, {"Mounts": [{"Options": "rbind"}]}, {"Mounts": "x"},
    {"Linux": {"Devices": [{"Path": ["x"]}]}}, {"User": {"UID": "root"}}, {"User": {"UID": True}},
    {"User": {"Name": 1}}, {"Args": {"Value": "a b"}}, {"Interface": []}, {"Network": "host"},
])
def test_a_config_of_the_wrong_shape_is_a_400(config):
    with pytest.raises(InvalidParameter, match="failed to parse config"):
        initial_settings(full_config(config, "sha256:x", "v"))
