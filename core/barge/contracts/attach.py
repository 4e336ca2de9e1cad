"""An attach session's wire vocabulary: the monitor's frames, and the detach keys.

Frames are ``<u8 stream><u32 big-endian length><payload>`` (stream 3: the
process exited; see ATTACH PROTOCOL in :mod:`barge.execdriver`). The
detach keys (default ctrl-p,ctrl-q) are parsed here and spotted in an
attach's stdin.

A detach sequence ends the attach without touching the container. Bytes that
start the sequence are held back until it is complete or broken; a broken
one is passed on unchanged, as the docker CLI's escape proxy does.
"""

from __future__ import annotations

import struct

from barge.detachkeys import to_bytes
from barge.errors import InvalidParameter

HEADER = struct.Struct(">BI")
STDOUT, STDERR, EXITED = 1, 2, 3

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"


class FrameBuffer:
    """Whole frames out of the bytes of a monitor socket, however they were split."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """``(stream, payload)`` of every frame ``data`` completes, in order."""
        self._buf += data
        out = []
        while len(self._buf) >= HEADER.size:
            stream, size = HEADER.unpack_from(self._buf)
            if len(self._buf) < HEADER.size + size:
                break
            out.append((stream, self._buf[HEADER.size:HEADER.size + size]))
            self._buf = self._buf[HEADER.size + size:]
        return out


def exit_code_of(payload: bytes) -> int | None:
    """The exit frame's code (its payload is ``{"exit_code": N}``), None when unreadable."""
    import json

    try:
        return int(json.loads(payload)["exit_code"])
    except (ValueError, KeyError, TypeError):
        return None


def parse_detach_keys(text: str) -> bytes:
    """``ctrl-p,ctrl-q`` -> b"\\x10\\x11" (:func:`barge.detachkeys.to_bytes`, with dockerd's wording)."""
    try:
        return to_bytes(text)
    except InvalidParameter:
        raise InvalidParameter(f"Invalid detach keys ({text}) provided") from None


class DetachScanner:
    def __init__(self, keys: bytes):
        self.keys = keys
        self._held = 0  # how many bytes of ``keys`` matched so far (held back)

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """Return (bytes to pass on, whether the detach sequence was completed)."""
        out = bytearray()
        for byte in data:
            if byte == self.keys[self._held]:
                self._held += 1
                if self._held == len(self.keys):
                    self._held = 0
                    return bytes(out), True
                continue
            if self._held:
                out += self.keys[: self._held]
                self._held = 0
                if byte == self.keys[0]:
                    self._held = 1
                    continue
            out.append(byte)
        return bytes(out), False

    def flush(self) -> bytes:
        held, self._held = self.keys[: self._held], 0
        return held
