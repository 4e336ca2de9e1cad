"""The one mount helper in core: mount(2)/umount2(2) (through :mod:`barge.libc`) with named errors.

Graph drivers only *describe* mounts (:class:`barge.graphdriver.Mount`); the
few core callers that need a layer's files (cp, commit, export, the naive
diff) perform them here. :func:`mounted` avoids mounting at all when a
description is a single bind mount, so vfs works without root.
:func:`mountinfo` and :func:`mount_of` are the one reader of the kernel's
mount table (propagation checks, cgroup mount points, cp's pseudo devices;
the exec driver's init uses them too).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from barge import libc
from barge.libc import (
    MNT_DETACH,
    MS_BIND,
    MS_NOATIME,
    MS_NODEV,
    MS_NODIRATIME,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_REMOUNT,
    MS_SHARED,
    MS_SLAVE,
    MS_STRICTATIME,
    MS_SYNCHRONOUS,
    UMOUNT_NOFOLLOW,
    SyscallError,
)

#: mount(8) words that are flags (set, clear), the rest goes to the file system as data.
#: The exec driver's rootfs parses its mounts with these too.
_FLAGS = {
    "ro": (MS_RDONLY, 0), "rw": (0, MS_RDONLY),
    "nosuid": (MS_NOSUID, 0), "suid": (0, MS_NOSUID),
    "nodev": (MS_NODEV, 0), "dev": (0, MS_NODEV),
    "noexec": (MS_NOEXEC, 0), "exec": (0, MS_NOEXEC),
    "sync": (MS_SYNCHRONOUS, 0), "async": (0, MS_SYNCHRONOUS),
    "noatime": (MS_NOATIME, 0), "nodiratime": (MS_NODIRATIME, 0), "relatime": (MS_RELATIME, 0),
    "strictatime": (MS_STRICTATIME, 0),
    "bind": (MS_BIND, 0), "rbind": (MS_BIND | MS_REC, 0),
}
_PROPAGATION = {"private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC, "slave": MS_SLAVE,
                "rslave": MS_SLAVE | MS_REC, "shared": MS_SHARED, "rshared": MS_SHARED | MS_REC}
#: Page size: the kernel truncates mount data beyond it.
MAX_DATA = os.sysconf("SC_PAGE_SIZE") - 1


class MountError(SyscallError):
    """mount(2) or umount2(2) failed; carries ``errno`` and the target path.

    Its message puts the target first: ``mount <target>: <strerror> (<detail>)``.
    """

    def __init__(self, op: str, target: str, err: int, detail: str = ""):
        super().__init__(op, err, detail, target)
        self.target = target

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.call} {self.target}: {self.strerror}{extra}"


class NotMounted(MountError, libc.InvalidArgument):
    """umount2 said EINVAL: nothing is mounted there."""


class MountPermissionDenied(MountError, libc.PermissionDenied):
    """EPERM: mounting needs CAP_SYS_ADMIN."""


@dataclass(frozen=True)
class MountInfo:
    """One line of ``/proc/<pid>/mountinfo``: where, what, and how it propagates."""

    point: str
    device: str  # "major:minor"
    fstype: str
    super_options: tuple[str, ...]
    #: optional fields: "shared:N", "master:N", "propagate_from:N", "unbindable"
    tags: frozenset[str]

    def propagation(self) -> frozenset[str]:
        """``shared``, ``master`` (a slave), both, or neither (private)."""
        return frozenset(t.partition(":")[0] for t in self.tags)


_OCTAL = re.compile(r"\\([0-7]{3})")


def mountinfo(pid: int | str = "self") -> list[MountInfo]:
    """The mount table of ``pid``'s mount namespace, in the kernel's order (later entries stack on earlier)."""
    out = []
    with open(f"/proc/{pid}/mountinfo") as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            fields, rest = left.split(), right.split()
            if len(fields) < 6 or not rest:
                continue
            point = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), fields[4])
            opts = tuple(rest[2].split(",")) if len(rest) > 2 else ()
            out.append(MountInfo(point, fields[2], rest[0], opts, frozenset(fields[6:])))
    return out


def mount_of(path: str, table: list[MountInfo] | None = None) -> MountInfo:
    """The mount that holds ``path`` (symlinks resolved): the deepest point above it, the last listed if stacked."""
    path = os.path.realpath(path)
    best = None
    for m in mountinfo() if table is None else table:
        if (path == m.point or path.startswith(m.point.rstrip("/") + "/")) and (
                best is None or len(m.point) >= len(best.point)):
            best = m
    if best is None:
        raise FileNotFoundError(f"no mount holds {path}")
    return best


def _mount_error(op: str, target: str, err: int, detail: str = "") -> MountError:
    return (MountPermissionDenied if err == errno.EPERM else MountError)(op, target, err, detail)


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    """mount(2), raising :class:`MountError` (or a subclass) with the errno."""
    if data is not None and len(os.fsencode(data)) > MAX_DATA:
        raise MountError("mount", target, errno.E2BIG, f"mount data is {len(data)} bytes, the kernel takes {MAX_DATA}")
    try:
        libc.mount(source, target, fstype, flags, data)
    except SyscallError as exc:
        raise _mount_error("mount", target, exc.errno, f"type {fstype or 'bind'}, source {source}") from None


def unmount(target, detach: bool = False) -> bool:
    """Unmount ``target``; return False when nothing was mounted there (idempotent)."""
    target = os.fspath(target)
    try:
        libc.umount2(target, UMOUNT_NOFOLLOW | (MNT_DETACH if detach else 0))
    except SyscallError as exc:
        if exc.errno in (errno.EINVAL, errno.ENOENT):
            return False
        raise _mount_error("umount", target, exc.errno) from None
    return True


def unmount_strict(target) -> None:
    """Unmount ``target``; raise :class:`NotMounted` when nothing is mounted there."""
    if not unmount(target):
        raise NotMounted("umount", os.fspath(target), errno.EINVAL)


def parse_options(options: Iterable[str]) -> tuple[int, int, str]:
    """Split mount(8) words into (flags, propagation flags, data string)."""
    flags = prop = 0
    data = []
    for opt in options:
        if opt in _FLAGS:
            set_, clear = _FLAGS[opt]
            flags = (flags | set_) & ~clear
        elif opt in _PROPAGATION:
            prop |= _PROPAGATION[opt]
        else:
            data.append(opt)
    return flags, prop, ",".join(data)


def mount_one(m, target) -> None:
    """Perform one :class:`barge.graphdriver.Mount` onto ``target``."""
    target = os.fspath(target)
    flags, prop, data = parse_options(m.options)
    if m.type == "bind" or flags & MS_BIND:
        mount(m.source, target, None, flags & (MS_BIND | MS_REC) | MS_BIND, None)
        extra = flags & ~(MS_BIND | MS_REC)
        if extra:  # bind mounts ignore ro and friends until remounted
            try:
                mount(None, target, None, MS_REMOUNT | MS_BIND | extra, None)
            except MountError:
                unmount(target, detach=True)
                raise
    else:
        mount(m.source, target, m.type, flags, data or None)
    if prop:
        mount(None, target, None, prop, None)


def mount_all(mounts, target) -> None:
    """Perform mount descriptions in order onto ``target``; undo them all on failure."""
    done = 0
    try:
        for m in mounts:
            mount_one(m, target)
            done += 1
    except BaseException:
        for _ in range(done):
            unmount(target, detach=True)
        raise


def _single_bind(mounts) -> str | None:
    if len(mounts) == 1 and mounts[0].type == "bind":
        return mounts[0].source
    return None


#: the temporary views :func:`mounted` holds open in this process: ``system check`` tells a view a job
#: is using from one a killed daemon left behind (:func:`leftover_views`)
ACTIVE_VIEWS: set[str] = set()
VIEW_PREFIX = "barge-mnt-"


def leftover_views(roots, table: list[MountInfo] | None = None) -> list[str]:
    """Temporary views under ``roots`` that no :func:`mounted` of this process holds: a killed daemon's."""
    prefixes = tuple(str(r).rstrip("/") + "/" for r in roots)
    views = set()
    for m in table if table is not None else mountinfo():
        if not m.point.startswith(prefixes):
            continue
        parts = m.point.split("/")
        for i, part in enumerate(parts):
            if part.startswith(VIEW_PREFIX):
                views.add("/".join(parts[: i + 1]))
                break
    return sorted(v for v in views if v not in ACTIVE_VIEWS)


