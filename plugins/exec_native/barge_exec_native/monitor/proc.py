"""One process whose stdio the monitor owns: the container's init or an exec'd process.

Its output goes to the log driver (the init's only) and to the attached
clients as frames; clients' input goes to its stdin, buffered while the
pipe is full.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from barge_exec_native import helper
from barge_exec_native.attach import EXIT, STDERR, STDOUT, frame
from barge_exec_native.monitor.loop import HUP, IN, OUT, READ_SIZE, Loop

if TYPE_CHECKING:  # pragma: no cover
    from barge.logdriver.copier import LogCopier
    from barge_exec_native.monitor.client import Client

#: How long a terminal's master may take to arrive once the helper said ok
#: (it is sent before that, so it is normally queued already).
CONSOLE_TIMEOUT = 5.0


class Proc:
    """A process whose stdio the monitor owns: the init (key None) or an exec.

    ``on_drained`` is called once the process has exited and its output
    reached end-of-file.
    """

    __slots__ = ("key", "process", "pid", "pid_start", "master", "stdin_fd", "outputs", "stdin_buf",
                 "stdin_closing", "clients", "exit_code", "drain_deadline", "finished", "error", "started_at",
                 "console", "loop", "on_drained", "log", "log_failed")

    def __init__(self, key: str | None, process: dict, loop: Loop, on_drained: Callable[[Proc], None],
                 log: LogCopier | None = None):
        self.key = key
        self.process = process
        self.loop = loop
        self.on_drained = on_drained
        self.log = log  # the init's log driver(s)
        self.log_failed = False
        self.pid = 0
        self.pid_start = 0
        self.master: int | None = None  # pty master (read output, write stdin)
        self.console: socket.socket | None = None  # where the master arrives from (terminal only)
        self.stdin_fd: int | None = None  # pipe write end or the master
        self.outputs: dict[int, str] = {}  # fd -> "stdout" | "stderr"
        self.stdin_buf = bytearray()
        self.stdin_closing = False
        self.clients: list[Client] = []
        self.exit_code: int | None = None
        self.drain_deadline = 0.0
        self.finished = False
        self.error = ""
        self.started_at = ""

    # -- stdio set-up ---------------------------------------------------------

    def fds(self) -> list[int]:
        """The monitor's ends of this process's stdio."""
        fds = list(self.outputs)
        if self.stdin_fd is not None and self.stdin_fd not in fds:
            fds.append(self.stdin_fd)
        return fds

    def close_fds(self) -> None:
        if self.console is not None:
            self.console.close()  # a master still in flight is closed with it
            self.console = None
        for fd in self.fds():
            os.close(fd)
        self.outputs.clear()
        self.stdin_fd = self.master = None
        self.stdin_buf.clear()

    @property
    def stdin_once(self) -> bool:
        return bool(self.process.get("stdin_once"))

    def fork_helper(self, job, stdio: tuple[int, ...]) -> socket.socket:
        """Fork the helper child that sets this process up on ``stdio``; return its socket.

        The child's ends of ``stdio`` are closed here either way; ours too when the fork fails.
        """
        try:
            _, sock = helper.fork_helper(job, list(stdio))
        except BaseException:
            self.close_fds()
            raise
        finally:
            for fd in set(stdio):
                os.close(fd)
        return sock

    def make_stdio(self) -> tuple[tuple[int, ...], bool]:
        """Create pipes or a console socket; return the child's fds and whether a terminal.

        Without a terminal: (stdin, stdout, stderr). With one: (console
        socket,); the container process opens the pty in its own devpts and
        sends the master back (:meth:`receive_console`), as runc does.
        """
        p = self.process
        if p.get("terminal"):
            self.console, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            return (theirs.detach(),), True
        if p.get("stdin"):
            stdin_r, self.stdin_fd = os.pipe()
        else:
            stdin_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        self.outputs[out_r] = "stdout"
        self.outputs[err_r] = "stderr"
        return (stdin_r, out_w, err_w), False

    def receive_console(self) -> bool:
        """Take the pty master the container process sent; False if none came."""
        sock, self.console = self.console, None
        fds: list[int] = []
        try:
            sock.settimeout(CONSOLE_TIMEOUT)
            fds = socket.recv_fds(sock, 16, 4, socket.MSG_CMSG_CLOEXEC)[1]
        except OSError:
            pass
        finally:
            sock.close()
        for extra in fds[1:]:
            os.close(extra)
        if not fds:
            return False
        self.master = fds[0]
        self.outputs[self.master] = "stdout"
        self.stdin_fd = self.master if self.process.get("stdin") else None
        return True

    def watch(self) -> None:
        """Put the stdio in the loop (output) and in non-blocking mode (all)."""
        for fd in self.outputs:
            os.set_blocking(fd, False)
            self.loop.watch(fd, IN, lambda mask, f=fd: self._on_event(f, mask))
        if self.stdin_fd is not None and self.stdin_fd not in self.outputs:
            os.set_blocking(self.stdin_fd, False)

    def release(self) -> None:
        """Out of the loop and closed: the process is done."""
        for fd in self.fds():
            self.loop.unwatch(fd)
        self.close_fds()

    def _fd_events(self, fd: int) -> None:
        """(Re)register ``fd`` for what it needs now."""
        events = 0
        if fd in self.outputs:
            events |= IN
        if fd == self.stdin_fd and (self.stdin_buf or self.stdin_closing):
            events |= OUT
        if events:
            self.loop.watch(fd, events, lambda mask, f=fd: self._on_event(f, mask))
        else:
            self.loop.unwatch(fd)

    def _on_event(self, fd: int, mask: int) -> None:
        if mask & (IN | HUP) and fd in self.outputs:
            self.read_output(fd)
        if mask & (OUT | HUP) and fd == self.stdin_fd:
            self.flush_stdin()

    # -- output ---------------------------------------------------------------

    def read_output(self, fd: int) -> int:
        """Read one chunk: 1 data, 0 nothing yet, -1 EOF (the fd is then closed)."""
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return 0
        except OSError as exc:
            if exc.errno != errno.EIO:  # EIO: pty slave closed
                raise
            data = b""
        if not data:
            self._close_output(fd)
            return -1
        stream = self.outputs[fd]
        if self.log is not None:
            try:
                self.log.write(stream, data)
            except OSError as exc:  # a full disk must not cost the container its monitor
                if not self.log_failed:
                    print(f"monitor: writing the log failed: {exc}", file=sys.stderr, flush=True)
                self.log_failed = True
        number = STDOUT if stream == "stdout" else STDERR
        for client in list(self.clients):
            if (client.stdout if number == STDOUT else client.stderr) and not client.closing:
                client.send(frame(number, data))
        return 1

    def drain(self) -> None:
        """Read what is in the pipes now (after the exit); EOF may finish the process."""
        for fd in list(self.outputs):
            while fd in self.outputs and self.read_output(fd) > 0:
                pass

    def _close_output(self, fd: int) -> None:
        self.outputs.pop(fd, None)
        if fd == self.stdin_fd:  # the pty master: stdin goes with it
            self.stdin_fd = None
            self.stdin_buf.clear()
        if fd == self.master:
            self.master = None
        self.loop.unwatch(fd)
        os.close(fd)
        if self.exit_code is not None and not self.outputs:
            self.on_drained(self)

    # -- stdin ----------------------------------------------------------------

    def write_stdin(self, data: bytes) -> None:
        if self.stdin_fd is None or self.stdin_closing:
            return
        self.stdin_buf += data
        self.flush_stdin()

    def flush_stdin(self) -> None:
        fd = self.stdin_fd
        if fd is None:
            return
        try:
            while self.stdin_buf:
                n = os.write(fd, self.stdin_buf)
                del self.stdin_buf[:n]
        except BlockingIOError:
            pass
        except OSError:  # EPIPE, EIO: nobody reads stdin any more
            self.stdin_buf.clear()
            self.stdin_closing = True
        if not self.stdin_buf and self.stdin_closing:
            self._close_stdin()
            return
        self._fd_events(fd)

    def _close_stdin(self) -> None:
        fd = self.stdin_fd
        self.stdin_closing = False
        if fd is None:
            return
        if fd == self.master:
            # A terminal has no half-close: send its EOF character, as a user would.
            try:
                os.write(fd, b"\x04")
            except OSError:
                pass
            self.stdin_fd = None
            self._fd_events(fd)
            return
        self.stdin_fd = None
        self.loop.unwatch(fd)
        os.close(fd)

    # -- clients --------------------------------------------------------------

    def attach(self, client: Client) -> None:
        """Stream this process to ``client`` (only its exit, when it is over already)."""
        client.proc = self
        client.waiting = None
        if self.finished:
            client.send(frame(EXIT, json.dumps({"exit_code": self.exit_code}).encode()))
            client.closing = True
            return
        self.clients.append(client)
        if not client.read_open and client.stdin and self.stdin_once:
            client.eof()

    def announce_exit(self, code: int) -> None:
        """Send every attached client the exit frame, then let it go."""
        payload = json.dumps({"exit_code": code}).encode()
        for client in list(self.clients):
            client.send(frame(EXIT, payload))
            client.closing = True
            client.update()
