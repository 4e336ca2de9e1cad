"""Docker's managed plugins: their records and root file systems under ``<data_root>/plugins``.

A plugin is a directory ``<data_root>/plugins/<id>/`` holding
``plugin.json`` (Docker's ``Plugin`` object: Id, Name, Enabled, Settings,
PluginReference, Config) and ``rootfs/``. The record is written whole to a
temporary file and renamed, so a daemon killed mid-write leaves the old one;
a directory without a record (a create cut short) is removed at the next
start. ``plugin.json`` survives restarts, Enabled included: the daemon
starts the enabled ones again.

The settings follow moby's ``plugin/v2`` (``InitEmptySettings``, ``Set``,
``settable.go``): ``name[.field]=value`` for an Env, a mount's source, a
device's path, or the Args.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any, Sequence

from barge import reference
from barge.errors import Conflict, InvalidParameter, NotFound

_ID = re.compile(r"^[0-9a-f]{64}$")
#: ``Interface.Types`` entries: ``prefix.capability/version``.
_TYPE = re.compile(r"^([a-z0-9]+)\.([a-z0-9]+)/([0-9.]+)$")


def not_found(ref: str) -> NotFound:
    return NotFound(f'plugin "{ref}" not found')


def normalize_name(name: str) -> str:
    """``foo`` -> ``foo:latest`` (moby's ``FamiliarString(TagNameOnly(...))``); 400 for a bad name."""
    try:
        ref = reference.parse(name)
    except InvalidParameter as exc:
        raise InvalidParameter(f"failed to parse reference {name}: {exc}") from None
    if ref.digest:
        raise InvalidParameter("canonical references are not permitted")
    return ref.with_default_tag().familiar()


def capability_of(interface_type: str) -> str:
    """``docker.volumedriver/1.0`` -> ``volumedriver``."""
    m = _TYPE.match(interface_type)
    return m.group(2) if m else ""


def full_config(raw: dict[str, Any], diff_id: str, docker_version: str) -> dict[str, Any]:
    """A plugin's ``config.json`` in dockerd's shape, every field present (its defaults filled)."""
    interface, args, linux, network, user = (_obj(raw, k) for k in ("Interface", "Args", "Linux", "Network", "User"))
    socket_name = str(interface.get("Socket") or "")
    if "/" in socket_name or socket_name in (".", ".."):
        # the daemon connects to <runtime dir>/<Socket>: a path elsewhere is refused
        raise InvalidParameter(f"failed to parse config: Interface.Socket {socket_name!r} must be a file name")
    types = _strings(interface.get("Types"), "Interface.Types")
    for t in types:
        if not _TYPE.match(t):
            raise InvalidParameter(f"failed to parse config: invalid interface type {t!r}")
    env = _objects(raw.get("Env"), "Env", {"Name": str, "Description": str, "Value": str}, required="Name")
    mounts = _objects(raw.get("Mounts"), "Mounts", {"Name": str, "Description": str, "Source": str,
                                                    "Destination": str, "Type": str})
    for m in mounts:
        _strings(m.get("Options"), "Mounts.Options")
    devices = linux.get("Devices")
    if devices is not None:
        devices = _objects(devices, "Linux.Devices", {"Name": str, "Description": str, "Path": str})
    for key, value in user.items():
        if key not in ("UID", "GID") or isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidParameter(f"failed to parse config: User.{key} must be UID or GID, a number")
    config = {
        "Args": {"Description": str(args.get("Description") or ""), "Name": str(args.get("Name") or ""),
                 "Settable": _strings(args.get("Settable"), "Args.Settable"),
                 "Value": _strings(args.get("Value"), "Args.Value")},
        "Description": str(raw.get("Description") or ""),
        "DockerVersion": docker_version,
        "Documentation": str(raw.get("Documentation") or ""),
        "Entrypoint": _strings(raw.get("Entrypoint"), "Entrypoint"),
        "Env": [dict(e, Settable=_strings(e.get("Settable"), "Env.Settable")) for e in env],
        "Interface": {"Socket": socket_name, "Types": types},
        "IpcHost": bool(raw.get("IpcHost")),
        "Linux": {"AllowAllDevices": bool(linux.get("AllowAllDevices")),
                  "Capabilities": _strings(linux.get("Capabilities"), "Linux.Capabilities"),
                  "Devices": devices},
        "Mounts": [dict(m, Settable=_strings(m.get("Settable"), "Mounts.Settable")) for m in mounts],
        "Network": {"Type": str(network.get("Type") or "")},
        "PidHost": bool(raw.get("PidHost")),
        "PropagatedMount": str(raw.get("PropagatedMount") or ""),
        "User": {k: int(user[k]) for k in ("UID", "GID") if user.get(k)},
        "WorkDir": str(raw.get("WorkDir") or ""),
        "rootfs": {"diff_ids": [diff_id], "type": "layers"},
    }
    if "Options" in raw:
        config["Options"] = raw["Options"]
    return config


def _obj(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameter(f"failed to parse config: {key} must be an object")
    return value


def _strings(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameter(f"failed to parse config: {key} must be a list of strings")
    return list(value)


def _objects(value: Any, key: str, fields: dict[str, type], required: str = "") -> list[dict[str, Any]]:
    """A list of objects whose known fields have their types (null allowed), ``required`` present."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise InvalidParameter(f"failed to parse config: {key} must be a list of objects")
    for entry in value:
        for name, kind in fields.items():
            if entry.get(name) is not None and not isinstance(entry[name], kind):
                raise InvalidParameter(f"failed to parse config: {key}.{name} must be a {kind.__name__}")
        if required and not entry.get(required):
            raise InvalidParameter(f"failed to parse config: every entry of {key} needs a {required}")
    return [dict(e) for e in value]


def initial_settings(config: dict[str, Any]) -> dict[str, Any]:
    """moby's ``InitEmptySettings``: the config's mounts, devices, env values and args."""
    return {
        "Args": list(config["Args"]["Value"]),
        "Devices": [dict(d) for d in config["Linux"]["Devices"] or []],
        "Env": [f"{e['Name']}={e['Value']}" for e in config["Env"] if e.get("Value") is not None],
        "Mounts": [dict(m) for m in config["Mounts"]],
    }


def apply_settings(plugin: dict[str, Any], args: Sequence[str]) -> None:
    """``POST /plugins/{name}/set``: moby's ``Plugin.Set``, checked whole before anything changes."""
    if plugin["Enabled"]:
        raise InvalidParameter("cannot set on an active plugin, disable plugin before setting")
    config, settings = plugin["Config"], json.loads(json.dumps(plugin["Settings"]))
    for arg in args:
        name, field, value = _settable(arg)
        env = next((e for e in config["Env"] if e.get("Name") == name), None)
        mount_at = next((i for i, m in enumerate(config["Mounts"]) if m.get("Name") == name), None)
        device_at = next((i for i, d in enumerate(config["Linux"]["Devices"] or []) if d.get("Name") == name), None)
        if env is not None:
            _check_settable(name, field, env.get("Settable") or [], ("value",))
            settings["Env"] = [e for e in settings["Env"] if e.partition("=")[0] != name] + [f"{name}={value}"]
        elif mount_at is not None:
            _check_settable(name, field, config["Mounts"][mount_at].get("Settable") or [], ("source",))
            settings["Mounts"][mount_at]["Source"] = value
        elif device_at is not None:
            _check_settable(name, field, config["Linux"]["Devices"][device_at].get("Settable") or [], ("path",))
            settings["Devices"][device_at]["Path"] = value
        elif config["Args"]["Name"] == name:
            _check_settable(name, field, config["Args"]["Settable"], ("value",))
            settings["Args"] = value.split(" ")
        else:
            raise InvalidParameter(f'setting "{name}" not found in the plugin configuration')
    plugin["Settings"] = settings


def _settable(arg: str) -> tuple[str, str, str]:
    i = arg.find("=")
    if i == 0:
        raise InvalidParameter("invalid format, must be <name>[.<field>][=<value>]")
    name, value = (arg, "") if i < 0 else (arg[:i], arg[i + 1:])
    field = ""
    j = name.rfind(".")
    if j > 0:
        name, field = name[:j], name[j + 1:]
    return name, field, value


def _check_settable(name: str, field: str, settable: list[str], allowed: tuple[str, ...]) -> None:
    pretty = f"{name}.{field}" if field else name
    if not field:
        if len(settable) > 1:
            raise InvalidParameter("multiple fields are settable, one must be specified")
        field = settable[0] if settable else ""
    if field not in allowed or field not in settable:
        raise InvalidParameter(f'"{pretty}" is not settable')


class PluginStore:
    """The managed plugins' records, read once at start and kept in memory (one lock)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.lock = threading.RLock()
        self._plugins: dict[str, dict[str, Any]] = {}

    def load(self) -> int:
        """Read every record; remove directories without one (a create cut short). Returns how many."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for entry in self.root.iterdir():
            record = entry / "plugin.json"
            if entry.is_dir() and _ID.match(entry.name) and record.is_file():
                self._plugins[entry.name] = json.loads(record.read_text())
            elif entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
        return len(self._plugins)

    def dir(self, plugin_id: str) -> Path:
        return self.root / plugin_id

    def rootfs(self, plugin_id: str) -> Path:
        return self.root / plugin_id / "rootfs"

    def all(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(json.dumps(p)) for p in sorted(self._plugins.values(), key=lambda p: p["Name"])]

    def find(self, ref: str) -> dict[str, Any] | None:
        """By name (``foo`` is ``foo:latest``), then by full id, then by a unique id prefix."""
        with self.lock:
            try:
                name = normalize_name(ref)
            except InvalidParameter:
                name = None
            for p in self._plugins.values():
                if p["Name"] == name:
                    return p
            if ref in self._plugins:
                return self._plugins[ref]
            found = [p for pid, p in self._plugins.items() if ref and pid.startswith(ref)]
            return found[0] if len(found) == 1 else None

    def get(self, ref: str) -> dict[str, Any]:
        plugin = self.find(ref)
        if plugin is None:
            raise not_found(ref)
        return plugin

    def check_new(self, name: str) -> None:
        with self.lock:
            if any(p["Name"] == name for p in self._plugins.values()):
                raise Conflict(f"plugin {name} already exists")

    def save(self, plugin: dict[str, Any]) -> None:
        """Write the record (temporary file, fsync, rename) and keep it."""
        with self.lock:
            path = self.dir(plugin["Id"]) / "plugin.json"
            tmp = path.with_suffix(".tmp")
            with open(tmp, "w") as fh:
                json.dump(plugin, fh, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            self._plugins[plugin["Id"]] = plugin

    def delete(self, plugin_id: str) -> None:
        """Forget the record, then remove the directory (renamed first, as moby's atomicRemoveAll)."""
        with self.lock:
            self._plugins.pop(plugin_id, None)
            top = self.dir(plugin_id)
            gone = top.with_name(plugin_id + "-removing")
            if top.exists():
                os.replace(top, gone)
            shutil.rmtree(gone, ignore_errors=True)
