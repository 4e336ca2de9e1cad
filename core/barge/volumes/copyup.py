"""Docker's copy-up: an empty volume gets the image's files at its mount point.

At a container's start, each volume mount point (unless ``nocopy``) whose
volume directory is empty is filled with what the container's root file
system has at the destination, ownership and mode of that directory
included. The root file system is mounted once (only when some volume is
empty) and read through directory fds; the copy goes through the same
tar writer and safe unpacker as everything else.
"""

from __future__ import annotations

import contextlib
import os
import stat
from typing import Any

from barge.archive import apply_layer
from barge.archive.pack import BLOCK
from barge.archive.resolve import O_PATH, open_in_root
from barge.archive.stream import IterReader
from barge.archive.walk import TarWalker


def _empty(path: str) -> bool:
    try:
        with os.scandir(path) as it:
            return next(it, None) is None
    except FileNotFoundError:
        return True


def copy_up(root: str, destination: str, volume_dir: str) -> bool:
    """Copy ``destination`` (inside ``root``) into ``volume_dir``; False when there is no such directory."""
    root_fd = os.open(root, O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            src = open_in_root(root_fd, destination.lstrip("/"))
        except (FileNotFoundError, NotADirectoryError):
            return False
        try:
            def entries():
                yield from TarWalker().tree(src, ".", "")
                yield b"\0" * (2 * BLOCK)

            apply_layer(IterReader(entries()), volume_dir, whiteouts=None)  # a copy, not a layer: .wh. names are files
            st = os.stat(f"/proc/self/fd/{src}")
            os.chown(volume_dir, st.st_uid, st.st_gid)
            os.chmod(volume_dir, stat.S_IMODE(st.st_mode))
        finally:
            os.close(src)
        return True
    finally:
        os.close(root_fd)


def prepare_volumes(store, points: list[dict[str, Any]], rootfs_mounts, tmp_dir: str,
                    container_id: str = "") -> None:
    """Before a start: every volume of the container exists and is mounted by its driver (its
    ``Source`` set to where), and empty ones are copied up."""
    from barge.mount import mounted

    todo = []
    for p in points:
        if p.get("Type") != "volume" or not p.get("Name"):
            continue
        store.ensure(p["Name"], anonymous=bool(p.get("Anonymous")), driver=p.get("Driver") or "",
                     options=p.get("DriverOpts"))
        p["Source"] = store.mount(container_id, p)  # a plugin's volume: where its driver mounted it
        store.mounted(container_id, p)
        if "nocopy" in (p.get("Mode") or "").split(",") or p.get("CopyData") is False:  # False: --volumes-from's
            continue
        if _empty(p["Source"]):
            todo.append(p)
    if not todo:
        return
    os.makedirs(tmp_dir, exist_ok=True)
    with contextlib.ExitStack() as stack:
        root = str(stack.enter_context(mounted(rootfs_mounts, tmp_dir=tmp_dir)))
        for p in todo:
            copy_up(root, p["Destination"], p["Source"])
