"""Produce layer tars from directories, as bytes chunks.

PAX format, entries in sorted order, times truncated to seconds and no user
or group names, so the same tree always gives the same tar. Overlay upper
dirs are converted on the way: a 0:0 character device becomes a
``.wh.<name>`` and an opaque directory gets a ``.wh..wh..opq`` entry.
"""

from __future__ import annotations

import os
import stat
from typing import Iterable, Iterator

from barge.archive.change import Change, ChangeKind
from barge.archive.whiteouts import OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX

BLOCK = 512
CHUNK = 1 << 20
_SKIP_XATTRS = ("trusted.overlay.", "security.selinux")


def _octal(n: int, width: int) -> bytes | None:
    s = b"%o" % n
    return s.rjust(width - 1, b"0") + b"\0" if len(s) < width and n >= 0 else None


def _pax_record(key: str, value: bytes) -> bytes:
    body = b" " + key.encode("utf-8", "surrogateescape") + b"=" + value + b"\n"
    n = len(body) + 1
    while len(str(n)) + len(body) != n:
        n = len(str(n)) + len(body)
    return str(n).encode() + body


def header(name: str, typ: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0, size: int = 0,
           mtime: int = 0, linkname: str = "", devmajor: int = 0, devminor: int = 0,
           xattrs: dict[str, bytes] | None = None) -> bytes:
    """Encode one member's header (with a PAX extended header when needed)."""
    bname = os.fsencode(name)
    blink = os.fsencode(linkname)
    pax: list[bytes] = []
    if len(bname) > 100 or not bname.isascii():
        pax.append(_pax_record("path", bname))
    if len(blink) > 100 or not blink.isascii():
        pax.append(_pax_record("linkpath", blink))
    fields = {"uid": (uid, 8), "gid": (gid, 8), "size": (size, 12), "mtime": (mtime, 12)}
    enc = {}
    for key, (value, width) in fields.items():
        enc[key] = _octal(value, width)
        if enc[key] is None:
            pax.append(_pax_record(key, str(value).encode()))
            enc[key] = _octal(0, width)
    for key in sorted(xattrs or {}):
        pax.append(_pax_record("SCHILY.xattr." + key, xattrs[key]))
    out = b""
    if pax:
        data = b"".join(pax)
        short = (b"PaxHeaders/" + bname[-80:])[:99]
        out = _block(short, b"x", 0o644, _octal(0, 8), _octal(0, 8), _octal(len(data), 12), _octal(0, 12), b"", 0, 0)
        out += data + b"\0" * (-len(data) % BLOCK)
    return out + _block(bname[:100], typ, mode, enc["uid"], enc["gid"], enc["size"], enc["mtime"], blink[:100], devmajor, devminor)


def _block(name: bytes, typ: bytes, mode: int, uid: bytes, gid: bytes, size: bytes, mtime: bytes,
           linkname: bytes, devmajor: int, devminor: int) -> bytes:
    b = bytearray(BLOCK)
    b[0 : len(name)] = name
    b[100:108] = _octal(mode & 0o7777, 8)
    b[108:116] = uid
    b[116:124] = gid
    b[124:136] = size
    b[136:148] = mtime
    b[148:156] = b" " * 8
    b[156:157] = typ
    b[157 : 157 + len(linkname)] = linkname
    b[257:265] = b"ustar\x0000"
    b[329:337] = _octal(devmajor, 8) or _octal(0, 8)
    b[337:345] = _octal(devminor, 8) or _octal(0, 8)
    b[148:155] = b"%06o\0" % sum(b)
    return bytes(b)


def read_xattrs(path: str) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for key in names:
        if key.startswith(_SKIP_XATTRS):
            continue
        try:
            out[key] = os.getxattr(path, key, follow_symlinks=False)
        except OSError:
            continue
    return out


