"""dockerd's ``local`` log driver: size-framed protobuf records, rotated and compressed by default.

A record is ``<u32 big-endian size><LogEntry protobuf><u32 big-endian size>``
(:mod:`barge.logdriver.protobuf`); the size at both ends lets a reader walk
back from the end for ``--tail``. The file is
``<container dir>/local-logs/container.log``; defaults are moby's: 20 MiB a
file, 5 files, rotated files gzipped. Reading appends the newline a line
had, except to a piece of a longer line (20.10's decoder: a piece that
ended the output has none).
"""

from __future__ import annotations

import struct
from typing import ClassVar

from barge.logdriver.base import Entry, FileFormat, LogDriver, LogDriverError, LogInfo, Message
from barge.logdriver.logfile import RotatingFile
from barge.logdriver.options import atoi, parse_bool
from barge.logdriver.protobuf import decode_entry, encode_entry
from barge.timefmt import rfc3339_nano
from barge.units import ram_in_bytes

DEFAULT_MAX_SIZE = 20 * 1024 * 1024
DEFAULT_MAX_FILE = 5
#: moby's ``maxMsgLen``: a bigger size field is a corrupt file, not a record.
MAX_RECORD = 1_000_000


def frame(msg: Message) -> bytes:
    body = encode_entry(msg)
    size = struct.pack(">I", len(body))
    return size + body + size


class LocalFormat(FileFormat):
    def decode(self, buf: bytes) -> tuple[list[Entry], int]:
        out, pos = [], 0
        while pos + 4 <= len(buf):
            (size,) = struct.unpack_from(">I", buf, pos)
            if size > MAX_RECORD:
                raise ValueError(f"log message is too large ({size} > {MAX_RECORD})")
            end = pos + 8 + size
            if end > len(buf):
                break
            msg = decode_entry(buf[pos + 4:pos + 4 + size])
            line = msg.line if msg.partial is not None else msg.line + b"\n"
            out.append(Entry(msg.source, line, rfc3339_nano(msg.time_ns)))
            pos = end
        return out, pos

    def tail_offset(self, data: bytes, count: int) -> tuple[int, int]:
        pos, found = len(data), 0
        while pos >= 8 and found < count:
            (size,) = struct.unpack_from(">I", data, pos - 4)
            start = pos - 8 - size
            if start < 0 or struct.unpack_from(">I", data, start)[0] != size:
                break  # a torn or corrupt record: start after it
            pos, found = start, found + 1
        return pos, found


def parse_config(opts: dict[str, str]) -> tuple[int, int, bool]:
    """(max size, max files, compress) with moby's defaults and its error texts."""
    max_size, max_file, compress = DEFAULT_MAX_SIZE, DEFAULT_MAX_FILE, True
    if "max-size" in opts:
        try:
            max_size = ram_in_bytes(opts["max-size"])
        except ValueError as exc:
            raise LogDriverError(f"invalid value for max-size: {opts['max-size']}: {exc}") from None
    if "max-file" in opts:
        try:
            max_file = atoi(opts["max-file"])
        except ValueError as exc:
            raise LogDriverError(f"invalid value for max-file: {opts['max-file']}: {exc}") from None
    if "compress" in opts:
        try:
            compress = parse_bool(opts["compress"])
        except ValueError as exc:
            raise LogDriverError(f"error reading compress log option: {exc}") from None
    if max_size < 0:
        raise LogDriverError("max size should be a positive number")
    if max_file < 0:
        raise LogDriverError("max file count cannot be less than 0")
    if compress and max_file <= 1:
        raise LogDriverError("compression cannot be enabled when max file count is 1")
    return max_size, max_file, compress


class LocalDriver(LogDriver):
    name = "local"
    options = frozenset({"max-size", "max-file", "compress"})
    file_format: ClassVar[FileFormat | None] = LocalFormat()
    file_name = "local-logs/container.log"

    @classmethod
    def validate(cls, opts) -> None:
        for key in opts:
            if key not in cls.options:
                raise LogDriverError(f"unknown log opt '{key}' for log driver {cls.name}")

    def __init__(self, info: LogInfo):
        super().__init__(info)
        max_size, max_file, compress = parse_config(info.config)
        self.file = RotatingFile(info.log_path, max_size, max_file, compress)

    def log(self, msg: Message) -> None:
        self.file.write(frame(msg), msg.time_ns)

    def close(self) -> None:
        self.file.close()
