"""dockerd's default ``json-file`` log driver: one JSON object per line, byte for byte as dockerd writes it.

``{"log":"hi\\n","stream":"stdout","attrs":{...},"time":"2026-01-02T03:04:05.123456789Z"}``:
``log`` escaped as moby's ``jsonlog`` does (``<``, ``>``, ``&``, tab and
other control bytes as ``\\u00XX``, invalid UTF-8 as ``\\ufffd``), ``attrs``
only when ``labels``/``env``/``tag`` give some, ``time`` Go's RFC3339Nano.
The file is ``<container dir>/<id>-json.log``, rotated by ``max-size`` and
``max-file`` (and gzipped with ``compress``), unbounded by default.
"""

from __future__ import annotations

import json
from typing import ClassVar

from barge.logdriver.base import Entry, FileFormat, LogDriver, LogDriverError, LogInfo, Message
from barge.logdriver.logfile import RotatingFile
from barge.logdriver.options import parse_bool
from barge.logdriver.tag import extra_attributes, render_tag
from barge.timefmt import rfc3339_nano
from barge.units import ram_in_bytes

_HEX = "0123456789abcdef"


def go_json_string(data: bytes) -> bytes:
    """moby's ``ffjsonWriteJSONBytesAsString``."""
    out = bytearray(b'"')
    text = data.decode("utf-8", "surrogateescape")
    for ch in text:
        code = ord(ch)
        if code < 0x80:
            if ch in '\\"':
                out += b"\\" + ch.encode()
            elif ch == "\n":
                out += b"\\n"
            elif ch == "\r":
                out += b"\\r"
            elif code < 0x20 or ch in "<>&":
                out += b"\\u00" + _HEX[code >> 4].encode() + _HEX[code & 0xF].encode()
            else:
                out.append(code)
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8
            out += b"\\ufffd"
        elif ch in "\u2028\u2029":
            out += b"\\u202" + _HEX[code & 0xF].encode()
        else:
            out += ch.encode()
    out += b'"'
    return bytes(out)


def go_marshal_map(attrs: dict[str, str]) -> bytes:
    """Go's ``json.Marshal`` of a ``map[string]string``: keys sorted, HTML characters escaped."""
    text = json.dumps(attrs, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def encode_line(msg: Message, raw_attrs: bytes = b"") -> bytes:
    line = msg.line + b"\n" if msg.ends_line else msg.line
    parts = []
    if line:
        parts.append(b'"log":' + go_json_string(line))
    if msg.source:
        parts.append(b'"stream":' + go_json_string(msg.source.encode()))
    if raw_attrs:
        parts.append(b'"attrs":' + raw_attrs)
    parts.append(b'"time":"' + rfc3339_nano(msg.time_ns).encode() + b'"')
    return b"{" + b",".join(parts) + b"}\n"


def parse_line(line: bytes) -> Entry | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    return Entry(str(obj.get("stream", "stdout")), str(obj.get("log", "")).encode("utf-8", "surrogateescape"),
                 str(obj.get("time", "")))


class JsonFormat(FileFormat):
    def decode(self, buf: bytes) -> tuple[list[Entry], int]:
        end = buf.rfind(b"\n") + 1
        out = []
        for line in buf[:end].split(b"\n"):
            entry = parse_line(line) if line else None
            if entry is not None:
                out.append(entry)
        return out, end

    def tail_offset(self, data: bytes, count: int) -> tuple[int, int]:
        pos = data.rfind(b"\n") + 1  # a torn last line is not a record yet
        found = 0
        while found < count and pos > 0:
            prev = data.rfind(b"\n", 0, pos - 1) + 1
            if pos - prev > 1:
                found += 1
            pos = prev
        return pos, found


def parse_config(opts: dict[str, str]) -> tuple[int | None, int, bool]:
    """(max size or None, max files, compress), checked as dockerd checks them at start."""
    max_size = None
    if opts.get("max-size") and opts["max-size"] != "-1":
        try:
            max_size = ram_in_bytes(opts["max-size"])
        except ValueError as exc:
            raise LogDriverError(str(exc)) from None
    max_file = 1
    if opts.get("max-file"):
        try:
            max_file = int(opts["max-file"])
        except ValueError:
            raise LogDriverError(f'strconv.Atoi: parsing "{opts["max-file"]}": invalid syntax') from None
        if max_file < 1:
            raise LogDriverError("max-file cannot be less than 1")
    compress = False
    if opts.get("compress"):
        try:
            compress = parse_bool(opts["compress"])
        except ValueError as exc:
            raise LogDriverError(str(exc)) from None
        if compress and (max_file <= 1 or max_size is None):
            raise LogDriverError("compress cannot be true when max-file is less than 2 or max-size is not set")
    return max_size, max_file, compress


class JsonFileDriver(LogDriver):
    name = "json-file"
    options = frozenset({"max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag"})
    file_format: ClassVar[FileFormat | None] = JsonFormat()
    file_name = "{id}-json.log"

    def __init__(self, info: LogInfo):
        super().__init__(info)
        max_size, max_file, compress = parse_config(info.config)
        attrs = extra_attributes(info)
        if info.config.get("tag"):
            tag = render_tag(info)
            if tag:
                attrs["tag"] = tag
        self.raw_attrs = go_marshal_map(attrs) if attrs else b""
        self.file = RotatingFile(info.log_path, max_size, max_file, compress)

    def log(self, msg: Message) -> None:
        self.file.write(encode_line(msg, self.raw_attrs), msg.time_ns)

    def close(self) -> None:
        self.file.close()
