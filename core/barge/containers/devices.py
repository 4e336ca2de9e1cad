"""``--device`` and ``--device-cgroup-rule``: host device nodes and cgroup rules for a container.

moby's ``WithDevices`` and ``oci.DevicesFromPath``: at each start a mapping's
host path is looked at again (a device may come and go between starts); a
symlink is followed once, as ``filepath.EvalSymlinks``; a device node (or a
FIFO) gives one node, a directory every node below it (``filepath.Walk``:
links inside are not followed), anything else is refused with dockerd's
"error gathering device information while adding custom device". The rules
are checked at create (:func:`check_devices`): a bad one is a 400 there,
where dockerd answers 500 at start.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from typing import Any

from barge.errors import InvalidParameter
from barge.execdriver import DeviceNode

#: moby's ``deviceCgroupRuleRegex``.
RULE_RE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")
_PERMISSIONS = re.compile(r"^[rwm]{1,3}$")


def check_devices(host: dict[str, Any]) -> None:
    """The create-time checks: rules in moby's format, permissions runc can write."""
    for rule in host.get("DeviceCgroupRules") or []:
        if not RULE_RE.match(rule or ""):
            raise InvalidParameter(f"invalid device cgroup rule format: '{rule or ''}'")
    for mapping in host.get("Devices") or []:
        mapping = mapping or {}
        on_host = mapping.get("PathOnHost") or ""
        in_container = mapping.get("PathInContainer") or on_host
        if not on_host:
            raise InvalidParameter("invalid device mapping: PathOnHost must not be empty")
        if "\x00" in on_host + in_container or posixpath.normpath("/" + in_container.lstrip("/")) == "/":
            raise InvalidParameter(f"invalid device mapping: {on_host!r} to {in_container!r}")
        if not _PERMISSIONS.match(mapping.get("CgroupPermissions") or ""):
            raise InvalidParameter(f"invalid device mode: {mapping.get('CgroupPermissions') or ''} "
                                   f"(for device {mapping['PathOnHost']}): use r, w and m")


def _go_error(err: OSError) -> str:
    text = os.strerror(err.errno) if err.errno else str(err)
    return text[:1].lower() + text[1:]


def _node(path: str, st: os.stat_result) -> DeviceNode | None:
    """runc's ``DeviceFromPath`` on an lstat: None when it is no device node."""
    kind = {stat.S_IFCHR: "c", stat.S_IFBLK: "b", stat.S_IFIFO: "p"}.get(stat.S_IFMT(st.st_mode))
    if kind is None:
        return None
    return DeviceNode(path=path, type=kind, major=os.major(st.st_rdev), minor=os.minor(st.st_rdev),
                      file_mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid)


def from_path(on_host: str, in_container: str) -> list[DeviceNode]:
    """moby's ``DevicesFromPath``: the nodes one mapping gives, at their container paths."""
    resolved = on_host
    try:
        if stat.S_ISLNK(os.lstat(on_host).st_mode):
            resolved = os.path.realpath(on_host, strict=True)
    except OSError:
        pass  # as EvalSymlinks failing: the path is looked at as it is
    try:
        node = _node(in_container, os.lstat(resolved))
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte (refused at create anyway)
        if isinstance(exc, ValueError):
            exc = OSError(22, os.strerror(22))
        raise InvalidParameter(f"error gathering device information while adding custom device "
                               f'"{on_host}": {_go_error(exc)}') from None
    if node is not None:
        return [node]
    found: list[DeviceNode] = []
    if os.path.isdir(resolved):
        for dirpath, dirnames, filenames in os.walk(resolved):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                try:
                    child = _node(path.replace(resolved, in_container, 1), os.lstat(path))
                except OSError:
                    continue
                if child is not None:
                    found.append(child)
    if not found:
        raise InvalidParameter(f"error gathering device information while adding custom device "
                               f'"{on_host}": not a device node')
    return found


def rule_of(node: DeviceNode, permissions: str) -> str | None:
    """The cgroup rule that lets the container use ``node`` (none for a FIFO)."""
    if node.type == "p":
        return None
    return f"{node.type} {node.major}:{node.minor} {permissions}"


def gather(host: dict[str, Any]) -> tuple[list[DeviceNode], list[str]]:
    """The nodes and cgroup rules of a HostConfig's ``Devices`` and ``DeviceCgroupRules``, read now.

    A privileged container has every host device already (the driver makes them): a mapping
    onto the same path adds nothing, and no rule is needed (moby's privileged branch)."""
    privileged = bool(host.get("Privileged"))
    nodes: list[DeviceNode] = []
    rules: list[str] = []
    for mapping in host.get("Devices") or []:
        mapping = mapping or {}
        on_host = mapping["PathOnHost"]
        in_container = mapping.get("PathInContainer") or on_host
        in_container = posixpath.normpath("/" + in_container.lstrip("/"))
        if privileged and on_host == in_container:
            continue
        for node in from_path(on_host, in_container):
            nodes.append(node)
            rule = rule_of(node, mapping.get("CgroupPermissions") or "rwm")
            if rule and not privileged:
                rules.append(rule)
    if not privileged:
        rules += list(host.get("DeviceCgroupRules") or [])
    return nodes, rules