def is_whiteout_device(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


class EntryWriter:
    """Emits entries for paths under ``root``, remembering hard links."""

    def __init__(self, root: str, overlay: bool, owner: tuple[int, int] | None = None):
        self.root = root
        self.overlay = overlay
        #: every entry's (uid, gid), instead of the files' own (the builder's COPY)
        self.owner = owner
        self.links: dict[tuple[int, int], str] = {}

    def entry(self, rel: str, st: os.stat_result | None = None, name: str | None = None) -> Iterator[bytes]:
        """Entries for ``rel`` (named ``name`` in the tar, ``rel`` by default)."""
        path = os.path.join(self.root, rel)
        if st is None:
            st = os.lstat(path)
        rel = rel if name is None else name
        mode = st.st_mode
        mtime = int(st.st_mtime)
        if self.overlay and is_whiteout_device(st):
            head, _, base = rel.rpartition("/")
            yield header(_join(head, WHITEOUT_PREFIX + base), b"0", 0o600, st.st_uid, st.st_gid, 0, mtime)
            return
        xattrs = read_xattrs(path)
        uid, gid = self.owner if self.owner is not None else (st.st_uid, st.st_gid)
        common = dict(mode=stat.S_IMODE(mode), uid=uid, gid=gid, mtime=mtime, xattrs=xattrs)
        if stat.S_ISDIR(mode):
            yield header(rel + "/", b"5", **common)
            if self.overlay and is_opaque(path):
                yield header(_join(rel, WHITEOUT_OPAQUE), b"0", stat.S_IMODE(mode), st.st_uid, st.st_gid, 0, mtime)
        elif stat.S_ISLNK(mode):
            yield header(rel, b"2", linkname=os.readlink(path), **common)
        elif stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1:
                first = self.links.get(key)
                if first is not None:
                    yield header(rel, b"1", linkname=first, **common)
                    return
                self.links[key] = rel
            yield from self._file(path, rel, st, common)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            typ = b"3" if stat.S_ISCHR(mode) else b"4"
            yield header(rel, typ, devmajor=os.major(st.st_rdev), devminor=os.minor(st.st_rdev), **common)
        elif stat.S_ISFIFO(mode):
            yield header(rel, b"6", **common)
        # sockets are not archived, as in Docker

    def _file(self, path: str, rel: str, st: os.stat_result, common: dict) -> Iterator[bytes]:
        size = st.st_size
        with open(path, "rb", buffering=0) as fh:
            yield header(rel, b"0", size=size, **common)
            left = size
            while left:
                chunk = fh.read(min(CHUNK, left))
                if not chunk:  # the file shrank since stat: keep the promised size
                    chunk = b"\0" * min(CHUNK, left)
                yield chunk
                left -= len(chunk)
            if size % BLOCK:
                yield b"\0" * (-size % BLOCK)


def _join(head: str, base: str) -> str:
    return f"{head}/{base}" if head else base


def _walk(root: str, rel: str = "") -> Iterator[tuple[str, os.stat_result]]:
    path = os.path.join(root, rel) if rel else root
    with os.scandir(path) as it:
        entries = sorted(it, key=lambda e: e.name)
    for e in entries:
        child = _join(rel, e.name)
        st = e.stat(follow_symlinks=False)
        yield child, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(root, child)


def tar_directory(path, whiteouts: str | None = None) -> Iterator[bytes]:
    """Tar the tree under ``path`` (the root itself is not an entry).

    ``whiteouts="overlay"`` converts an overlay upper dir's whiteout devices
    and opaque xattrs into tar whiteouts; ``None`` archives the tree as is.
    """
    root = os.fspath(path)
    w = EntryWriter(root, overlay=whiteouts == "overlay")
    for rel, st in _walk(root):
        yield from w.entry(rel, st)
    yield b"\0" * (2 * BLOCK)


def tar_changes(root, changes: Iterable[Change]) -> Iterator[bytes]:
    """Tar the paths in ``changes`` from ``root``; deletions become ``.wh.`` entries."""
    root = os.fspath(root)
    w = EntryWriter(root, overlay=False)
    for change in sorted(changes, key=lambda c: c.path):
        rel = change.path.strip("/")
        if change.kind == ChangeKind.DELETE:
            head, _, base = rel.rpartition("/")
            yield header(_join(head, WHITEOUT_PREFIX + base), b"0", 0o600)
            continue
        try:
            yield from w.entry(rel)
        except FileNotFoundError:
            continue  # vanished while a container runs: nothing to archive
    yield b"\0" * (2 * BLOCK)
