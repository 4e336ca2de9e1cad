"""One connection on attach.sock, from its first line to its close.

Its first line is a control message or an attach request (ATTACH PROTOCOL in
:mod:`barge.execdriver`), handed to the server; after an attach, what it
sends is the process's stdin and what it receives the process's frames.
Output it does not read piles up to :data:`MAX_CLIENT_BACKLOG`, then it is
dropped: a stuck client must not stall the container.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from barge_exec_native.monitor.loop import HUP, IN, OUT, READ_SIZE, Loop

if TYPE_CHECKING:  # pragma: no cover
    from barge_exec_native.monitor.proc import Proc

#: A client that lets this much output pile up unread is dropped.
MAX_CLIENT_BACKLOG = 8 << 20
#: The longest first line (hello) accepted.
MAX_HELLO = 65536


class Client:
    """One connection on attach.sock, read from the loop from the start.

    ``on_hello(client, line, rest)`` gets its first line and what came after it.
    """

    __slots__ = ("sock", "inbuf", "out", "hello", "proc", "stdin", "stdout", "stderr", "closing", "read_open",
                 "loop", "on_hello", "waiting")

    def __init__(self, sock: socket.socket, loop: Loop, on_hello: Callable[[Client, bytes, bytes], None]):
        self.sock = sock
        self.loop = loop
        self.on_hello = on_hello
        self.inbuf = b""
        self.out = bytearray()
        self.hello: dict | None = None
        self.proc: Proc | None = None
        self.waiting: list[Client] | None = None  # the list it waits in for an exec to start
        self.stdin = self.stdout = self.stderr = False
        self.closing = False  # close once ``out`` is flushed
        self.read_open = True
        loop.watch(sock.fileno(), IN, self._on_event)

    def update(self) -> None:
        """(Re)register for what the connection needs now; close it once done and flushed."""
        fd = self.sock.fileno()
        if fd < 0:
            return
        if self.closing and not self.out:
            self.drop()
            return
        events = IN if self.read_open else 0
        if self.out:
            events |= OUT
        # Even with no events asked, epoll reports the client's hang-up.
        self.loop.watch(fd, events, self._on_event)

    def _on_event(self, mask: int) -> None:
        if mask & OUT:
            self._flush()
        if mask & IN and self.read_open and self.sock.fileno() >= 0:
            try:
                data = self.sock.recv(READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.eof()
            elif self.hello is None:
                self.inbuf += data
                if b"\n" in self.inbuf:
                    line, rest = self.inbuf.split(b"\n", 1)
                    self.inbuf = b""
                    self.on_hello(self, line, rest)
                elif len(self.inbuf) > MAX_HELLO:
                    self.reply({"ok": False, "error": "request line too long"}, close=True)
            elif self.proc is not None and self.stdin:
                self.proc.write_stdin(data)
        if mask & HUP and self.sock.fileno() >= 0:  # gone both ways: nobody to write to
            if self.read_open:
                self.eof()
            self.drop()
            return
        if self.sock.fileno() >= 0:
            self.update()

    def eof(self) -> None:
        """The client will send nothing more (half-close, hang-up).

        moby's rule: that closes a ``stdin_once`` process's stdin only when
        it has no terminal. With one (``docker run -it``), the client's EOF
        is a detach or a dropped client, and the shell must live on.
        """
        self.read_open = False
        proc = self.proc
        if (proc is not None and self.stdin and proc.stdin_once and proc.stdin_fd is not None
                and not proc.process.get("terminal")):
            proc.stdin_closing = True
            proc.flush_stdin()
        if self.hello is None or self.hello.get("control"):
            self.closing = True

    def send(self, data: bytes) -> None:
        if self.sock.fileno() < 0:
            return
        self.out += data
        if len(self.out) > MAX_CLIENT_BACKLOG:
            self.drop()
            return
        self._flush()
        if self.sock.fileno() >= 0:
            self.update()

    def _flush(self) -> None:
        try:
            while self.out:
                n = self.sock.send(self.out)
                del self.out[:n]
        except BlockingIOError:
            return
        except OSError:
            self.drop()

    def reply(self, answer: dict, close: bool = False) -> None:
        """Send one JSON line; with ``close``, hang up once it is flushed."""
        self.send(json.dumps(answer).encode() + b"\n")
        if close:
            self.closing = True
            self.read_open = False
            if self.sock.fileno() >= 0:
                self.update()

    def drop(self) -> None:
        """Close the connection and forget it everywhere."""
        fd = self.sock.fileno()
        if fd >= 0:
            self.loop.unwatch(fd)
        self.sock.close()
        if self.proc is not None and self in self.proc.clients:
            self.proc.clients.remove(self)
        if self.waiting is not None and self in self.waiting:
            self.waiting.remove(self)
