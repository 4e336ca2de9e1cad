"""A log file with rotation and compressed rotations (moby's ``loggerutils.LogFile``).

Records are appended to ``<path>``. With ``max_size`` the file is rotated
before a record would make it larger: ``<path>`` becomes ``<path>.1``,
``.1`` becomes ``.2`` ... keeping ``max_file - 1`` old files; ``max_file``
1 truncates in place. With ``compress`` each rotated file is gzipped into
``<path>.1.gz`` with dockerd's header (its *extra* field holds
``{"lastTime": <time of its last record>}``), then the plain file goes.
dockerd compresses in a goroutine; the monitor does it before its next
write (a rotation is rare next to writes, and it keeps the monitor one thread).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import struct
import zlib
from pathlib import Path

from barge.timefmt import rfc3339_nano

PERMS = 0o640


def _open_append(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, PERMS)


class RotatingFile:
    def __init__(self, path: str, max_size: int | None = None, max_file: int = 1, compress: bool = False):
        self.path = path
        self.max_size = max_size if max_size and max_size > 0 else None
        self.max_file = max(1, int(max_file or 1))
        self.compress = compress and self.max_file > 1
        try:
            self._fd = _open_append(path)
        except FileNotFoundError:  # local's own directory, made at its first start
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            self._fd = _open_append(path)
        self._size = os.fstat(self._fd).st_size
        self._last_ns = 0

    def write(self, record: bytes, time_ns: int) -> None:
        if self.max_size is not None and self._size > 0 and self._size + len(record) > self.max_size:
            self._rotate()
        try:
            written = os.write(self._fd, record)
            while written < len(record):  # a short write: the disk filled mid-record; the next write says why
                written += os.write(self._fd, record[written:])
        except OSError:
            # No torn record stays (a full disk): the file ends at the last whole one, and a record
            # written once there is room again starts on a line of its own.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            raise
        self._size += len(record)
        self._last_ns = time_ns

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        if self.max_file > 1:
            ext = ".gz" if self.compress else ""
            for i in range(self.max_file - 1, 1, -1):
                try:
                    os.rename(f"{self.path}.{i - 1}{ext}", f"{self.path}.{i}{ext}")
                except FileNotFoundError:
                    pass
            os.rename(self.path, f"{self.path}.1")
            self._fd = _open_append(self.path)
            if self.compress:
                compress_file(f"{self.path}.1", self._last_ns)
        else:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC)
        self._size = 0


def gzip_header(last_ns: int) -> bytes:
    """Go's ``gzip.Writer`` header with dockerd's metadata in FEXTRA (no mtime, OS unknown)."""
    extra = json.dumps({"lastTime": rfc3339_nano(last_ns)}, separators=(",", ":")).encode()
    return b"\x1f\x8b\x08\x04" + b"\x00\x00\x00\x00" + b"\x00\xff" + struct.pack("<H", len(extra)) + extra


def compress_file(name: str, last_ns: int) -> None:
    """``name`` -> ``name.gz`` (written whole, then renamed into place), then ``name`` removed."""
    tmp = f"{name}.gz.tmp"
    comp = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    crc, size = 0, 0
    try:
        with open(name, "rb") as src, open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                                                   PERMS), "wb") as out:
            out.write(gzip_header(last_ns))
            while chunk := src.read(1 << 16):
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
                out.write(comp.compress(chunk))
            out.write(comp.flush())
            out.write(struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF))
    except OSError:  # a full disk: the plain rotation stays, no half gzip beside it
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.rename(tmp, f"{name}.gz")
    os.unlink(name)


def gzip_last_time(path: Path) -> str:
    """The ``lastTime`` dockerd wrote in a rotated file's gzip header ('' when absent)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:2] != b"\x1f\x8b" or not head[3] & 0x04:
                return ""
            (xlen,) = struct.unpack("<H", head[10:12])
            meta = json.loads(fh.read(xlen))
        return str(meta.get("lastTime") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def rotations(path: Path) -> list[Path]:
    """A log's rotated files, oldest first: ``<path>.N[.gz]`` ... ``<path>.1[.gz]`` (not ``<path>``)."""
    numbered: dict[int, Path] = {}
    if path.parent.is_dir():
        pattern = re.compile(re.escape(path.name) + r"\.(\d+)(\.gz)?")
        for entry in path.parent.iterdir():
            m = pattern.fullmatch(entry.name)
            if m and (m.group(2) is None or int(m.group(1)) not in numbered):
                numbered[int(m.group(1))] = entry  # a plain file wins over its gzip being written
    return [numbered[n] for n in sorted(numbered, reverse=True)]


def read_rotated(path: Path) -> bytes:
    """A rotated file's content, decompressed when it is a ``.gz``."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data
