"""Docker's shapes of a container: inspect (``GET /containers/{id}/json``) and ``ps`` rows.

The network part (addresses, endpoints, published ports) comes from the
network service (:meth:`barge.network.endpoints.Endpoints.container_view`),
given here as ``net``; without one (no network driver) only the modes show.
"""

from __future__ import annotations

import time
from typing import Any

from barge.containers.state import ZERO_TIME, status_string
from barge.containers.store import Container
from barge.execdriver import MASKED_PATHS, READONLY_PATHS


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
        "Bridge": "", "SandboxID": "",  # a container: joiner has no sandbox of its own (dockerd: "")
        "SandboxKey": f"/proc/{pid}/ns/net" if pid and mode != "host" and not mode.startswith("container:") else "",
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


#: Fields moby tags ``omitempty``: inspect leaves them out while they are empty (``Init``: while unset).
OMITTED_WHEN_EMPTY = {"HostConfig": ("Annotations", "Mounts", "Tmpfs", "Sysctls", "StorageOpt"),
                      "Config": ("ExposedPorts", "Healthcheck", "StopSignal", "StopTimeout", "Shell", "MacAddress")}


def _omit_empty(section: str, values: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in values.items() if not (k in OMITTED_WHEN_EMPTY[section] and v in (None, "", [], {}))}
    if section == "HostConfig" and out.get("Init", False) is None:
        del out["Init"]
    return out


def config_view(config: dict[str, Any]) -> dict[str, Any]:
    """A container's ``Config`` as inspect shows it (and as a commit records it in ``container_config``)."""
    return _omit_empty("Config", config)


def inspect(c: Container, *, paths: dict[str, str], graph_data: dict[str, str], runtime: str,
            size: tuple[int, int] | None = None, exec_ids: list[str] | None = None,
            net: dict[str, Any] | None = None, links: list[str] | None = None) -> dict[str, Any]:
    host = dict(c.host_config)
    for key, default in (("MaskedPaths", MASKED_PATHS), ("ReadonlyPaths", READONLY_PATHS)):
        if host.get(key) is None:  # dockerd records the defaults at create (none when privileged)
            host[key] = None if host.get("Privileged") else list(default)
    host["Links"] = links or None  # the links made (``/db:/web/db``), as dockerd shows them, not the request's
    host.setdefault("Runtime", runtime)
    if not host.get("Runtime"):
        host["Runtime"] = runtime
    if c.state.StartedAt == ZERO_TIME:  # dockerd 20.10 names the runtime once the container has run
        host.pop("Runtime")
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
        "HostConfig": _omit_empty("HostConfig", host),
        "GraphDriver": {"Data": graph_data or {}, "Name": c.graph_driver},
        "Mounts": mounts_view(c),
        "Config": config_view(c.config),
        "NetworkSettings": network_settings(c, net),
    }
    if size is not None:
        out["SizeRw"], out["SizeRootFs"] = size
    return out


def summary(c: Container, size: tuple[int, int] | None = None, now: float | None = None,
            net: dict[str, Any] | None = None, ports: list[dict[str, Any]] | None = None,
            links: list[str] | None = None) -> dict[str, Any]:
    """One row of ``GET /containers/json``; ``links``: the names of the links to it (``/web/db``),
    listed with its own in name order, as dockerd's name index gives them."""
    now = time.time() if now is None else now
    out: dict[str, Any] = {
        "Id": c.id,
        "Names": sorted([c.name, *(links or [])]),
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
    if size is not None:  # moby's summary leaves zero sizes out (``omitempty``), unlike inspect's
        out.update((k, v) for k, v in zip(("SizeRw", "SizeRootFs"), size) if v)
    return out
