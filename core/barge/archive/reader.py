"""A streaming reader of ustar, GNU and PAX tar headers.

tarfile's stream mode costs several Python calls per member and copies file
data through small reads; this reader keeps one large reusable buffer, hands
out headers as plain objects and writes file data straight from the buffer to
a file descriptor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import BinaryIO

from barge.archive.errors import ArchiveError

BLOCK = 512
BUFSIZE = 4 << 20

REGTYPES = (b"0", b"\0", b"7")
LNKTYPE, SYMTYPE, CHRTYPE, BLKTYPE, DIRTYPE, FIFOTYPE = b"1", b"2", b"3", b"4", b"5", b"6"
PAX_LOCAL, PAX_GLOBAL, GNU_LONGNAME, GNU_LONGLINK = b"x", b"g", b"L", b"K"
GNU_SPARSE = b"S"
XATTR_PREFIXES = ("SCHILY.xattr.",)


@dataclass(slots=True)
class Header:
    """One archive member, with PAX and GNU extensions already folded in."""

    name: str
    type: bytes
    mode: int
    uid: int
    gid: int
    size: int
    mtime: float
    linkname: str
    devmajor: int
    devminor: int
    atime: float | None = None
    xattrs: dict[str, bytes] = field(default_factory=dict)


class TarReader:
    """Iterate :class:`Header` objects; consume each member's data with
    :meth:`copy_to` or :meth:`skip_data` before asking for the next."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self._buf = bytearray(BUFSIZE)
        self._mv = memoryview(self._buf)
        self._pos = 0
        self._end = 0
        self._eof = False
        self._pending = 0  # data bytes (incl. padding) of the current member not yet consumed
        self._pad = 0  # of which padding
        self._global: dict[str, bytes] = {}
        readinto = getattr(stream, "readinto", None)
        self._readinto = readinto if callable(readinto) else None

    # -- buffer --------------------------------------------------------

    def _fill(self) -> int:
        """Read more input after the unread bytes; return bytes available."""
        avail = self._end - self._pos
        if self._eof:
            return avail
        if self._pos:
            if avail:
                self._buf[:avail] = self._buf[self._pos : self._end]
            self._pos, self._end = 0, avail
        room = self._mv[self._end :]
        if self._readinto is not None:
            n = self._readinto(room)
        else:
            data = self._stream.read(len(room))
            n = len(data) if data else 0
            room[:n] = data or b""
        if not n:
            self._eof = True
            return avail
        self._end += n
        return self._end - self._pos

    def _take(self, n: int, what: str) -> bytes:
        out = bytearray()
        while n:
            if self._pos == self._end and not self._fill():
                raise ArchiveError(f"invalid tar: unexpected end of stream in {what}")
            k = min(n, self._end - self._pos)
            out += self._mv[self._pos : self._pos + k]
            self._pos += k
            n -= k
        return bytes(out)

    def _block_or_eof(self) -> bytes | None:
        while self._end - self._pos < BLOCK:
            before = self._end - self._pos
            if self._fill() == before:
                if before == 0:
                    return None
                raise ArchiveError("invalid tar: unexpected end of stream in a header")
        b = bytes(self._mv[self._pos : self._pos + BLOCK])
        self._pos += BLOCK
        return b

    @property
    def buffered(self) -> int:
        """Bytes read from the stream but not yet consumed (to place a member's data in a copy of it)."""
        return self._end - self._pos

    # -- member data ---------------------------------------------------

    def copy_to(self, fd: int, size: int) -> None:
        """Write the current member's ``size`` data bytes to ``fd``."""
        n = size
        write = os.write
        while n:
            if self._pos == self._end and not self._fill():
                raise ArchiveError("invalid tar: unexpected end of stream in file data")
            k = min(n, self._end - self._pos)
            chunk = self._mv[self._pos : self._pos + k]
            while chunk:
                w = write(fd, chunk)
                chunk = chunk[w:]
            self._pos += k
            n -= k
        self._pending -= size
        self.skip_data()

    def feed_to(self, sink, size: int) -> None:
        """Hand the current member's ``size`` data bytes to ``sink(memoryview)`` (a hash, say)."""
        n = size
        while n:
            if self._pos == self._end and not self._fill():
                raise ArchiveError("invalid tar: unexpected end of stream in file data")
            k = min(n, self._end - self._pos)
            sink(self._mv[self._pos : self._pos + k])
            self._pos += k
            n -= k
        self._pending -= size
        self.skip_data()

    def skip_data(self) -> None:
        n = self._pending
        while n:
            if self._pos == self._end and not self._fill():
                if n <= self._pad:  # the last member's padding cut off (docker CLI 28 sends such tars): its data is whole
                    break
                raise ArchiveError("invalid tar: unexpected end of stream in file data")
            k = min(n, self._end - self._pos)
            self._pos += k
            n -= k
        self._pending = 0

    # -- headers -------------------------------------------------------

    def __iter__(self):
        return self

    def __next__(self) -> Header:
        self.skip_data()
        pax: dict[str, bytes] = {}
        longname = longlink = None
        while True:
            block = self._block_or_eof()
            if block is None:
                raise StopIteration  # clean end without zero blocks, as Go's archive/tar allows
            if block == bytes(BLOCK):
                raise StopIteration  # end-of-archive marker; trailing blocks are not read
            _check_sum(block)
            typ = block[156:157]
            size = _number(block[124:136], "size")
            if typ in (PAX_LOCAL, PAX_GLOBAL, GNU_LONGNAME, GNU_LONGLINK):
                data = self._take(size, "an extended header")
                self._take(-size % BLOCK, "an extended header")
                if typ == PAX_LOCAL:
                    pax.update(_parse_pax(data))
                elif typ == PAX_GLOBAL:
                    self._global.update(_parse_pax(data))
                elif typ == GNU_LONGNAME:
                    longname = data.split(b"\0", 1)[0]
                else:
                    longlink = data.split(b"\0", 1)[0]
                continue
            if typ == GNU_SPARSE or any(k.startswith("GNU.sparse.") for k in pax):
                raise ArchiveError("invalid tar: sparse files are not supported in layers")
            return self._header(block, typ, size, {**self._global, **pax}, longname, longlink)

    def _header(self, b: bytes, typ: bytes, size: int, pax: dict, longname, longlink) -> Header:
        magic = b[257:263]
        name = _cstr(b[0:100])
        if magic == b"ustar\0" and b[345] != 0:  # POSIX ustar prefix (GNU uses it for times)
            name = _cstr(b[345:500]) + b"/" + name
        if longname is not None:
            name = longname
        linkname = longlink if longlink is not None else _cstr(b[157:257])
        h = Header(
            name=_text(pax.get("path"), name),
            type=typ,
            mode=_number(b[100:108], "mode") & 0o7777,
            uid=int(pax["uid"]) if "uid" in pax else _number(b[108:116], "uid"),
            gid=int(pax["gid"]) if "gid" in pax else _number(b[116:124], "gid"),
            size=int(pax["size"]) if "size" in pax else size,
            mtime=float(pax["mtime"]) if "mtime" in pax else float(_number(b[136:148], "mtime")),
            linkname=_text(pax.get("linkpath"), linkname),
            devmajor=_number(b[329:337], "devmajor") if typ in (CHRTYPE, BLKTYPE) else 0,
            devminor=_number(b[337:345], "devminor") if typ in (CHRTYPE, BLKTYPE) else 0,
            atime=float(pax["atime"]) if "atime" in pax else None,
        )
        for key, value in pax.items():
            if key.startswith("SCHILY.xattr."):
                h.xattrs[key[13:]] = value
        if typ in REGTYPES or typ == b"":
            h.type = b"0"
            self._pending = h.size + (-h.size % BLOCK)
            self._pad = -h.size % BLOCK
        else:
            # only regular files carry data we care about; others may still have a size field
            self._pending = (size + (-size % BLOCK)) if typ not in (LNKTYPE, SYMTYPE, DIRTYPE) else 0
            self._pad = (-size % BLOCK) if self._pending else 0
            if typ in (LNKTYPE, SYMTYPE, DIRTYPE):
                h.size = 0
        return h


