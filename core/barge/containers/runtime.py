"""What the daemon keeps of each container in memory only: its runtime entry, and the table of them.

The daemon's db holds the records (:mod:`.store`); a :class:`Runtime` holds the
rest: the lock that serialises the container's state changes (start, stop,
rm, cp, commit, network connect ...), the exit watcher's generation, the
exits recorded so far (a stop waits for the next one), waiters of
``/wait``, attaches waiting for a start, clients streaming its output, and
the restart policy's backoff and timer.

:class:`RuntimeTable` pairs the records with their entries: the record of a
reference, held still under its lock (:meth:`RuntimeTable.locked`). The
container service's parts share one table, and so does the network
service, which connects and disconnects containers under the same locks.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from barge.containers.store import Container, ContainerStore
from barge.errors import NotFound

#: The conditions ``POST /wait`` accepts.
WAIT_CONDITIONS = ("not-running", "next-exit", "removed")


@dataclass
class Waiter:
    condition: str
    future: concurrent.futures.Future


@dataclass
class Runtime:
    """One container's in-memory state; every field is read and changed under ``lock``."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    cond: threading.Condition = field(default=None)  # type: ignore[assignment]
    #: bumped at each start (and whenever a pending exit must not be recorded): a watcher
    #: whose generation is past records nothing
    generation: int = 0
    exits: int = 0
    waiters: list[Waiter] = field(default_factory=list)
    #: attach tickets waiting for the next start (:class:`barge.containers.attach.AttachTicket`)
    pending: list[Any] = field(default_factory=list)
    #: clients streaming the output now: an exit lets them drain before the monitor goes
    sessions: int = 0
    backoff: float = 0.0
    timer: threading.Timer | None = None
    #: an exit is recorded and its instance, endpoints and layer are being let go (up to the attach
    #: drain): ``system check`` takes what is left of it for work in progress, not for leftovers
    releasing: bool = False

    def __post_init__(self) -> None:
        self.cond = threading.Condition(self.lock)

    def wait_exit(self, exits_before: int, timeout: float | None) -> bool:
        """Inside ``lock``: wait until the watcher recorded an exit after ``exits_before``."""
        end = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        while self.exits == exits_before:
            remaining = None if end is None else end - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self.cond.wait(remaining if remaining is not None else 1.0)
        return True

    def answer_waiters(self, conditions: tuple[str, ...], code: int, error: str | None) -> None:
        """Inside ``lock``: ``/wait`` calls waiting for one of ``conditions`` get ``(code, error)``."""
        keep = []
        for w in self.waiters:
            if w.condition in conditions:
                if not w.future.done():
                    w.future.set_result((code, error))
            else:
                keep.append(w)
        self.waiters = keep

    def cancel_restart(self) -> None:
        """Inside ``lock``: a restart the policy scheduled does not happen."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def take_pending(self) -> list[Any]:
        """Inside ``lock``: the attaches waiting for a start, handed over (the list is emptied)."""
        pending, self.pending = self.pending, []
        return pending

    def fail_pending(self) -> None:
        """Inside ``lock``: a start failed (or the container goes): attaches waiting for it end;
        the client sees the start's error."""
        for ticket in self.take_pending():
            if not ticket.future.done():
                ticket.future.set_result(None)


class RuntimeTable:
    """Container records (the store) and the runtime entries of the containers in them."""

    def __init__(self, store: ContainerStore):
        self.store = store
        self._entries: dict[str, Runtime] = {}
        self._lock = threading.Lock()
        #: set at daemon shutdown: exit watchers stop recording, restart policies stop
        self.closing = False

    def runtime(self, container_id: str) -> Runtime:
        """The container's entry, created on first use."""
        with self._lock:
            rt = self._entries.get(container_id)
            if rt is None:
                rt = self._entries[container_id] = Runtime()
            return rt

    def releasing(self, container_id: str) -> bool:
        """Whether the container's exit is being released now (see :attr:`Runtime.releasing`)."""
        with self._lock:
            rt = self._entries.get(container_id)
        return rt is not None and rt.releasing

    def forget(self, container_id: str) -> None:
        """The container is gone: its entry goes too."""
        with self._lock:
            self._entries.pop(container_id, None)

    def get(self, ref: str) -> Container:
        """The record of a name, id or id prefix (404 when none)."""
        return self.store.resolve(ref)

    @contextlib.contextmanager
    def locked(self, ref: str) -> Iterator[Container]:
        """The current record, its state changes held off meanwhile (cp, export, commit, connect)."""
        c = self.get(ref)
        rt = self.runtime(c.id)
        with rt.lock:
            current = self.store.get(c.id)
            if current is None:
                raise NotFound(f"No such container: {ref}")
            yield current

    def close(self) -> None:
        """Daemon shutdown: watchers stop recording (the driver keeps the exits for the next start)."""
        self.closing = True
        with self._lock:
            for rt in self._entries.values():
                if rt.timer is not None:
                    rt.timer.cancel()
