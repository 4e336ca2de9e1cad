"""Tar entries for a tree walked through directory fds, never through a path string.

Each directory is opened with ``O_NOFOLLOW`` relative to its parent's fd, so
a tree that swaps a directory for a symlink while we walk it cannot send the
walk elsewhere: a container's files (``cp``, ``export``) and a volume's
first contents (copy-up) are read this way.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Any, Iterator

from barge.archive.pack import BLOCK, CHUNK, header, read_xattrs


class TarWalker:
    """Emits tar entries for a tree reached through directory fds (never a path string).

    Directories on a device in ``skip_devs`` (a running container's /proc,
    /sys, /dev...) are archived as empty directories: their contents are the
    kernel's, not the container's files, and reading some of them blocks.
    """

    def __init__(self, skip_devs: frozenset[int] = frozenset()) -> None:
        self.links: dict[tuple[int, int], str] = {}
        self.skip_devs = skip_devs

    def tree(self, parent_fd: int, base: str, arcname: str) -> Iterator[bytes]:
        try:
            st = os.stat(base, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return  # gone while we walk
        if stat.S_ISDIR(st.st_mode):
            try:
                dfd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                    return  # replaced while we walk: never followed
                raise
            try:
                st = os.fstat(dfd)
                if arcname:
                    yield header(arcname.rstrip("/") + "/", b"5", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                                 0, int(st.st_mtime), xattrs=read_xattrs(f"/proc/self/fd/{dfd}"))
                if st.st_dev in self.skip_devs:
                    return
                for name in sorted(os.listdir(dfd)):
                    yield from self.tree(dfd, name, f"{arcname.rstrip('/')}/{name}" if arcname else name)
            finally:
                os.close(dfd)
            return
        common: dict[str, Any] = dict(mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid, mtime=int(st.st_mtime))
        if stat.S_ISLNK(st.st_mode):
            try:
                target = os.readlink(base, dir_fd=parent_fd)
            except OSError:
                return
            yield header(arcname, b"2", linkname=target, **common)
        elif stat.S_ISREG(st.st_mode):
            yield from self._file(parent_fd, base, arcname, st, common)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            typ = b"3" if stat.S_ISCHR(st.st_mode) else b"4"
            yield header(arcname, typ, devmajor=os.major(st.st_rdev), devminor=os.minor(st.st_rdev), **common)
        elif stat.S_ISFIFO(st.st_mode):
            yield header(arcname, b"6", **common)
        # sockets are not archived, as in Docker

    def _file(self, parent_fd: int, base: str, arcname: str, st: os.stat_result, common: dict) -> Iterator[bytes]:
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1:
            first = self.links.get(key)
            if first is not None:
                yield header(arcname, b"1", linkname=first, **common)
                return
        try:
            fd = os.open(base, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent_fd)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ELOOP):
                return
            raise
        try:
            fst = os.fstat(fd)
            if not stat.S_ISREG(fst.st_mode):
                return  # swapped for something else meanwhile
            if st.st_nlink > 1:
                self.links[key] = arcname
            size = fst.st_size
            yield header(arcname, b"0", size=size, xattrs=read_xattrs(f"/proc/self/fd/{fd}"), **common)
            left = size
            while left:
                chunk = os.read(fd, min(CHUNK, left))
                if not chunk:  # shrank since fstat: keep the promised size
                    chunk = b"\0" * min(CHUNK, left)
                yield chunk
                left -= len(chunk)
            if size % BLOCK:
                yield b"\0" * (-size % BLOCK)
        finally:
            os.close(fd)