def _cstr(b: bytes) -> bytes:
    return b.split(b"\0", 1)[0]


def _text(pax_value: bytes | None, raw: bytes) -> str:
    value = pax_value if pax_value is not None else raw
    return os.fsdecode(value)


def _number(field: bytes, what: str) -> int:
    if field and field[0] & 0x80:  # GNU base-256
        n = int.from_bytes(field[1:], "big")
        if field[0] & 0x40:  # negative
            n -= 1 << (8 * (len(field) - 1) + 6)
        else:
            n += (field[0] & 0x3F) << (8 * (len(field) - 1))
        return n
    s = field.split(b"\0", 1)[0].strip(b" ")
    if not s:
        return 0
    try:
        return int(s, 8)
    except ValueError:
        raise ArchiveError(f"invalid tar: bad {what} field {field!r}") from None


def _check_sum(block: bytes) -> None:
    stored = _number(block[148:156], "checksum")
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    if stored == unsigned:
        return
    signed = sum((c - 256 if c > 127 else c) for c in block[:148] + block[156:]) + 8 * 32
    if stored != signed:
        raise ArchiveError("invalid tar: header checksum mismatch (not a tar, or corrupted)")


def _parse_pax(data: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            break
        sp = data.find(b" ", pos)
        if sp < 0:
            raise ArchiveError("invalid tar: malformed PAX record")
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise ArchiveError("invalid tar: malformed PAX record length") from None
        record = data[sp + 1 : pos + length]
        if length <= 0 or pos + length > len(data) or not record.endswith(b"\n") or b"=" not in record:
            raise ArchiveError("invalid tar: malformed PAX record")
        key, value = record[:-1].split(b"=", 1)
        out[key.decode("utf-8", "surrogateescape")] = value
        pos += length
    return out
