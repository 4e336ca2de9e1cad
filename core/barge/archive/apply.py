"""Unpack an untrusted layer tar into a directory (moby's ``UnpackLayer``).

Every entry is created through a directory fd of its parent, opened with
:func:`barge.archive.resolve.open_in_root`, so no symlink inside the target
can carry a write outside it; the final component is never followed.
"""

from __future__ import annotations

import errno
import logging
import os
import posixpath
import stat
from typing import BinaryIO

from barge.archive import reader as tr
from barge.archive.errors import ArchiveError
from barge.archive.resolve import O_PATH, open_in_root
from barge.archive.whiteouts import (
    WHITEOUT_META_PREFIX,
    WHITEOUT_OPAQUE,
    WHITEOUT_PREFIX,
    remove_entry,
    whiteout_format,
)
from barge.errors import NoSpace, is_no_space, no_space_text

log = logging.getLogger(__name__)

_CACHE_MAX = 1024
_IGNORED_XATTR_ERRORS = (errno.ENOTSUP, errno.EPERM, errno.EACCES)


def clean_name(name: str) -> str:
    """Docker's ``filepath.Join(dest, filepath.Clean(name))`` made relative:
    ``""`` is the root; a name climbing out with ``..`` is an error."""
    cleaned = posixpath.normpath("/" + name) if name.startswith("/") else posixpath.normpath(name)
    if cleaned == ".." or cleaned.startswith("../"):
        raise ArchiveError(f"invalid tar entry: {name!r} escapes the target")
    cleaned = cleaned.lstrip("/")
    return "" if cleaned == "." else cleaned


