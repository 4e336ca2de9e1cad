"""Record a layer tar's skeleton while it is unpacked; rebuild the exact tar later.

An image's layer digests are the sha256 of the *original* uncompressed layer
tars (the config's ``rootfs.diff_ids``). A tar regenerated from the unpacked
files would differ in header order, padding or PAX records, so ``save`` and
``push`` could not produce blobs with those digests. As moby does with
tar-split, we keep everything of the tar but the file contents (headers,
extended headers, padding, the end) and rebuild the tar by reading each
file's content back from the layer's file system.

:class:`SplitRecorder` wraps the stream handed to the graph driver's
``apply_diff``: it passes every byte through unchanged and, with a small push
parser, writes the skeleton to a file. :func:`reassemble` yields the original
bytes again from a skeleton and a directory holding the layer's files.
"""

from __future__ import annotations

import io
import os
import posixpath
import struct
from typing import BinaryIO, Iterator

from barge.archive.apply import clean_name
from barge.archive.errors import ArchiveError
from barge.archive.reader import _cstr, _number, _parse_pax
from barge.archive.resolve import open_in_root

BLOCK = 512
_META_TYPES = (b"x", b"g", b"L", b"K")
_FILE_TYPES = (b"0", b"\0", b"7")
_RAW, _FILE = b"R", b"F"
CHUNK = 1 << 20

# parser states
_HEADER, _META, _DATA, _PAD, _TAIL = range(5)


class SplitRecorder(io.RawIOBase):
    """A pass-through reader of a tar stream that records its skeleton to ``out``.

    Records are ``R <u32 length> <bytes>`` (kept verbatim) and ``F <u64 size>
    <u16 name length> <name>`` (a file's content, to be read back from the
    layer). Contents of whiteout files are kept verbatim, since the layer's
    file system cannot give them back. A name that comes twice overwrote its
    first content, which then cannot be read back: ``reproducible`` turns
    false (Docker never writes such layers; the tar is still unpacked).
    """

    def __init__(self, stream: BinaryIO, out: BinaryIO):
        self._stream = stream
        self._out = out
        self._raw = bytearray()
        self._state = _HEADER
        self._need = BLOCK  # bytes still expected in the current state
        self._block = bytearray()
        self._meta = bytearray()
        self._meta_type = b""
        self._pax: dict[str, bytes] = {}
        self._global: dict[str, bytes] = {}
        self._longname: bytes | None = None
        self._seen: set[str] = set()
        self._data_verbatim = False
        self.total = 0
        self.reproducible = True

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._stream.readinto(b) if hasattr(self._stream, "readinto") else _read_into(self._stream, b)
        if n:
            self._feed(memoryview(b)[:n])
        return n or 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if data:
            self._feed(memoryview(data))
        return data

    # -- the push parser --------------------------------------------------

    def _feed(self, mv: memoryview) -> None:
        self.total += len(mv)
        while mv:
            state = self._state
            if state == _TAIL:
                self._raw += mv
                return
            if state == _DATA and not self._data_verbatim:
                k = min(self._need, len(mv))
                self._need -= k
                mv = mv[k:]
                if not self._need:
                    self._enter_pad()
                continue
            k = min(self._need, len(mv))
            piece = mv[:k]
            self._raw += piece
            mv = mv[k:]
            self._need -= k
            if state == _HEADER:
                self._block += piece
                if not self._need:
                    self._header(bytes(self._block))
                    self._block.clear()
            elif state == _META:
                self._meta += piece
                if not self._need:
                    self._end_meta()
            elif state == _DATA:  # verbatim data
                if not self._need:
                    self._enter_pad()
            elif state == _PAD and not self._need:
                self._state, self._need = _HEADER, BLOCK

    def _header(self, block: bytes) -> None:
        if block == bytes(BLOCK):
            self._state = _TAIL
            return
        typ = block[156:157]
        size = _number(block[124:136], "size")
        if typ in _META_TYPES:
            self._meta_type = typ
            self._meta.clear()
            self._pad = -size % BLOCK
            self._state, self._need = _META, size + self._pad
            if not self._need:
                self._end_meta()
            return
        pax = {**self._global, **self._pax}
        self._pax = {}
        if typ in _FILE_TYPES:
            size = int(pax["size"]) if "size" in pax else size
            name = pax.get("path")
            if name is None:
                name = self._longname
            if name is None:
                name = _cstr(block[0:100])
                if block[257:263] == b"ustar\0" and block[345] != 0:
                    name = _cstr(block[345:500]) + b"/" + name
            self._longname = None
            path = clean_name(os.fsdecode(name))
            base = posixpath.basename(path)
            if path in self._seen:
                self.reproducible = False
            self._data_verbatim = base.startswith(".wh.") or size == 0
            self._seen.add(path)
            if not self._data_verbatim:
                self._flush_raw()
                encoded = os.fsencode(path)
                self._out.write(_FILE + struct.pack(">QH", size, len(encoded)) + encoded)
        else:
            self._longname = None
            self._data_verbatim = True
            if typ in (b"1", b"2", b"5"):
                size = 0
        self._pad = -size % BLOCK
        self._state, self._need = _DATA, size
        if not size:
            self._enter_pad()

    def _end_meta(self) -> None:
        data = bytes(self._meta[: len(self._meta) - self._pad])
        if self._meta_type == b"x":
            self._pax.update(_parse_pax(data))
        elif self._meta_type == b"g":
            self._global.update(_parse_pax(data))
        elif self._meta_type == b"L":
            self._longname = data.split(b"\0", 1)[0]
        self._state, self._need = _HEADER, BLOCK

    def _enter_pad(self) -> None:
        if self._pad:
            self._state, self._need = _PAD, self._pad
        else:
            self._state, self._need = _HEADER, BLOCK

    def _flush_raw(self) -> None:
        raw = self._raw
        while raw:
            piece = raw[: 0xFFFFFFFF]
            self._out.write(_RAW + struct.pack(">I", len(piece)) + piece)
            del raw[: len(piece)]

    def finish(self) -> None:
        """Write what is left; call once the driver consumed the stream."""
        rest = self._stream.read()
        while rest:
            self._feed(memoryview(rest))
            rest = self._stream.read()
        if self._state == _DATA and not self._data_verbatim and self._need:
            raise ArchiveError("invalid tar: unexpected end of stream in file data")
        self._flush_raw()


