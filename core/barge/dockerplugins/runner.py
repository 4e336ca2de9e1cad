"""A managed plugin's process: its entrypoint in its root file system, run by the exec driver.

The spec follows moby's ``plugin/v2/plugin_linux.go`` (``InitSpec``):
Docker's default container (namespaces, default mounts and capabilities)
on the plugin's ``rootfs``, plus the plugin's runtime directory
(``<exec_root>/plugins/<id>``) bind-mounted at ``/run/docker/plugins``,
where the plugin makes its socket (``Interface.Socket``); the config's
capabilities are added; ``Network.Type: host``, ``PidHost`` and ``IpcHost``
share those host namespaces; the settings' mounts are bind mounts and its
Env/Args complete the process. What barge cannot do here is refused with
the reason: ``PropagatedMount`` (mounts made inside the plugin reaching the
host), devices, ``AllowAllDevices``, and non-bind mounts.

Like containers, a plugin's monitor outlives the daemon; the next daemon
finds it running (:meth:`PluginRunner.running`) or starts it again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

from barge.containers.request import DEFAULT_PATH
from barge.containers.spec import default_mounts
from barge.errors import BargeError, InvalidParameter
from barge.execdriver import DEFAULT_CAPABILITIES, ContainerSpec, LogSpec, MountSpec, ProcessSpec, User

RUNTIME_DESTINATION = "/run/docker/plugins"
#: a plugin's output (json-file, rotated): what it said is there for its user, bounded
LOG_OPTIONS = {"max-size": "8m", "max-file": "2"}
#: moby waits 0.5 s, then dials up to 4 times 3 s apart for the socket to answer.
SOCKET_WAIT = 9.5


def exec_id(plugin_id: str) -> str:
    """The exec driver's name of a plugin's container (apart from any container id)."""
    return f"plugin-{plugin_id[:52]}"


class PluginRunner:
    def __init__(self, pm: Any, exec_root: Path, data_root: Path):
        self.pm = pm
        self.runtime_root = Path(exec_root) / "plugins"
        self.state_root = Path(exec_root) / "plugin-state"
        self.data_root = Path(data_root) / "plugins"

    def runtime_dir(self, plugin_id: str) -> Path:
        return self.runtime_root / plugin_id

    def socket_path(self, plugin: dict[str, Any]) -> Path:
        return self.runtime_dir(plugin["Id"]) / plugin["Config"]["Interface"]["Socket"]

    def _state_dir(self, plugin_id: str) -> str:
        return str(self.state_root / plugin_id)

    def log_path(self, plugin_id: str) -> Path:
        """The plugin's output (json-file)."""
        return self.data_root / plugin_id / "plugin-json.log"

    def spec(self, plugin: dict[str, Any]) -> ContainerSpec:
        config, settings, pid = plugin["Config"], plugin["Settings"], plugin["Id"]
        if config["PropagatedMount"]:
            raise InvalidParameter(f"plugin {plugin['Name']}: PropagatedMount is not supported by barge "
                                   "(mounts a plugin makes do not reach the host)")
        if config["Linux"]["AllowAllDevices"] or settings["Devices"]:
            raise InvalidParameter(f"plugin {plugin['Name']}: devices are not supported by barge's plugins")
        if not config["Entrypoint"]:
            raise InvalidParameter(f"plugin {plugin['Name']}: config has no Entrypoint")
        if not config["Interface"]["Socket"]:
            raise InvalidParameter(f"plugin {plugin['Name']}: config has no Interface.Socket to reach it by")
        namespaces = {k: "new" for k in ("mount", "pid", "net", "ipc", "uts")}
        if config["Network"]["Type"] == "host":
            namespaces["net"] = "host"
        if config["PidHost"]:
            namespaces["pid"] = "host"
        if config["IpcHost"]:
            namespaces["ipc"] = "host"
        mounts = default_mounts({"IpcMode": "host" if config["IpcHost"] else "private"})
        for m in settings["Mounts"]:
            if (m.get("Type") or "bind") != "bind" or not m.get("Source") or not m.get("Destination"):
                raise InvalidParameter(f"plugin {plugin['Name']}: mount {m.get('Name') or m.get('Destination')!r}: "
                                       "only bind mounts with a source are supported by barge's plugins")
            mounts.append(MountSpec(m["Destination"], "bind", m["Source"], list(m.get("Options") or ["rbind"])))
        runtime = self.runtime_dir(pid)
        mounts.append(MountSpec(RUNTIME_DESTINATION, "bind", str(runtime), ["rbind", "rprivate"]))
        if config["Network"]["Type"]:
            for path in ("/etc/hosts", "/etc/resolv.conf"):
                if os.path.exists(path):
                    mounts.append(MountSpec(path, "bind", path, ["rbind", "ro"]))
        caps = list(DEFAULT_CAPABILITIES)
        for cap in (c if c.startswith("CAP_") else f"CAP_{c.upper()}" for c in config["Linux"]["Capabilities"]):
            if cap not in caps:
                caps.append(cap)
        process = ProcessSpec(
            args=[*config["Entrypoint"], *settings["Args"]],
            env=[f"PATH={DEFAULT_PATH}", *settings["Env"]],
            cwd=config["WorkDir"] or "/",
            user=User(uid=int(config["User"].get("UID", 0)), gid=int(config["User"].get("GID", 0))),
            capabilities=caps,
        )
        return ContainerSpec(
            id=exec_id(pid),
            rootfs=[{"Type": "bind", "Source": str(self.data_root / pid / "rootfs"), "Options": ["rbind", "rw"]}],
            process=process, hostname=exec_id(pid)[:12], mounts=mounts, namespaces=namespaces,
            cgroup_path=f"barge/{exec_id(pid)}", log=LogSpec(path=str(self.log_path(pid)), options=dict(LOG_OPTIONS)),
        )

    def start(self, plugin: dict[str, Any], timeout: float = SOCKET_WAIT) -> None:
        """Run the plugin and wait until its socket answers (moby's ``pluginPostStart``)."""
        spec = self.spec(plugin)
        self.stop(plugin["Id"])  # what a previous run left
        self.runtime_dir(plugin["Id"]).mkdir(parents=True, exist_ok=True, mode=0o700)
        state_dir = self._state_dir(plugin["Id"])
        self.state_root.mkdir(parents=True, exist_ok=True, mode=0o711)
        self.pm.hook.barge_exec_create(spec=spec, state_dir=state_dir)
        try:
            self.pm.hook.barge_exec_start(container_id=spec.id, state_dir=state_dir)
            self.wait_for_socket(plugin, timeout)
        except BaseException:
            self.stop(plugin["Id"])
            raise

    def wait_for_socket(self, plugin: dict[str, Any], timeout: float) -> None:
        path = str(self.socket_path(plugin))
        deadline = time.monotonic() + max(timeout, 0.5)
        time.sleep(0.05)
        while True:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                try:
                    sock.connect(path)
                    return
                except OSError as exc:
                    error = exc
            if not self.running(plugin["Id"]):
                raise BargeError(f"plugin {plugin['Name']} exited before its socket {path} answered "
                                 f"(its output: {self.log_path(plugin['Id'])})")
            if time.monotonic() >= deadline:
                raise BargeError(f"dial unix {path}: connect: {(error.strerror or str(error)).lower()}")
            time.sleep(0.1)

    def running(self, plugin_id: str) -> bool:
        try:
            state = self.pm.hook.barge_exec_state(container_id=exec_id(plugin_id), state_dir=self._state_dir(plugin_id))
        except BargeError:
            return False
        return getattr(state, "status", "") == "running"

    def stop(self, plugin_id: str, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds (moby's ``shutdownPlugin``); then everything released."""
        cid, state_dir = exec_id(plugin_id), self._state_dir(plugin_id)
        if self.running(plugin_id):
            with contextlib.suppress(BargeError):
                self.pm.hook.barge_exec_kill(container_id=cid, state_dir=state_dir, signal=signal.SIGTERM)
            with contextlib.suppress(BargeError):
                if self.pm.hook.barge_exec_wait(container_id=cid, state_dir=state_dir, timeout=grace) is None:
                    self.pm.hook.barge_exec_kill(container_id=cid, state_dir=state_dir, signal=signal.SIGKILL)
                    self.pm.hook.barge_exec_wait(container_id=cid, state_dir=state_dir, timeout=grace)
        if os.path.exists(state_dir):
            with contextlib.suppress(BargeError):
                self.pm.hook.barge_exec_delete(container_id=cid, state_dir=state_dir)
        runtime = self.runtime_dir(plugin_id)
        if runtime.is_dir():
            for entry in runtime.iterdir():  # the socket it left
                with contextlib.suppress(OSError):
                    entry.unlink()
            with contextlib.suppress(OSError):
                runtime.rmdir()
