"""A file object over a generator of byte chunks, so tar producers feed readers of streams.

A layer or a volume's first contents come out of a walker as chunks;
:func:`barge.archive.apply_layer`, the compressor and the hasher want a
readable stream.
"""

from __future__ import annotations

import io
from typing import Iterable


class IterReader(io.RawIOBase):
    """A readable binary stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterable[bytes]):
        self._it = iter(chunks)
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            try:
                self._buf = memoryview(next(self._it))
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        close = getattr(self._it, "close", None)
        if close is not None:
            close()
        super().close()
