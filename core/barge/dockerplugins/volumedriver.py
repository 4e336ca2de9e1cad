"""A Docker volume plugin as a volume driver (the contract of :mod:`barge.volumes.drivers`).

Each method is one call of Docker's ``VolumeDriver`` protocol
(``docker/cli docs/extend/plugins_volume.md``). A managed plugin answers
paths inside its own root file system; they are taken relative to it on
the host when mounted, as dockerd does (``BasePath``); inspect shows them as
the plugin gives them, as dockerd does too. The plugin runs as root on the
host and is trusted as such: the mount point it names is bind-mounted into
the container as given.
"""

from __future__ import annotations

import posixpath
from typing import Any

from barge.dockerplugins.transport import LONG_TIMEOUT, PluginClient, PluginError


class RemoteVolumeDriver:
    def __init__(self, name: str, client: PluginClient, base_path: str = ""):
        self.name = name
        self.client = client
        #: a managed plugin's root file system on the host ("" for a legacy plugin)
        self.base_path = base_path
        self._scope: str | None = None

    def _host_path(self, path: str) -> str:
        if not path or not self.base_path:
            return path
        return posixpath.join(self.base_path, posixpath.normpath("/" + path).lstrip("/"))

    def create(self, volume: str, options: dict[str, str]) -> None:
        self.client.call("VolumeDriver.Create", {"Name": volume, "Opts": dict(options or {})}, timeout=LONG_TIMEOUT)

    def remove(self, volume: str) -> None:
        self.client.call("VolumeDriver.Remove", {"Name": volume}, timeout=LONG_TIMEOUT)

    def mount(self, volume: str, mount_id: str) -> str:
        answer = self.client.call("VolumeDriver.Mount", {"Name": volume, "ID": mount_id}, timeout=LONG_TIMEOUT)
        point = answer.get("Mountpoint")
        if not isinstance(point, str) or not point:
            raise PluginError(f"VolumeDriver.Mount: no Mountpoint for volume {volume}")
        return self._host_path(point)

    def unmount(self, volume: str, mount_id: str) -> None:
        self.client.call("VolumeDriver.Unmount", {"Name": volume, "ID": mount_id})

    def path(self, volume: str) -> str:
        """The plugin's answer as it gives it (inspect's ``Mountpoint``, as dockerd shows it)."""
        return str(self.client.call("VolumeDriver.Path", {"Name": volume}).get("Mountpoint") or "")

    def get(self, volume: str) -> dict[str, Any]:
        answer = self.client.call("VolumeDriver.Get", {"Name": volume}).get("Volume")
        return answer if isinstance(answer, dict) else {}

    def status(self, volume: str) -> dict[str, Any] | None:
        status = self.get(volume).get("Status")
        return status if isinstance(status, dict) and status else None

    def list(self) -> list[dict[str, Any]]:
        volumes = self.client.call("VolumeDriver.List").get("Volumes") or []
        return [v for v in volumes if isinstance(v, dict) and isinstance(v.get("Name"), str)]

    def scope(self) -> str:
        """``Capabilities.Scope``; a plugin without the call is ``local`` (moby's default)."""
        if self._scope is None:
            try:
                caps = self.client.call("VolumeDriver.Capabilities").get("Capabilities") or {}
            except PluginError:
                caps = {}
            scope = caps.get("Scope") if isinstance(caps, dict) else None
            self._scope = scope if scope in ("local", "global") else "local"
        return self._scope