class _Unpacker:
    def __init__(self, target: str, whiteouts, chown: bool = True):
        self.root_fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.whiteouts = whiteout_format(whiteouts)
        self.cache: dict[str, int] = {}
        self.written: set[str] = set()
        self.dirs: list[tuple[str, tr.Header]] = []
        self.root = os.geteuid() == 0
        #: Give entries the tar's owners (layers); a copy to the user's disk keeps the user's (docker cp).
        self.chown = chown and self.root
        self.size = 0

    def close(self) -> None:
        self._drop_cache()
        os.close(self.root_fd)

    def _drop_cache(self) -> None:
        for fd in self.cache.values():
            os.close(fd)
        self.cache.clear()

    def parent(self, rel_dir: str, _depth: int = 0) -> int:
        """O_PATH fd of directory ``rel_dir`` inside the target, created 0755 if missing."""
        fd = self.cache.get(rel_dir)
        if fd is not None:
            return fd
        try:
            fd = open_in_root(self.root_fd, rel_dir)
        except FileNotFoundError:
            if _depth > 40:
                raise ArchiveError(f"invalid tar entry: too many levels of symbolic links in {rel_dir!r}") from None
            up, _, base = rel_dir.rpartition("/")
            upfd = self.parent(up, _depth)
            try:
                os.mkdir(base, 0o755, dir_fd=upfd)
            except FileExistsError:
                # a dangling symlink: create where it points, confined to the root (as a chroot would)
                link = os.readlink(base, dir_fd=upfd)
                dest = posixpath.normpath("/" + (link if link.startswith("/") else posixpath.join(up, link)))
                self.parent(dest.lstrip("/"), _depth + 1)
                return self.parent(rel_dir, _depth + 1)
            return self.parent(rel_dir, _depth)
        except NotADirectoryError:
            raise ArchiveError(f"invalid tar entry: parent {rel_dir!r} is not a directory") from None
        self.cache[rel_dir] = fd
        return fd

    def _replace(self, pfd: int, base: str, keep_dir: bool) -> bool:
        """Remove what is at ``base`` unless a dir is merged into a dir;
        return whether the path cache was dropped (``pfd`` is then closed)."""
        try:
            st = os.lstat(base, dir_fd=pfd)
        except FileNotFoundError:
            return False
        if keep_dir and stat.S_ISDIR(st.st_mode):
            return False
        if remove_entry(pfd, base):
            self._drop_cache()
            return True
        return False

    def entry(self, r: tr.TarReader, h: tr.Header) -> None:
        if len(self.cache) >= _CACHE_MAX:
            self._drop_cache()  # only here: fds handed out below stay open for this entry
        rel = clean_name(h.name)
        up, _, base = rel.rpartition("/")
        if self.whiteouts is not None and base.startswith(WHITEOUT_PREFIX):
            r.skip_data()
            self._whiteout(up, base)
            return
        if self.whiteouts is not None and rel.startswith(WHITEOUT_META_PREFIX):
            r.skip_data()  # aufs metadata (.wh..wh.plnk etc.) is never unpacked
            return
        if rel == "":
            if h.type != tr.DIRTYPE:
                raise ArchiveError(f"invalid tar entry: {h.name!r} would replace the target root")
            self.dirs.append(("", h))
            return
        pfd = self.parent(up)
        typ = h.type
        if self._replace(pfd, base, keep_dir=typ == tr.DIRTYPE):
            pfd = self.parent(up)
        if typ == b"0":
            self._file(r, pfd, base, h)
            self.size += h.size
        elif typ == tr.DIRTYPE:
            try:
                os.mkdir(base, 0o700, dir_fd=pfd)
            except FileExistsError:
                pass
            self._owner(pfd, base, h)
            self.dirs.append((rel, h))
        elif typ == tr.SYMTYPE:
            os.symlink(h.linkname, base, dir_fd=pfd)
            self._finish(pfd, base, h, chmod=False)
        elif typ == tr.LNKTYPE:
            self._hardlink(pfd, base, h)
        elif typ in (tr.CHRTYPE, tr.BLKTYPE, tr.FIFOTYPE):
            kind = _NODE_TYPES[typ]
            try:
                os.mknod(base, kind | (h.mode & 0o7777), os.makedev(h.devmajor, h.devminor), dir_fd=pfd)
            except PermissionError:
                if self.root:
                    raise
                log.warning("skipping device %s: creating devices needs root", rel)
                return
            self._finish(pfd, base, h)
        else:
            raise ArchiveError(f"invalid tar entry: {h.name!r} has unhandled type {typ!r}")
        self.written.add(rel)

    def _whiteout(self, up: str, base: str) -> None:
        if base == WHITEOUT_OPAQUE:
            self.whiteouts.opaque(self.parent(up), up, self.written)
            self._drop_cache()
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return
        name = base[len(WHITEOUT_PREFIX) :]
        if name in ("", ".", ".."):
            raise ArchiveError(f"invalid tar entry: bad whiteout {base!r}")
        self.whiteouts.whiteout(self.parent(up), name)
        self._drop_cache()

    def _file(self, r: tr.TarReader, pfd: int, base: str, h: tr.Header) -> None:
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=pfd)
        try:
            if h.size:
                r.copy_to(fd, h.size)
            if self.chown:
                os.fchown(fd, h.uid, h.gid)
            os.fchmod(fd, h.mode)
            self._xattrs(fd, h)
            os.utime(fd, ns=_times(h))
        finally:
            os.close(fd)

    def _owner(self, pfd: int, base: str, h: tr.Header) -> None:
        if self.chown:
            os.chown(base, h.uid, h.gid, dir_fd=pfd, follow_symlinks=False)

    def _finish(self, pfd: int, base: str, h: tr.Header, chmod: bool = True) -> None:
        self._owner(pfd, base, h)
        if chmod:
            _chmod_node(pfd, base, h)
        if h.xattrs:
            self._xattrs(f"/proc/self/fd/{pfd}/{base}", h, follow=False)
        os.utime(base, ns=_times(h), dir_fd=pfd, follow_symlinks=False)

    def _hardlink(self, pfd: int, base: str, h: tr.Header) -> None:
        target = clean_name(h.linkname)
        if target == "":
            raise ArchiveError(f"invalid tar entry: hard link {h.name!r} to the target root")
        tup, _, tbase = target.rpartition("/")
        try:
            tfd = self.parent(tup)
            os.link(tbase, base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        except ArchiveError:
            raise
        except OSError as exc:
            raise ArchiveError(f"invalid tar entry: hard link {h.name!r} -> {h.linkname!r}: {exc.strerror}") from None

    def _xattrs(self, where, h: tr.Header, follow: bool = True) -> None:
        for key, value in h.xattrs.items():
            try:
                os.setxattr(where, key, value, follow_symlinks=follow)
            except OSError as exc:
                if exc.errno not in _IGNORED_XATTR_ERRORS:
                    raise
                log.debug("xattr %s not kept on %s: %s", key, h.name, exc.strerror)

    def finish_dirs(self) -> None:
        """Mode, xattrs and times of directories last, deepest first, so that
        writing their children neither fails nor bumps their mtime."""
        for rel, h in reversed(self.dirs):
            try:
                fd = open_in_root(self.root_fd, rel) if rel else os.dup(self.root_fd)
            except FileNotFoundError:
                continue  # removed by a later whiteout in the same layer
            proc = f"/proc/self/fd/{fd}"
            try:
                if rel == "" and self.chown:
                    os.chown(proc, h.uid, h.gid)
                os.chmod(proc, h.mode)
                if h.xattrs:
                    self._xattrs(proc, h)
                os.utime(proc, ns=_times(h))
            finally:
                os.close(fd)


_NODE_TYPES = {tr.CHRTYPE: stat.S_IFCHR, tr.BLKTYPE: stat.S_IFBLK, tr.FIFOTYPE: stat.S_IFIFO}


def _chmod_node(pfd: int, base: str, h: tr.Header) -> None:
    """chmod of the FIFO or device just made, through an fd of it, never by its name.

    chmod(2) follows symlinks (and Linux has no lchmod): if the target is a
    running container that swapped the node for a symlink to a host path
    since mknod, a chmod by name would change that host file's mode
    (the CVE-2018-15664 class). The fd is of the entry itself; if it is no
    longer the node we made, the unpack stops.
    """
    fd = os.open(base, O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
    try:
        if stat.S_IFMT(os.fstat(fd).st_mode) != _NODE_TYPES[h.type]:
            raise ArchiveError(f"invalid tar entry: {h.name!r} was replaced while it was unpacked")
        os.chmod(f"/proc/self/fd/{fd}", h.mode)
    finally:
        os.close(fd)


def _times(h: tr.Header) -> tuple[int, int]:
    mtime = int(h.mtime * 1e9)
    atime = int(h.atime * 1e9) if h.atime is not None else mtime
    return (atime, mtime)


def apply_layer(stream: BinaryIO, target_dir, whiteouts="delete", chown: bool = True, observe=None,
                select=None) -> int:
    """Unpack the uncompressed layer tar read from ``stream`` into ``target_dir``.

    ``whiteouts`` is ``"delete"``, ``"overlay"``, an object with the
    :class:`barge.archive.whiteouts.WhiteoutFormat` methods, or ``None`` for
    a plain tar (``cp``), where ``.wh.`` names are ordinary files. With
    ``chown`` false, entries keep the caller's owner (docker cp's copy-out). ``observe(header)``
    sees every entry before it is unpacked; with ``select(header)``, only the entries it accepts are
    unpacked (the builder's context, a source at a time). Returns the sum
    of the regular files' sizes, as moby's ApplyDiff does. Raises
    :class:`ArchiveError` for a malformed, truncated or escaping tar, and
    :class:`barge.errors.NoSpace` when the disk is full; what was written so
    far stays, for the caller to remove with the layer.
    """
    u = _Unpacker(os.fspath(target_dir), whiteouts, chown)
    try:
        reader = tr.TarReader(stream)
        for header in reader:
            if observe is not None:
                observe(header)
            if select is not None and not select(header):
                reader.skip_data()
                continue
            try:
                u.entry(reader, header)
            except ArchiveError:
                raise
            except OSError as exc:
                if is_no_space(exc):  # the disk, not the tar: a 500 naming the file, as moby's "write /big: ..."
                    name = "/" + header.name.lstrip("/")
                    raise NoSpace(f"write {name}: {no_space_text(exc.errno)}") from exc
                raise ArchiveError(f"cannot unpack {header.name!r}: {exc.strerror or exc}") from exc
        u.finish_dirs()
        return u.size
    finally:
        u.close()
