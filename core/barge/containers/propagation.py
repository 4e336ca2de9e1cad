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

from typing import Any, Iterable

from barge.errors import InvalidParameter
from barge.mount import mount_of

SHARED = ("shared", "rshared")
SLAVE = ("slave", "rslave")


def check(points: Iterable[dict[str, Any]]) -> None:
    """Refuse binds whose propagation the host's mounts cannot give (moby's messages)."""
    for p in points:
        wanted = p.get("Propagation") or ""
        if p.get("Type") != "bind" or wanted not in SHARED + SLAVE:
            continue
        holder = mount_of(p["Source"])
        kinds = holder.propagation()
        if wanted in SHARED and "shared" not in kinds:
            raise InvalidParameter(f"path {p['Source']} is mounted on {holder.point} but it is not a shared mount")
        if wanted in SLAVE and not kinds & {"shared", "master"}:
            raise InvalidParameter(f"path {p['Source']} is mounted on {holder.point} "
                                   "but it is not a shared or slave mount")


def root_propagation(points: Iterable[dict[str, Any]]) -> str:
    """The container root's propagation: ``rshared`` when a bind is shared, else ``rslave``."""
    shared = any(p.get("Type") == "bind" and p.get("Propagation") in SHARED for p in points)
    return "rshared" if shared else "rslave"
