"""Decompress layer streams by their magic bytes, as moby does; hash as they pass.

Docker never trusts a file name or media type for compression: it peeks at
the first bytes (gzip, bzip2, xz, zstd). zstd needs the optional
``zstandard`` module; without it a zstd layer fails with a clear message.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import lzma
import queue
import threading
from typing import BinaryIO

from barge.errors import InvalidParameter

CHUNK = 1 << 20

GZIP = b"\x1f\x8b\x08"
BZIP2 = b"BZh"
XZ = b"\xfd7zXZ\x00"
ZSTD = b"\x28\xb5\x2f\xfd"


class _Peekable(io.RawIOBase):
    """Wraps a file object that cannot ``peek``, holding back its first bytes."""

    def __init__(self, raw: BinaryIO, head: bytes):
        self._raw = raw
        self._head = head

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._raw.read(len(b))
        if not data:
            return 0
        b[: len(data)] = data
        return len(data)


def _read_head(stream: BinaryIO, n: int) -> bytes:
    head = b""
    while len(head) < n:
        chunk = stream.read(n - len(head))
        if not chunk:
            break
        head += chunk
    return head


def detect(head: bytes) -> str:
    """``"gzip"``, ``"bzip2"``, ``"xz"``, ``"zstd"`` or ``"none"``."""
    if head.startswith(GZIP):
        return "gzip"
    if head.startswith(BZIP2):
        return "bzip2"
    if head.startswith(XZ):
        return "xz"
    if head.startswith(ZSTD):
        return "zstd"
    return "none"


def decompressed(stream: BinaryIO) -> BinaryIO:
    """A file object yielding ``stream``'s uncompressed bytes."""
    head = _read_head(stream, 6)
    buffered = io.BufferedReader(_Peekable(stream, head), buffer_size=CHUNK)
    kind = detect(head)
    if kind == "gzip":
        return io.BufferedReader(ThreadedGunzip(buffered), buffer_size=CHUNK)  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.BZ2File(buffered, mode="rb")  # type: ignore[return-value]
    if kind == "xz":
        return lzma.LZMAFile(buffered, mode="rb")  # type: ignore[return-value]
    if kind == "zstd":
        try:
            import zstandard
        except ImportError:
            raise InvalidParameter(
                "layer is zstd-compressed, and zstd support needs the 'zstandard' Python package"
            ) from None
        return zstandard.ZstdDecompressor().stream_reader(buffered)  # type: ignore[return-value]
    return buffered  # type: ignore[return-value]


class ThreadedGunzip(io.RawIOBase):
    """gunzip on a helper thread, a few MiB ahead of the reader.

    zlib releases the GIL while it inflates, so the unpacker (tar parsing
    and file creation, on the calling thread) and the inflating run on two
    cores instead of one after the other. Concatenated gzip members (pigz,
    ``cat a.gz b.gz``) are read as one stream, as gzip(1) does.
    """

    def __init__(self, raw: BinaryIO, depth: int = 8):
        self._raw = raw
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._buf = memoryview(b"")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._inflate, name="gunzip", daemon=True)
        self._thread.start()

    def readable(self) -> bool:
        return True

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _inflate(self) -> None:
        import zlib

        try:
            d = zlib.decompressobj(wbits=31)
            started = False
            while not self._stop.is_set():
                chunk = self._raw.read(CHUNK)
                if not chunk:
                    break
                while chunk:
                    out = d.decompress(chunk)
                    started = True
                    if out and not self._put(out):
                        return
                    if d.eof:
                        chunk = d.unused_data
                        d = zlib.decompressobj(wbits=31)
                        started = False
                        if chunk.strip(b"\0") == b"":
                            chunk = b""
                    else:
                        chunk = b""
            if started and not d.eof:
                raise EOFError("Compressed file ended before the end-of-stream marker was reached")
            tail = d.flush()
            if tail:
                self._put(tail)
            self._put(b"")
        except BaseException as exc:  # noqa: BLE001 - handed to the reader thread, which raises it
            self._put(exc)

    def readinto(self, b) -> int:
        while not self._buf:
            item = self._queue.get()
            if isinstance(item, BaseException):
                if isinstance(item, (OSError, EOFError)) or item.__class__.__name__ == "error":
                    raise InvalidParameter(f"invalid gzip stream: {item}") from item
                raise item
            if item == b"":
                self._queue.put(b"")  # stay at EOF for later reads
                return 0
            self._buf = memoryview(item)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        self._stop.set()
        super().close()


class HashingReader(io.RawIOBase):
    """Passes bytes through while computing their sha256 and counting them,
    and optionally copying them to ``tee``.

    Hashing runs in a helper thread (hashlib releases the GIL on large
    buffers), so a layer is hashed on one core while it is unpacked on the
    other instead of after it.
    """

    def __init__(self, stream: BinaryIO, tee: BinaryIO | None = None):
        self._stream = stream
        self._tee = tee
        self._sha = hashlib.sha256()
        self._pending: queue.Queue = queue.Queue(maxsize=16)
        self._hasher: threading.Thread | None = None
        self.count = 0

    def readable(self) -> bool:
        return True

    def _hash(self, data) -> None:
        if len(data) < (1 << 16):
            if self._hasher is None:
                self._sha.update(data)
                return
        if self._hasher is None:
            self._hasher = threading.Thread(target=self._hash_loop, name="layer-hash", daemon=True)
            self._hasher.start()
        self._pending.put(bytes(data))

    def _hash_loop(self) -> None:
        while (data := self._pending.get()) is not None:
            self._sha.update(data)

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read() if size is None or size < 0 else self._stream.read(size)
        if data:
            self._hash(data)
            self.count += len(data)
            if self._tee is not None:
                self._tee.write(data)
        return data

    def readinto(self, b) -> int:
        readinto = getattr(self._stream, "readinto", None)
        if readinto is None:
            data = self.read(len(b))
            b[: len(data)] = data
            return len(data)
        n = readinto(b) or 0
        if n:
            view = memoryview(b)[:n]
            self._hash(view)
            self.count += n
            if self._tee is not None:
                self._tee.write(view)
        return n

    def close(self) -> None:
        self._join()
        super().close()

    def _join(self) -> None:
        if self._hasher is not None:
            self._pending.put(None)
            self._hasher.join()
            self._hasher = None

    def drain(self) -> None:
        """Read to the end: the digest covers trailing padding the unpacker skipped."""
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> str:
        self._join()
        return "sha256:" + self._sha.hexdigest()
