"""The plugin service: ``/plugins`` (managed plugins and barge's driver packages) and volume plugins.

Managed plugins are created from a tar (``docker plugin create NAME DIR``
sends its folder: ``config.json`` and ``rootfs/``), enabled (run by the exec
driver, its socket awaited, ``Plugin.Activate`` handshake), disabled,
configured (``set``) and removed, with dockerd's checks and texts
(moby ``plugin/backend_linux.go``, ``plugin/errors.go``). A volume driver
named by ``-d``/``--volume-driver``/``DriverConfig`` is an enabled managed
plugin of type ``docker.volumedriver/1.0``, or else a legacy plugin found
by :mod:`.discovery`.

Pulling, pushing and upgrading plugins need a registry's plugin manifests;
barge does not implement them and says so (400, after dockerd's own checks).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import secrets
import shutil
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Sequence

from barge.archive import apply_layer
from barge.archive.errors import ArchiveError
from barge.dockerplugins.builtin import driver_plugins
from barge.dockerplugins.discovery import Discovery
from barge.dockerplugins.managed import (
    PluginStore,
    apply_settings,
    capability_of,
    full_config,
    initial_settings,
    normalize_name,
    not_found,
)
from barge.dockerplugins.runner import PluginRunner
from barge.dockerplugins.transport import TIMEOUT, PluginClient, PluginError
from barge.dockerplugins.volumedriver import RemoteVolumeDriver
from barge.errors import BargeError, Conflict, InvalidParameter, NotFound, NotImplementedByDriver
from barge.filters import Filters

log = logging.getLogger("barge.plugins")

LIST_FILTERS = frozenset({"enabled", "capability"})
#: a plugin's config.json is read whole: a bound on what a client makes the daemon hold
MAX_CONFIG = 1 << 20
NO_REGISTRY = ("barge does not pull, push or upgrade plugins from registries: create a plugin from a folder "
               "with config.json and rootfs/ (docker plugin create NAME DIR)")
#: ``emit(action, plugin_id, attributes)``: a plugin event (create, enable, disable, remove).
Emit = Callable[[str, str, dict], None]


class PluginService:
    def __init__(self, store: PluginStore, runner: PluginRunner | None, discovery: Discovery, emit: Emit,
                 docker_version: str, volume_users: Callable[[str], int], reports: Iterable[Any] = (),
                 exec_error: str = ""):
        self.store = store
        self.runner = runner
        self.discovery = discovery
        self.emit = emit
        self.docker_version = docker_version
        #: how many volumes a driver name has (a plugin with volumes is in use)
        self.volume_users = volume_users
        self.reports = list(reports)
        self.exec_error = exec_error
        self._legacy: dict[tuple[str, str], RemoteVolumeDriver] = {}
        self._legacy_lock = threading.Lock()

    # -- listing ----------------------------------------------------------

    def list(self, filters: Filters) -> list[dict[str, Any]]:
        """``GET /plugins``: barge's driver packages, then the managed plugins; dockerd's filters."""
        for key in filters:
            if key not in LIST_FILTERS:
                raise InvalidParameter(f"Invalid filter '{key}'")
        enabled = None
        if "enabled" in filters:
            values = set(filters["enabled"])
            falsy, truthy = bool(values & {"0", "false"}), bool(values & {"1", "true"})
            if falsy == truthy:
                raise InvalidParameter(f"Invalid filter 'enabled=[{' '.join(filters['enabled'])}]'")
            enabled = truthy
        out = []
        for p in driver_plugins(self.reports) + self.store.all():
            if enabled is not None and p["Enabled"] != enabled:
                continue
            if "capability" in filters and not all(
                    _match(filters["capability"], capability_of(t)) for t in p["Config"]["Interface"]["Types"]):
                continue
            out.append(p)
        return out

    def inspect(self, ref: str) -> dict[str, Any]:
        plugin = self.store.find(ref)
        if plugin is not None:
            with self.store.lock:
                return json.loads(json.dumps(plugin))  # a copy: the record changes under other jobs
        for p in driver_plugins(self.reports):
            if ref in (p["Name"], p["Id"]) or (len(ref) >= 12 and p["Id"].startswith(ref)):
                return p
        raise not_found(ref)

    def _managed(self, ref: str) -> dict[str, Any]:
        plugin = self.store.find(ref)
        if plugin is not None:
            return plugin
        if any(ref == p["Name"] for p in driver_plugins(self.reports)):
            raise InvalidParameter(f"{ref} is one of barge's driver packages, not a managed plugin: "
                                   "it is installed and removed with pip")
        raise not_found(ref)

    # -- creating ---------------------------------------------------------

    def create(self, name: str, context: IO[bytes]) -> None:
        """``POST /plugins/create?name=``: a plugin from a tar of ``config.json`` and ``rootfs/``."""
        name = normalize_name(name)
        self.store.check_new(name)
        plugin_id = secrets.token_hex(32)
        top = self.store.dir(plugin_id)
        top.mkdir(parents=True, mode=0o700)
        try:
            raw_config, diff_id = _unpack(context, top)
            try:
                config = json.loads(raw_config)
            except ValueError as exc:
                raise InvalidParameter(f"failed to parse config: {exc}") from None
            if not isinstance(config, dict):
                raise InvalidParameter("failed to parse config: not a JSON object")
            full = full_config(config, diff_id, self.docker_version)
            plugin = {"Id": plugin_id, "Name": name, "Enabled": False, "Settings": initial_settings(full),
                      "PluginReference": name, "Config": full}
            with self.store.lock:
                self.store.check_new(name)
                self.store.save(plugin)
        except BaseException:
            shutil.rmtree(top, ignore_errors=True)
            raise
        self.emit("create", plugin_id, {"name": name})

    # -- running ----------------------------------------------------------

    def _runner(self) -> PluginRunner:
        if self.runner is None:
            raise NotImplementedByDriver(f"no exec driver: {self.exec_error or 'plugins cannot run'}")
        return self.runner

    def enable(self, ref: str, timeout: int) -> None:
        with self.store.lock:
            plugin = self._managed(ref)
            if plugin["Enabled"]:
                raise Conflict(f"plugin already enabled: plugin {plugin['Name']} is enabled")
            self._start(plugin, timeout)
            plugin["Enabled"] = True
            self.store.save(plugin)
        self.emit("enable", plugin["Id"], {"name": ref})

    def _start(self, plugin: dict[str, Any], timeout: float) -> None:
        """Run it, and make the handshake (``Plugin.Activate``); stopped again when that fails."""
        runner = self._runner()
        runner.start(plugin)
        try:
            self._client(plugin).activate(timeout=timeout or TIMEOUT)
        except BaseException:
            runner.stop(plugin["Id"])
            raise

    def _client(self, plugin: dict[str, Any]) -> PluginClient:
        return PluginClient(f"unix://{self._runner().socket_path(plugin)}")

    def disable(self, ref: str, force: bool) -> None:
        with self.store.lock:
            plugin = self._managed(ref)
            if not plugin["Enabled"]:
                raise Conflict(f"plugin is already disabled: plugin {plugin['Name']} found but disabled")
            if not force and self._in_use(plugin):
                raise Conflict(f"plugin {plugin['Name']} is in use")
            self._runner().stop(plugin["Id"])
            plugin["Enabled"] = False
            self.store.save(plugin)
        self.emit("disable", plugin["Id"], {"name": ref})

    def _in_use(self, plugin: dict[str, Any]) -> bool:
        return self.volume_users(plugin["Name"]) > 0

    def remove(self, ref: str, force: bool) -> None:
        with self.store.lock:
            plugin = self._managed(ref)
            if not force:
                if self._in_use(plugin):
                    raise Conflict(f"plugin {plugin['Name']} is in use")
                if plugin["Enabled"]:
                    raise Conflict(f"plugin {plugin['Name']} is enabled")
            if plugin["Enabled"] and self.runner is not None:
                self.runner.stop(plugin["Id"])
            self.store.delete(plugin["Id"])
        self.emit("remove", plugin["Id"], {"name": ref})

    def set(self, ref: str, args: Sequence[str]) -> None:
        with self.store.lock:
            plugin = self._managed(ref)
            apply_settings(plugin, args)
            self.store.save(plugin)

    def refuse_registry(self, ref: str | None = None, remote: str | None = None) -> None:
        """Pull, push, upgrade, privileges: dockerd's checks first, then a clear 400."""
        if ref is not None:
            plugin = self._managed(ref)
            if remote is not None and plugin["Enabled"]:
                raise Conflict(f"plugin must be disabled before upgrading: plugin {plugin['Name']} is enabled")
        if remote == "":
            raise InvalidParameter("invalid reference format")
        if remote is not None:
            normalize_name(remote)
        raise InvalidParameter(NO_REGISTRY)

    def restore(self) -> None:
        """At daemon start: enabled plugins run again (a running one is kept); one that cannot is disabled."""
        for plugin in self.store.all():
            if not plugin["Enabled"]:
                continue
            try:
                if self.runner is not None and self.runner.running(plugin["Id"]):
                    continue
                self._start(plugin, TIMEOUT)
            except BargeError as exc:
                log.error("plugin %s could not be started again, it is disabled: %s", plugin["Name"], exc)
                plugin["Enabled"] = False
                self.store.save(plugin)

    # -- volume drivers ---------------------------------------------------

    def volume_drivers(self) -> list[RemoteVolumeDriver]:
        """Every volume plugin there is, for ``volume ls`` (dockerd's ``GetAllByCap``): the enabled managed
        ones, and the legacy ones the directories hold (activated; one that does not answer is left out)."""
        out = []
        if self.runner is not None:
            out = [self._volume_driver(p) for p in self.store.all() if p["Enabled"] and _is_volume_driver(p)]
        for name in self.discovery.names():
            if self.store.find(name) is not None:
                continue
            try:
                out.append(self.volume_driver(name))
            except BargeError as exc:
                log.warning("volume plugin %s: %s", name, exc)
        return out

    def volume_driver(self, name: str) -> RemoteVolumeDriver:
        """The volume plugin ``name`` (``--volume-driver``), in dockerd's error words when there is none."""
        plugin = self.store.find(name)
        if plugin is not None:
            if not plugin["Enabled"]:
                raise Conflict(f"error looking up volume plugin {name}: plugin {name} found but disabled")
            if not _is_volume_driver(plugin):
                raise NotFound(f'error looking up volume plugin {name}: plugin does not provide "volumedriver" '
                               "capability")
            return self._volume_driver(plugin)
        try:
            address = self.discovery.address(name)
        except InvalidParameter as exc:
            raise NotFound(f"error looking up volume plugin {name}: {exc}") from None
        if address is None:
            raise NotFound(f'error looking up volume plugin {name}: plugin "{name}" not found')
        with self._legacy_lock:
            driver = self._legacy.get((name, address))
            if driver is None:
                client = PluginClient(address)
                try:
                    implements = client.activate()
                except PluginError as exc:
                    raise NotFound(f"error looking up volume plugin {name}: {exc}") from None
                if "VolumeDriver" not in implements:
                    raise NotFound(f"error looking up volume plugin {name}: "
                                   "Plugin does not implement the requested driver")
                driver = self._legacy[(name, address)] = RemoteVolumeDriver(name, client)
            return driver

    def _volume_driver(self, plugin: dict[str, Any]) -> RemoteVolumeDriver:
        """A managed plugin's: the paths it answers are inside its root file system."""
        return RemoteVolumeDriver(plugin["Name"], self._client(plugin), str(self.store.rootfs(plugin["Id"])))


