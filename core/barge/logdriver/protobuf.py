"""moby's ``logdriver.LogEntry`` protobuf (api/types/plugins/logdriver/entry.proto), by hand.

::

    message LogEntry { string source = 1; int64 time_nano = 2; bytes line = 3; bool partial = 4;
                       PartialLogEntryMetadata partial_log_metadata = 5; }
    message PartialLogEntryMetadata { bool last = 1; string id = 2; int32 ordinal = 3; }

Written as gogo-protobuf does (fields in order, proto3 zero values left
out); read leniently (unknown fields skipped, as protobuf readers must).
"""

from __future__ import annotations

from barge.logdriver.base import Message, PartialMeta


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64/int32: ten bytes of two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes_field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data if data else b""


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value) if value else b""


def encode_entry(msg: Message) -> bytes:
    out = _bytes_field(1, msg.source.encode()) + _int_field(2, msg.time_ns) + _bytes_field(3, msg.line)
    if msg.partial is not None:
        meta = (_int_field(1, int(msg.partial.last)) + _bytes_field(2, msg.partial.id.encode())
                + _int_field(3, msg.partial.ordinal))
        out += _int_field(4, 1) + _varint(5 << 3 | 2) + _varint(len(meta)) + meta
    return out


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes):
    """(number, value) pairs: ints for varints, bytes for length-delimited fields."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
            yield number, value
        elif wire == 2:
            size, pos = _read_varint(buf, pos)
            if pos + size > len(buf):
                raise ValueError("truncated field")
            yield number, buf[pos:pos + size]
            pos += size
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def decode_entry(buf: bytes) -> Message:
    source, time_ns, line, partial, meta = "", 0, b"", False, None
    for number, value in _fields(buf):
        if number == 1 and isinstance(value, bytes):
            source = value.decode("utf-8", "replace")
        elif number == 2 and isinstance(value, int):
            time_ns = _signed64(value)
        elif number == 3 and isinstance(value, bytes):
            line = value
        elif number == 4 and isinstance(value, int):
            partial = bool(value)
        elif number == 5 and isinstance(value, bytes):
            meta = value
    part = None
    if partial:
        last, pid, ordinal = False, "", 0
        for number, value in _fields(meta or b""):
            if number == 1 and isinstance(value, int):
                last = bool(value)
            elif number == 2 and isinstance(value, bytes):
                pid = value.decode("utf-8", "replace")
            elif number == 3 and isinstance(value, int):
                ordinal = _signed64(value)
        part = PartialMeta(pid, ordinal, last)
    return Message(source, line, time_ns, part)
