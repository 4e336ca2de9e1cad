"""The monitor's one event loop: epoll, one callback per fd, SIGCHLD through a wakeup fd."""

from __future__ import annotations

import select
import signal
import socket
from collections.abc import Callable

IN, OUT = select.EPOLLIN, select.EPOLLOUT
HUP = select.EPOLLHUP | select.EPOLLERR  # always reported, even with no events asked
READ_SIZE = 65536


def print_exc() -> None:
    """Print the current exception to stderr (monitor.log); traceback is
    imported only then, so monitors do not all carry it."""
    import traceback

    traceback.print_exc()


def _ignore(signum, frame) -> None:
    """Signal handler that only wakes the loop (through the wakeup fd)."""


class Loop:
    """epoll with a callback per watched fd, called with the event mask."""

    __slots__ = ("ep", "_handlers", "_on_child", "_wake_r", "_wake_w")

    def __init__(self) -> None:
        self.ep = select.epoll()
        self._handlers: dict[int, Callable[[int], None]] = {}
        self._on_child: Callable[[], None] | None = None

    def watch(self, fd: int, events: int, callback: Callable[[int], None]) -> None:
        """Watch ``fd`` for ``events`` (0: only hang-up and errors)."""
        if fd in self._handlers:
            self.ep.modify(fd, events)
        else:
            self.ep.register(fd, events)
        self._handlers[fd] = callback

    def unwatch(self, fd: int) -> None:
        if self._handlers.pop(fd, None) is not None:
            self.ep.unregister(fd)

    def poll(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` seconds (None: no limit) and run the callbacks of the ready fds."""
        for fd, mask in self.ep.poll(-1 if timeout is None else timeout):
            callback = self._handlers.get(fd)
            if callback is None:
                continue
            try:
                callback(mask)
            except Exception:  # noqa: BLE001 - one bad event must not cost the container its monitor
                print_exc()

    def on_child_signal(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` from the loop after each SIGCHLD; the signals that must not end the monitor are ignored."""
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # Only SIGCHLD matters; stray job-control and terminal signals must not
        # end the monitor. Ignoring them is safe for the container: libcontainer
        # resets every disposition and the mask before its execve.
        signal.signal(signal.SIGCHLD, _ignore)
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        self._on_child = callback
        self.watch(self._wake_r.fileno(), IN, self._woken)

    def _woken(self, mask: int) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        self._on_child()
