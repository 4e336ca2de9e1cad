"""The local terminal: raw mode for ``-t``, its size, and the detach keys.

Raw mode is what moby/term's ``MakeRaw`` does (cfmakeraw: no echo, no line
editing, no signals from ctrl-c, no output post-processing), so every key
goes to the container's terminal; the previous settings come back on exit.
"""

from __future__ import annotations

import os
import termios
import threading
import tty


def is_terminal(stream) -> bool:
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False


def size(stream) -> tuple[int, int]:
    """(height, width) of the terminal behind ``stream``; (0, 0) if none."""
    try:
        columns, lines = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return 0, 0
    return lines, columns


class RawTerminal:
    """Put a terminal in raw mode; :meth:`restore` (idempotent) puts it back."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        self._saved = termios.tcgetattr(self.fd)
        self._lock = threading.Lock()
        self._restored = False
        tty.setraw(self.fd, termios.TCSANOW)

    def restore(self) -> None:
        with self._lock:
            if self._restored:
                return
            self._restored = True
            try:
                termios.tcsetattr(self.fd, termios.TCSANOW, self._saved)
            except termios.error:
                pass


class EscapeProxy:
    """Finds the detach sequence in what the user types.

    :meth:`feed` returns the bytes to forward and whether the sequence was
    seen. A partial sequence at the end of a read is held back until the next
    read shows whether it completes (moby's escape proxy does the same, one
    key at a time); the search itself is ``bytes.find``, not a Python loop.
    """

    def __init__(self, keys: bytes):
        self.keys = keys
        self.pending = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        if not self.keys:
            return data, False
        if self.pending:
            data, self.pending = self.pending + data, b""
        i = data.find(self.keys)
        if i >= 0:
            return data[:i], True
        for k in range(min(len(self.keys) - 1, len(data)), 0, -1):
            if data.endswith(self.keys[:k]):
                self.pending = data[-k:]
                return data[:-k], False
        return data, False

    def flush(self) -> bytes:
        """What is held back, when input ends."""
        data, self.pending = self.pending, b""
        return data
