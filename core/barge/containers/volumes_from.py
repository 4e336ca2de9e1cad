"""``--volumes-from c[:ro|:rw]``: a container's mount points copied into a new one (moby's
``registerMountPoints`` step 2 and ``ParseVolumesFrom``).

Every mount point of the other container comes over with its source, driver
and propagation, read-only when it was or when ``:ro`` is asked; its mode
words do not (dockerd shows ``Mode: ""``) and the copy is never copied up.
The new container's own binds, mounts and tmpfs win at the same destination;
its anonymous volumes (image or ``-v /path``) give way, as dockerd skips a
volume whose destination is already mounted.
"""

from __future__ import annotations

from typing import Any, Callable

from barge.errors import InvalidParameter, NotFound

_VALID_MODES = {"ro", "rw", "z", "Z", "nocopy", "shared", "rshared", "slave", "rslave", "private", "rprivate"}
_PROPAGATION = {"shared", "rshared", "slave", "rslave", "private", "rprivate"}


def parse(spec: str) -> tuple[str, str]:
    """moby's ``ParseVolumesFrom``: ``(container, mode)``; propagation and copy modes refused."""
    if not spec:
        raise InvalidParameter("volumes-from specification cannot be an empty string")
    ref, sep, mode = spec.partition(":")
    if not sep:
        return ref, "rw"
    words = mode.split(",")
    rw_words = [w for w in words if w in ("ro", "rw")]
    if (not all(w in _VALID_MODES for w in words) or len(rw_words) > 1 or any(w in _PROPAGATION for w in words)
            or "nocopy" in words):
        raise InvalidParameter(f"invalid mode: {mode}")
    return ref, mode


def check(specs: list[str] | None) -> None:
    """The create-time check of every entry's form (the containers are looked up later)."""
    for spec in specs or []:
        parse(spec)


def merge(points: list[dict[str, Any]], specs: list[str] | None, get: Callable[[str], Any]) -> list[dict[str, Any]]:
    """``points`` (from :func:`barge.containers.request.mount_points`) with the other containers'
    mount points added; ``get`` looks a container up by name or id."""
    if not specs:
        return points
    own = {p["Destination"] for p in points if not p.get("Anonymous")}
    copied: dict[str, dict[str, Any]] = {}
    for spec in specs:
        ref, mode = parse(spec)
        if not ref:
            raise InvalidParameter(f'invalid name or ID supplied: "{ref}"')
        try:
            other = get(ref)
        except NotFound as exc:
            raise InvalidParameter(str(exc)) from None
        for point in other.mounts:
            if point["Type"] == "tmpfs" and point["Destination"] in (other.host_config.get("Tmpfs") or {}):
                continue  # --tmpfs is no mount point in dockerd: not copied
            copy = dict(point, RW=bool(point.get("RW", True)) and "ro" not in mode.split(","), Mode="",
                        CopyData=False)
            copied[copy["Destination"]] = copy
    kept = [p for p in points if not (p.get("Anonymous") and p["Destination"] in copied)]
    return kept + [p for dst, p in copied.items() if dst not in own]
