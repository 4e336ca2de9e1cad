"""Copying container output to our stdout and stderr.

Without a TTY the daemon frames output (attach, logs): an 8-byte header
``[stream, 0, 0, 0, size(uint32 big-endian)]`` then ``size`` bytes. With a TTY
the stream is raw. The copy loops work per read and per frame, never per
byte: a payload is written straight from the read buffer (as a memoryview),
and a frame split across reads continues in the next one.
"""

from __future__ import annotations

import io
import os
import struct
from typing import Callable

from barge.client.errors import StreamError

STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3
HEADER = struct.Struct(">BxxxL")
READ_SIZE = 256 * 1024

Reader = Callable[[int], bytes]
Sink = Callable[[memoryview], None]


def sink_for(stream) -> Sink:
    """A writer of bytes to ``stream`` (a text or binary file): straight to its
    file descriptor when it has one, else to its binary buffer."""
    if stream is None:
        return lambda data: None
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        fd = None
    if fd is not None:
        try:
            stream.flush()
        except (OSError, ValueError):
            pass

        def write_fd(data: memoryview) -> None:
            while data:
                n = os.write(fd, data)
                data = data[n:]

        return write_fd
    binary = getattr(stream, "buffer", stream)
    if binary is not stream:
        stream.flush()  # text written before must come first

    def write_file(data: memoryview) -> None:
        binary.write(bytes(data))
        binary.flush()

    return write_file


def copy_raw(read: Reader, out: Sink) -> int:
    """Copy a TTY stream until EOF; returns the byte count."""
    total = 0
    while True:
        data = read(READ_SIZE)
        if not data:
            return total
        out(memoryview(data))
        total += len(data)


def demux(read: Reader, out: Sink, err: Sink) -> int:
    """docker's ``StdCopy``: frames to ``out`` (stdin, stdout) or ``err``.

    Returns the payload byte count. A ``systemerr`` frame ends the copy with
    the daemon's message, as docker reports it.
    """
    total = 0
    pending = b""  # an incomplete header carried to the next read
    remaining = 0  # payload bytes of the current frame still to come
    target: Sink = out
    while True:
        data = read(READ_SIZE)
        if not data:
            return total  # a frame cut short at EOF: what arrived was written
        if pending:
            data = pending + data
            pending = b""
        view = memoryview(data)
        pos, end = 0, len(data)
        while pos < end:
            if remaining:
                n = min(remaining, end - pos)
                target(view[pos:pos + n])
                total += n
                remaining -= n
                pos += n
                continue
            if end - pos < HEADER.size:
                pending = bytes(view[pos:])
                break
            stream, size = HEADER.unpack_from(view, pos)
            pos += HEADER.size
            if stream in (STDIN, STDOUT):
                target = out
            elif stream == STDERR:
                target = err
            elif stream == SYSTEMERR:
                message = bytes(view[pos:pos + size])
                while len(message) < size:
                    more = read(size - len(message))
                    if not more:
                        break
                    message += more
                raise StreamError(f"error from daemon in stream: {message.decode('utf-8', 'replace')}")
            else:
                raise StreamError(f"Unrecognized input header: {stream}")
            remaining = size


def frames(data: bytes) -> list[tuple[int, bytes]]:
    """All frames of a complete multiplexed byte string (tests, small reads)."""
    out, pos = [], 0
    while pos + HEADER.size <= len(data):
        stream, size = HEADER.unpack_from(data, pos)
        pos += HEADER.size
        out.append((stream, data[pos:pos + size]))
        pos += size
    return out


def frame(stream: int, payload: bytes) -> bytes:
    """One frame, as the daemon writes it."""
    return HEADER.pack(stream, len(payload)) + payload
