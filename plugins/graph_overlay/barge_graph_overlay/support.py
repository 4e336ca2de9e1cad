"""Can overlayfs work here? Checks that name the precise reason when not."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from barge import libc
from barge.graphdriver import Mount
from barge.mount import MountError, mount_all, unmount

#: statfs f_type magic numbers -> Docker's "Backing Filesystem" names.
FS_NAMES = {
    0xEF53: "extfs", 0x58465342: "xfs", 0x9123683E: "btrfs", 0x01021994: "tmpfs",
    0x794C7630: "overlayfs", 0x2FC12FC1: "zfs", 0x6969: "nfs", 0xF2F52010: "f2fs",
    0x65735546: "fuse", 0x858458F6: "ramfs", 0x00011954: "ufs", 0xFF534D42: "cifs",
}
OVERLAYFS_MAGIC = 0x794C7630


def fs_magic(path) -> int:
    """statfs's f_type of ``path``; raises :class:`barge.libc.SyscallError` (an OSError)."""
    return libc.statfs_type(path)


def fs_name(path) -> str:
    magic = fs_magic(path)
    return FS_NAMES.get(magic, f"<unknown 0x{magic:x}>")


def supports_d_type(directory) -> bool:
    """Whether readdir reports file types here (xfs with ftype=0 does not;
    overlayfs needs it to find whiteouts)."""
    with tempfile.TemporaryDirectory(prefix=".dtype-", dir=directory) as probe:
        Path(probe, "f").write_bytes(b"")
        try:
            for name, kind in libc.dirent_types(probe):
                if name == b"f":
                    return kind != libc.DT_UNKNOWN
        except libc.SyscallError:
            pass
        return False


def overlay_in_kernel() -> bool:
    try:
        with open("/proc/filesystems") as fh:
            return any(line.split()[-1] == "overlay" for line in fh if line.strip())
    except OSError:
        return False


def index_off_supported() -> bool:
    return os.path.exists("/sys/module/overlay/parameters/index")


def probe_mount(home: Path) -> str | None:
    """Mount a tiny overlay under ``home``, write through it, unmount.

    Returns None when that works, else the reason.
    """
    tmp = Path(tempfile.mkdtemp(prefix=".probe-", dir=home))
    try:
        for d in ("lower1", "lower2", "upper", "work", "merged"):
            (tmp / d).mkdir()
        (tmp / "lower2" / "f").write_bytes(b"lower")
        opts = [f"lowerdir={tmp}/lower1:{tmp}/lower2", f"upperdir={tmp}/upper", f"workdir={tmp}/work"]
        if index_off_supported():
            opts.append("index=off")
        try:
            mount_all([Mount("overlay", "overlay", tuple(opts))], tmp / "merged")
        except MountError as exc:
            return f"probe mount failed: {exc}"
        try:
            (tmp / "merged" / "f").write_bytes(b"upper")
            os.unlink(tmp / "merged" / "f")
            (tmp / "merged" / "g").write_bytes(b"new")
        except OSError as exc:
            return f"writing through a probe overlay mount failed: {exc.strerror}"
        finally:
            unmount(tmp / "merged", detach=True)
        upper = tmp / "upper"
        if not (upper / "g").is_file() or not os.path.lexists(upper / "f"):
            return "probe overlay mount did not record changes in its upper dir"
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


#: Free bytes the probes below need at least (a few directories and small files).
PROBE_ROOM = 1 << 20


def no_room(home: Path) -> bool:
    st = os.statvfs(home)
    return st.f_bavail * st.f_frsize < PROBE_ROOM


def check_support(home: Path, checked_before: bool = False) -> None:
    """Raise DriverNotSupported("overlay", reason) unless overlay can work in ``home``.

    The d_type and mount probes write in ``home``; on a full file system that
    ``checked_before`` (an earlier start passed them here) they are skipped,
    so that the daemon still starts.
    """
    from barge.errors import DriverNotSupported

    def no(reason: str):
        raise DriverNotSupported("overlay", reason)

    if os.geteuid() != 0:
        no("needs root (mounting overlayfs needs CAP_SYS_ADMIN)")
    if not overlay_in_kernel():
        no("the kernel has no overlay file system ('overlay' is not in /proc/filesystems; try modprobe overlay)")
    magic = fs_magic(home)
    if magic == OVERLAYFS_MAGIC:
        no(f"upper dir is on overlayfs ({home}); put the data root on another file system")
    if no_room(home):
        if checked_before:
            return
        no(f"cannot probe {home}: no space left on device")
    if not supports_d_type(home):
        no(f"{fs_name(home)} at {home} does not support d_type (xfs needs ftype=1)")
    reason = probe_mount(home)
    if reason:
        no(reason)
