"""The one mount helper in core: mount(2)/umount2(2) with named errors.

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
import ctypes
import errno
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from barge.errors import BargeError

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 0x2
UMOUNT_NOFOLLOW = 0x8

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

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


class MountError(BargeError):
    """mount(2) or umount2(2) failed; carries ``errno`` and the target path."""

    def __init__(self, op: str, target: str, err: int, detail: str = ""):
        extra = f" ({detail})" if detail else ""
        super().__init__(f"{op} {target}: {os.strerror(err)}{extra}")
        self.errno = err
        self.target = target


class NotMounted(MountError):
    """umount2 said EINVAL: nothing is mounted there."""


class MountPermissionDenied(MountError):
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


def _enc(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    """mount(2), raising :class:`MountError` (or a subclass) with the errno."""
    if data is not None and len(os.fsencode(data)) > MAX_DATA:
        raise MountError("mount", target, errno.E2BIG, f"mount data is {len(data)} bytes, the kernel takes {MAX_DATA}")
    if _libc.mount(_enc(source), _enc(target), _enc(fstype), flags, _enc(data)) != 0:
        err = ctypes.get_errno()
        cls = MountPermissionDenied if err == errno.EPERM else MountError
        raise cls("mount", target, err, f"type {fstype or 'bind'}, source {source}")


def unmount(target, detach: bool = False) -> bool:
    """Unmount ``target``; return False when nothing was mounted there (idempotent)."""
    target = os.fspath(target)
    flags = UMOUNT_NOFOLLOW | (MNT_DETACH if detach else 0)
    if _libc.umount2(_enc(target), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOENT):
        return False
    cls = MountPermissionDenied if err == errno.EPERM else MountError
    raise cls("umount", target, err)


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

    target = tempfile.mkdtemp(prefix="barge-mnt-", dir=tmp_dir)
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