def _is_volume_driver(plugin: dict[str, Any]) -> bool:
    return any(capability_of(t) == "volumedriver" for t in plugin["Config"]["Interface"]["Types"])


def _match(patterns: list[str], value: str) -> bool:
    """moby's ``filters.Args.Match``: equal, or the pattern as a regular expression found in it."""
    for p in patterns:
        if p == value:
            return True
        with contextlib.suppress(re.error):
            if re.search(p, value):
                return True
    return False


def _unpack(context: IO[bytes], top: Path) -> tuple[bytes, str]:
    """``config.json`` and the ``rootfs/`` entries of a create's tar: the config's bytes and the rootfs
    layer's digest; the rootfs unpacked into ``top/rootfs`` by the safe unpacker."""
    config: bytes | None = None
    digest = hashlib.sha256()
    with tempfile.TemporaryFile(dir=top) as layer:
        has_rootfs = False
        try:
            with tarfile.open(fileobj=context, mode="r|*") as tf, tarfile.open(fileobj=layer, mode="w|",
                                                                               format=tarfile.PAX_FORMAT) as out:
                for member in tf:
                    name = "/".join(p for p in member.name.split("/") if p not in ("", "."))
                    if name == "config.json" and member.isfile():
                        if member.size > MAX_CONFIG:
                            raise InvalidParameter(f"config.json is larger than {MAX_CONFIG} bytes")
                        fh = tf.extractfile(member)
                        config = fh.read() if fh is not None else b""
                        continue
                    parts = name.split("/")
                    if parts[0] != "rootfs":
                        continue
                    has_rootfs = True
                    if len(parts) == 1:
                        continue  # the rootfs directory itself
                    member.name = "/".join(parts[1:]) or "."
                    if member.islnk() and member.linkname.lower().startswith("rootfs/"):
                        member.linkname = member.linkname[len("rootfs/"):]
                    out.addfile(member, tf.extractfile(member) if member.isfile() else None)
        except tarfile.TarError as exc:
            raise InvalidParameter(f"failed to read from tar: {exc}") from None
        if not has_rootfs:
            raise InvalidParameter("no rootfs found")
        if config is None:
            raise InvalidParameter("config not found")
        layer.seek(0)
        for chunk in iter(lambda: layer.read(1 << 20), b""):
            digest.update(chunk)
        layer.seek(0)
        rootfs = top / "rootfs"
        rootfs.mkdir(mode=0o755)
        try:
            apply_layer(layer, rootfs, whiteouts=None)
        except ArchiveError as exc:
            raise InvalidParameter(f"failed to unpack the plugin's rootfs: {exc}") from None
    return config, f"sha256:{digest.hexdigest()}"
