"""Whiteout formats: how deletions in a layer tar become files on disk.

Layer tars mark a deleted ``name`` with an empty ``.wh.<name>`` and a
directory whose lower contents are hidden with ``.wh..wh..opq`` inside it.
A full-copy driver (vfs, naive diff) applies them by deleting
(:class:`DeleteWhiteouts`); overlayfs keeps them as 0:0 character devices
and a ``trusted.overlay.opaque=y`` xattr (:class:`OverlayWhiteouts`).
"""

from __future__ import annotations

import os
import shutil
import stat
from typing import Protocol

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"


class WhiteoutFormat(Protocol):
    """Called by :func:`barge.archive.apply_layer` instead of writing a whiteout file."""

    def whiteout(self, parent_fd: int, name: str) -> None:
        """Mark ``name`` in the directory ``parent_fd`` (an O_PATH fd) deleted."""

    def opaque(self, dir_fd: int, rel_dir: str, written: set[str]) -> None:
        """Hide what lower layers have in ``rel_dir``; ``written`` holds the
        relative paths this layer has written so far."""


def remove_entry(parent_fd: int, name: str) -> bool:
    """Remove ``name`` (any type, recursively for dirs) without following links.

    Returns whether a directory or symlink went away (path caches must drop).
    """
    try:
        st = os.lstat(name, dir_fd=parent_fd)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        with _dirfd(parent_fd) as real:
            shutil.rmtree(name, dir_fd=real)
        return True
    os.unlink(name, dir_fd=parent_fd)
    return stat.S_ISLNK(st.st_mode)


class _dirfd:
    """O_PATH fds cannot be listed; rmtree needs a real directory fd."""

    def __init__(self, path_fd: int):
        self.fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=path_fd)

    def __enter__(self) -> int:
        return self.fd

    def __exit__(self, *exc) -> None:
        os.close(self.fd)


class DeleteWhiteouts:
    """Apply deletions to a full copy of the parent's tree."""

    name = "delete"

    def whiteout(self, parent_fd: int, name: str) -> None:
        remove_entry(parent_fd, name)

    def opaque(self, dir_fd: int, rel_dir: str, written: set[str]) -> None:
        prefix = f"{rel_dir}/" if rel_dir else ""
        with _dirfd(dir_fd) as real:
            self._prune(real, prefix, written)

    def _prune(self, dfd: int, prefix: str, written: set[str]) -> None:
        for entry in os.listdir(dfd):
            rel = prefix + entry
            below = rel + "/"
            has_written_below = any(w.startswith(below) for w in written)
            if rel in written or has_written_below:
                if has_written_below or _is_real_dir(dfd, entry):
                    if _is_real_dir(dfd, entry):
                        sub = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
                        try:
                            self._prune(sub, below, written)
                        finally:
                            os.close(sub)
                continue
            if _is_real_dir(dfd, entry):
                shutil.rmtree(entry, dir_fd=dfd)
            else:
                os.unlink(entry, dir_fd=dfd)


def _is_real_dir(dfd: int, name: str) -> bool:
    return stat.S_ISDIR(os.lstat(name, dir_fd=dfd).st_mode)


class OverlayWhiteouts:
    """Write whiteouts the way overlayfs reads them from an upper/lower dir."""

    name = "overlay"

    def whiteout(self, parent_fd: int, name: str) -> None:
        remove_entry(parent_fd, name)
        os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=parent_fd)

    def opaque(self, dir_fd: int, rel_dir: str, written: set[str]) -> None:
        os.setxattr(f"/proc/self/fd/{dir_fd}", OPAQUE_XATTR, b"y")


FORMATS = {"delete": DeleteWhiteouts, "overlay": OverlayWhiteouts}


def whiteout_format(spec) -> WhiteoutFormat:
    if isinstance(spec, str):
        try:
            return FORMATS[spec]()
        except KeyError:
            raise ValueError(f"unknown whiteout format {spec!r} (known: {', '.join(FORMATS)})") from None
    return spec
