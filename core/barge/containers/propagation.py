"""Bind mounts that ask for shared or slave propagation (``-v src:dst:rshared``).

Mounts made under a shared bind inside the container appear on the host
(and the other way round); under a slave bind only the host's reach the
container. Both need the host side to take part: the source must sit on a
shared mount (or, for slave, a shared or slave one) — on a host whose ``/``
is private, as here without systemd, the kernel would quietly make the
bind private. moby refuses that (``ensureShared``), and so does barge, at
create and again at start (mounts change). The container's root then
carries the propagation (moby's ``RootfsPropagation``): ``rshared`` when a
bind is shared, else ``rslave``, the default that keeps the container's
mounts from ever reaching the host.
"""

from __future__ import annotations

import os
from typing import Any, Iterable

from barge.errors import InvalidParameter

SHARED = ("shared", "rshared")
SLAVE = ("slave", "rslave")


def _mount_of(path: str) -> tuple[str, set[str]]:
    """(mount point, optional fields such as ``shared:12``) of the mount holding ``path``."""
    path = os.path.realpath(path)
    best, fields = "/", set()
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            left = line.partition(" - ")[0].split()
            point = left[4].encode().decode("unicode_escape")
            inside = path == point or path.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):  # later entries stack on earlier ones
                best, fields = point, {f.partition(":")[0] for f in left[6:]}
    return best, fields


def check(points: Iterable[dict[str, Any]]) -> None:
    """Refuse binds whose propagation the host's mounts cannot give (moby's messages)."""
    for p in points:
        wanted = p.get("Propagation") or ""
        if p.get("Type") != "bind" or wanted not in SHARED + SLAVE:
            continue
        point, fields = _mount_of(p["Source"])
        if wanted in SHARED and "shared" not in fields:
            raise InvalidParameter(f"path {p['Source']} is mounted on {point} but it is not a shared mount")
        if wanted in SLAVE and not fields & {"shared", "master"}:
            raise InvalidParameter(f"path {p['Source']} is mounted on {point} but it is not a shared or slave mount")


def root_propagation(points: Iterable[dict[str, Any]]) -> str:
    """The container root's propagation: ``rshared`` when a bind is shared, else ``rslave``."""
    shared = any(p.get("Type") == "bind" and p.get("Propagation") in SHARED for p in points)
    return "rshared" if shared else "rslave"
