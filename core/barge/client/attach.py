"""Carrying a hijacked stream between the local terminal and a container
(docker's ``hijackedIOStreamer``).

Two threads: output (socket -> stdout/stderr, demultiplexed unless TTY) and
input (stdin -> socket, through the detach-key proxy when TTY; at EOF the
socket is half-closed so the container sees EOF and output keeps flowing).
The caller's thread waits in :meth:`Streamer.wait`, where Python can still
run signal handlers.
"""

from __future__ import annotations

import io
import os
import queue
import threading

from barge.client import stdcopy
from barge.client.errors import ClientError, StreamError
from barge.client.hijack import HijackedConnection
from barge.client.term import EscapeProxy, RawTerminal, is_terminal

INPUT_READ = 32 * 1024


class Detached(ClientError):
    """The user typed the detach keys (moby's ``EscapeError``)."""

    def __init__(self) -> None:
        super().__init__("read escape sequence")


def reader_for(stream):
    """``read(n)`` returning what is available (at most n), ``b""`` at EOF."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        fd = None
    if fd is not None:
        return lambda n: os.read(fd, n)
    binary = getattr(stream, "buffer", stream)
    return getattr(binary, "read1", None) or binary.read


class Streamer:
    """Copies one hijacked connection to and from the given streams."""

    def __init__(self, conn: HijackedConnection, stdin=None, stdout=None, stderr=None,
                 tty: bool = False, detach_keys: bytes = b""):
        self.conn = conn
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.tty = tty
        self.detach_keys = detach_keys
        self._events: queue.Queue = queue.Queue()
        self._raw: RawTerminal | None = None
        self._started = False

    # -------------------------------------------------------------- control
    def start(self) -> None:
        """Raw terminal (TTY with a terminal stdin), then the two copy threads."""
        if self.stdin is not None and self.tty and is_terminal(self.stdin):
            self._raw = RawTerminal(self.stdin)
        self._started = True
        if self.stdout is not None or self.stderr is not None:
            threading.Thread(target=self._output, name="barge-output", daemon=True).start()
        threading.Thread(target=self._input, name="barge-input", daemon=True).start()

    def restore_terminal(self) -> None:
        if self._raw is not None:
            self._raw.restore()

    def cancel(self) -> None:
        """Stop streaming (start failed, or we are leaving): close the socket."""
        self.restore_terminal()
        self._events.put(("cancel", None))
        self.conn.close()

    def wait(self, timeout: float | None = None) -> None:
        """Block until streaming ends. Raises :class:`Detached` for the detach
        keys and the output error if output failed; ``None`` otherwise."""
        has_output = self.stdout is not None or self.stderr is not None
        try:
            while True:
                kind, error = self._events.get(timeout=timeout)
                if kind == "output":
                    if error is not None:
                        raise error
                    return
                if kind == "detached":
                    raise Detached()
                if kind == "cancel":
                    return
                if kind == "input" and not has_output:
                    return
        finally:
            self.restore_terminal()

    # -------------------------------------------------------------- threads
    def _output(self) -> None:
        error: Exception | None = None
        try:
            if self.tty and self.stdout is not None:
                stdcopy.copy_raw(self.conn.recv, stdcopy.sink_for(self.stdout))
                self.restore_terminal()
            else:
                stdcopy.demux(self.conn.recv, stdcopy.sink_for(self.stdout), stdcopy.sink_for(self.stderr))
        except StreamError as exc:
            error = exc
        except OSError as exc:
            error = ClientError(str(exc))
        self._events.put(("output", error))

    def _input(self) -> None:
        if self.stdin is not None:
            read = reader_for(self.stdin)
            proxy = EscapeProxy(self.detach_keys if self.tty else b"")
            try:
                while True:
                    data = read(INPUT_READ)
                    if not data:
                        rest = proxy.flush()
                        if rest:
                            self.conn.sendall(rest)
                        break
                    data, detached = proxy.feed(data)
                    if data:
                        self.conn.sendall(data)
                    if detached:
                        self.restore_terminal()
                        self._events.put(("detached", None))
                        return
            except (OSError, ValueError):
                pass  # the connection ended: the output side reports it
            self.restore_terminal()
        self.conn.close_write()
        self._events.put(("input", None))
