"""barge's installed driver packages, shown as Docker plugins (``docker plugin ls``).

Each driver found by entry point is a plugin named ``<kind>/<name>``
(``graph/overlay``, ``exec/native``, ``network/bridge``, ``log/json-file``,
and ``volume/local``, the built-in volume driver), with Docker's ``Plugin``
shape: a stable Id (the digest of the name), Enabled unless the driver
cannot work here, the interface type of its kind, and its package and
status in the Description. They are read-only: installed and removed with
pip, never through ``/plugins``.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import entry_points
from typing import Any, Iterable

#: entry-point group -> (kind, Docker interface type). ``barge.log_drivers`` may not be installed yet.
GROUPS = {
    "barge.graph_drivers": ("graph", "docker.graphdriver/1.0"),
    "barge.network_drivers": ("network", "docker.networkdriver/1.0"),
    "barge.exec_drivers": ("exec", "barge.execdriver/1.0"),
    "barge.log_drivers": ("log", "docker.logdriver/1.0"),
}
VOLUME_TYPE = "docker.volumedriver/1.0"
DISABLED_STATUSES = frozenset({"not supported", "error", "not installed"})


def plugin_id(name: str) -> str:
    return hashlib.sha256(f"barge-driver:{name}".encode()).hexdigest()


def _plugin(name: str, interface_type: str, description: str, enabled: bool) -> dict[str, Any]:
    return {
        "Id": plugin_id(name),
        "Name": name,
        "Enabled": enabled,
        "Settings": {"Mounts": [], "Env": [], "Args": [], "Devices": []},
        "PluginReference": "",
        "Config": {
            "Args": {"Description": "", "Name": "", "Settable": None, "Value": None},
            "Description": description,
            "DockerVersion": "",
            "Documentation": "docs/plugins.md",
            "Entrypoint": None,
            "Env": None,
            "Interface": {"Socket": "", "Types": [interface_type]},
            "IpcHost": False,
            "Linux": {"AllowAllDevices": False, "Capabilities": None, "Devices": None},
            "Mounts": None,
            "Network": {"Type": ""},
            "PidHost": False,
            "PropagatedMount": "",
            "WorkDir": "",
        },
    }


def driver_plugins(reports: Iterable[Any]) -> list[dict[str, Any]]:
    """Every installed driver as a plugin; ``reports`` (the daemon's DriverReports) give the statuses."""
    status = {(r.kind, r.name): r for r in reports}
    out = [_plugin("volume/local", VOLUME_TYPE, "barge volume driver (built in): directories under the data root",
                   True)]
    for group, (kind, interface_type) in GROUPS.items():
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            package = f"{dist.name} {dist.version}" if dist is not None else ep.value
            report = status.get((kind, ep.name))
            state = report.status if report is not None else "available"
            why = f": {report.reason}" if report is not None and report.reason else ""
            out.append(_plugin(f"{kind}/{ep.name}", interface_type, f"barge {kind} driver ({state}{why}), {package}",
                               state not in DISABLED_STATUSES))
    return out