def _read_into(stream: BinaryIO, b) -> int:
    data = stream.read(len(b))
    n = len(data)
    b[:n] = data
    return n


def reassemble(skeleton: BinaryIO, root: str) -> Iterator[bytes]:
    """Yield the original tar from ``skeleton`` and the layer files under ``root``.

    File contents are read without ever leaving ``root``: parents are
    resolved inside it, the file itself is never a symlink. A file whose size
    changed since it was unpacked is an error.
    """
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        while kind := skeleton.read(1):
            if kind == _RAW:
                (length,) = struct.unpack(">I", _exact(skeleton, 4))
                yield _exact(skeleton, length)
            elif kind == _FILE:
                size, name_len = struct.unpack(">QH", _exact(skeleton, 10))
                yield from _file_content(root_fd, os.fsdecode(_exact(skeleton, name_len)), size)
            else:
                raise ArchiveError("corrupt layer skeleton")
    finally:
        os.close(root_fd)


def _exact(fh: BinaryIO, n: int) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise ArchiveError("corrupt layer skeleton: truncated")
    return data


def _file_content(root_fd: int, path: str, size: int) -> Iterator[bytes]:
    parent, base = posixpath.split(path)
    dir_fd = open_in_root(root_fd, parent)
    try:
        fd = os.open(base, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    try:
        if os.fstat(fd).st_size != size:
            raise ArchiveError(f"layer file {path} changed size since it was unpacked")
        left = size
        while left:
            chunk = os.read(fd, min(CHUNK, left))
            if not chunk:
                raise ArchiveError(f"layer file {path} is shorter than recorded")
            left -= len(chunk)
            yield chunk
    finally:
        os.close(fd)
