"""Docker's ``json-file`` log: one JSON object per line of container output.

``{"log":"hi\\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}``.
Output is cut at newlines like Docker's copier: a line is written when its
newline arrives; a partial line is held until then, or written as it is when
it grows past :data:`MAX_PARTIAL` or the stream ends. With ``max_size`` the
file is rotated before a line would make it larger: ``<path>`` becomes
``<path>.1``, ``.1`` becomes ``.2`` ... up to ``max_file - 1`` old files
(``max_file`` 1 truncates in place, as Docker does).
"""

from __future__ import annotations

import json
import os

from barge_exec_native.state import rfc3339_nano

#: Docker's copier buffer: longer lines are split into pieces of this size.
MAX_PARTIAL = 16 * 1024


class JsonLogWriter:
    def __init__(self, path: str, max_size: int | None = None, max_file: int = 1):
        self.path = path
        self.max_size = max_size if max_size and max_size > 0 else None
        self.max_file = max(1, int(max_file or 1))
        self._pending: dict[str, bytes] = {}
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def write(self, stream: str, data: bytes) -> None:
        """Log ``data`` read from ``stream`` (``stdout`` or ``stderr``)."""
        buf = self._pending.pop(stream, b"") + data
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            self._entry(stream, buf[start : nl + 1])
            start = nl + 1
        rest = buf[start:]
        while len(rest) >= MAX_PARTIAL:
            self._entry(stream, rest[:MAX_PARTIAL])
            rest = rest[MAX_PARTIAL:]
        if rest:
            self._pending[stream] = rest

    def flush(self) -> None:
        """Write the partial lines held back (the streams ended)."""
        for stream in list(self._pending):
            self._entry(stream, self._pending.pop(stream))

    def close(self) -> None:
        self.flush()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _entry(self, stream: str, line: bytes) -> None:
        text = line.decode("utf-8", "replace")
        record = json.dumps({"log": text, "stream": stream, "time": rfc3339_nano()}, ensure_ascii=False, separators=(",", ":"))
        out = (record + "\n").encode()
        if self.max_size is not None and self._size > 0 and self._size + len(out) > self.max_size:
            self._rotate()
        os.write(self._fd, out)
        self._size += len(out)

    def _rotate(self) -> None:
        os.close(self._fd)
        if self.max_file > 1:
            for i in range(self.max_file - 1, 0, -1):
                older = f"{self.path}.{i}"
                src = self.path if i == 1 else f"{self.path}.{i - 1}"
                try:
                    os.rename(src, older)
                except FileNotFoundError:
                    pass
            self._fd = self._open()
        else:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC)
        self._size = 0
