"""Signals the CLI receives while a container runs: proxied to the container
(``POST /containers/{id}/kill?signal=NAME``) and SIGWINCH turned into resizes.

As docker's ``ForwardAllSignals``: every catchable signal except SIGCHLD,
SIGPIPE and SIGURG is forwarded by name (``INT``, ``TERM``, ``RTMIN+3``).
Python runs handlers in the main thread; they only queue the work, which a
worker thread sends, so a slow daemon never stalls the handler.
"""

from __future__ import annotations

import queue
import signal
import threading
from typing import Callable

# Never forwarded: the child/pipe bookkeeping signals docker skips, and the
# synchronous faults whose handler would loop on a real fault.
_SKIP = {signal.SIGCHLD, signal.SIGPIPE, signal.SIGURG, signal.SIGKILL, signal.SIGSTOP,
         signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL}


def signal_name(signum: int) -> str:
    """moby's name for a signal number: ``INT``, ``RTMIN+1``, ``RTMAX-2``."""
    rtmin, rtmax = signal.SIGRTMIN, signal.SIGRTMAX
    if rtmin <= signum <= rtmax:
        if signum == rtmin:
            return "RTMIN"
        if signum == rtmax:
            return "RTMAX"
        offset = signum - rtmin
        return f"RTMIN+{offset}" if offset <= 15 else f"RTMAX-{rtmax - signum}"
    try:
        return signal.Signals(signum).name[3:]
    except ValueError:
        return ""


def forwardable() -> list[int]:
    return sorted(s for s in signal.valid_signals() if s not in _SKIP and signal_name(int(s)))


class SignalRouter:
    """Install handlers; ``forward`` gets signal names, ``on_winch`` resizes.

    Use as a context manager: the previous handlers come back on exit. Does
    nothing outside the main thread (Python allows handlers only there).
    """

    def __init__(self, forward: Callable[[str], None] | None = None, on_winch: Callable[[], None] | None = None):
        self.forward = forward
        self.on_winch = on_winch
        self._queue: queue.Queue = queue.Queue()
        self._previous: dict[int, object] = {}
        self._worker: threading.Thread | None = None

    def _handler(self, signum, frame) -> None:
        self._queue.put(signum)

    def _work(self) -> None:
        while True:
            signum = self._queue.get()
            if signum is None:
                return
            try:
                if signum == signal.SIGWINCH and self.on_winch is not None:
                    self.on_winch()
                if self.forward is not None:
                    self.forward(signal_name(signum))
            except Exception:  # noqa: BLE001 - a failed kill/resize must not end forwarding
                pass

    def __enter__(self) -> "SignalRouter":
        if threading.current_thread() is not threading.main_thread():
            return self
        wanted = forwardable() if self.forward is not None else []
        if self.on_winch is not None and signal.SIGWINCH not in wanted:
            wanted.append(signal.SIGWINCH)
        for signum in wanted:
            try:
                self._previous[signum] = signal.signal(signum, self._handler)
            except (OSError, ValueError, RuntimeError):
                continue
        if self._previous:
            self._worker = threading.Thread(target=self._work, name="barge-signals", daemon=True)
            self._worker.start()
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            try:
                signal.signal(signum, previous)  # type: ignore[arg-type]
            except (OSError, ValueError, TypeError):
                pass
        self._previous.clear()
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=2)
            self._worker = None
