"""Docker's shapes of a container: inspect (``GET /containers/{id}/json``) and ``ps`` rows.

The network part (addresses, endpoints, published ports) comes from the
network service (:meth:`barge.network.endpoints.Endpoints.container_view`),
given here as ``net``; without one (no network driver) only the modes show.
"""

from __future__ import annotations

import time
from typing import Any

from barge.containers.state import status_string
from barge.containers.store import Container


def command_string(path: str, args: list[str]) -> str:
    """moby's list ``Command``: arguments with spaces in single quotes."""
    if not args:
        return path
    return path + " " + " ".join(f"'{a}'" if " " in a else a for a in args)


def _endpoint() -> dict[str, Any]:
    return {
        "IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "", "DriverOpts": None,
        "GwPriority": 0, "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
        "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": None,
    }


def _networks(c: Container) -> dict[str, Any]:
    mode = c.host_config.get("NetworkMode") or "bridge"
    if mode.startswith("container:"):
        return {}
    return {mode: _endpoint()}


def network_settings(c: Container, net: dict[str, Any] | None = None) -> dict[str, Any]:
    mode = c.host_config.get("NetworkMode") or "bridge"
    pid = c.state.Pid
    out: dict[str, Any] = {
        "Bridge": "", "SandboxID": "", "SandboxKey": f"/proc/{pid}/ns/net" if pid and mode != "host" else "",
        "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": {},
        "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None, "EndpointID": "", "Gateway": "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
        "MacAddress": "", "Networks": _networks(c),
    }
    if net is not None:
        out.update({k: v for k, v in net.items() if not (k == "SandboxKey" and not v)})
    return out


def mounts_view(c: Container) -> list[dict[str, Any]]:
    out = []
    for m in c.mounts:
        view = {"Type": m["Type"]}
        if m["Type"] == "volume":
            view["Name"] = m.get("Name", "")
        view.update({"Source": m.get("Source", ""), "Destination": m["Destination"]})
        if m["Type"] == "volume":
            view["Driver"] = m.get("Driver", "local")
        view.update({"Mode": m.get("Mode", ""), "RW": bool(m.get("RW", True)), "Propagation": m.get("Propagation", "")})
        out.append(view)
    return out


def inspect(c: Container, *, paths: dict[str, str], graph_data: dict[str, str], runtime: str,
            size: tuple[int, int] | None = None, exec_ids: list[str] | None = None,
            net: dict[str, Any] | None = None) -> dict[str, Any]:
    host = dict(c.host_config)
    host.setdefault("Runtime", runtime)
    if not host.get("Runtime"):
        host["Runtime"] = runtime
    log_type = (host.get("LogConfig") or {}).get("Type", "json-file")
    out: dict[str, Any] = {
        "Id": c.id,
        "Created": c.created,
        "Path": c.path,
        "Args": c.args,
        "State": c.state.to_inspect(),
        "Image": c.image_id,
        "ResolvConfPath": paths["resolv"],
        "HostnamePath": paths["hostname"],
        "HostsPath": paths["hosts"],
        "LogPath": c.log_path if log_type == "json-file" else "",
        "Name": c.name,
        "RestartCount": c.restart_count,
        "Driver": c.graph_driver,
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": exec_ids or None,
        "HostConfig": host,
        "GraphDriver": {"Data": graph_data or {}, "Name": c.graph_driver},
        "Mounts": mounts_view(c),
        "Config": c.config,
        "NetworkSettings": network_settings(c, net),
    }
    if size is not None:
        out["SizeRw"], out["SizeRootFs"] = size
    return out


def summary(c: Container, size: tuple[int, int] | None = None, now: float | None = None,
            net: dict[str, Any] | None = None, ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One row of ``GET /containers/json``."""
    now = time.time() if now is None else now
    out: dict[str, Any] = {
        "Id": c.id,
        "Names": [c.name],
        "Image": c.image_name,
        "ImageID": c.image_id,
        "Command": command_string(c.path, c.args),
        "Created": int(c.created_unix),
        "Ports": ports or [],
        "Labels": c.config.get("Labels") or {},
        "State": c.state.status,
        "Status": status_string(c.state, now),
        "HostConfig": {"NetworkMode": c.host_config.get("NetworkMode") or "bridge"},
        "NetworkSettings": {"Networks": net["Networks"] if net is not None else _networks(c)},
        "Mounts": mounts_view(c),
    }
    if size is not None:
        out["SizeRw"], out["SizeRootFs"] = size
    return out