def release_view(view: str) -> None:
    """Unmount everything under a leftover view (deepest first, detached) and remove its directory."""
    points = sorted((m.point for m in mountinfo() if m.point == view or m.point.startswith(view + "/")),
                    key=len, reverse=True)
    for point in points:
        unmount(point, detach=True)
    try:
        os.rmdir(view)
    except OSError:
        pass


@contextlib.contextmanager
def mounted(mounts, tmp_dir=None) -> Iterator[Path]:
    """Yield a directory showing the files the mount descriptions describe.

    A single bind mount yields its source itself (no mount, no root needed).
    Otherwise the mounts go onto a fresh temporary directory (in ``tmp_dir``)
    that is unmounted and removed on exit, also on error.
    """
    mounts = list(mounts)
    source = _single_bind(mounts)
    if source is not None:
        yield Path(source)
        return
    if not mounts:
        raise ValueError("no mounts to perform")
    import tempfile  # here: the exec driver's container init imports this module

    target = tempfile.mkdtemp(prefix=VIEW_PREFIX, dir=tmp_dir)
    ACTIVE_VIEWS.add(target)
    try:
        mount_all(mounts, target)
        try:
            yield Path(target)
        finally:
            for _ in mounts:
                if not unmount(target):
                    break
    finally:
        try:
            os.rmdir(target)
        except OSError:
            # still busy: detach so the directory can go; never delete through a mount
            unmount(target, detach=True)
            with contextlib.suppress(OSError):
                os.rmdir(target)
        ACTIVE_VIEWS.discard(target)
