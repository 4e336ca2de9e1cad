"""Attach sessions: ``POST /containers/{id}/attach`` and resize, over the monitor's attach socket.

An attach is checked, then gets a ticket (:class:`AttachTicket`, the
:class:`barge.contracts.containers.AttachSession` the API proxies): its
future gives a socket connected to the container's monitor, at once when
the container runs, else at its next start, whose monitor holds the
client until the process exists so no output is lost. A failed start
ends the attaches waiting for it (the future gives ``None``). While a
client streams the output (:meth:`AttachTicket.live`), an exit waits a
little for it to drain before the monitor goes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from dataclasses import dataclass, field
from typing import Iterator

from barge.containers import monitor
from barge.containers.context import ContainerContext
from barge.containers.logs import Entry, open_reader
from barge.containers.runtime import Runtime
from barge.containers.store import Container
from barge.contracts.attach import parse_detach_keys
from barge.contracts.containers import LogOptions
from barge.errors import Conflict, NotImplementedByDriver


@dataclass(eq=False)
class AttachTicket:
    """An attach request: the future gives a socket connected to the monitor (or ``None``)."""

    container: Container
    #: stdin goes to the process: asked for, and the container was created with OpenStdin
    stdin: bool
    stdout: bool
    stderr: bool
    detach_keys: str | None
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)
    attachments: "Attachments | None" = None

    @property
    def tty(self) -> bool:
        return self.container.tty

    @property
    def close_stdin(self) -> bool:
        """The client's EOF on stdin closes the process's (StdinOnce, without a terminal)."""
        return bool(self.container.config.get("StdinOnce")) and not self.tty

    def cancel(self) -> None:
        if self.attachments is not None:
            self.attachments.drop(self)

    def replay(self, stdout: bool, stderr: bool) -> list[Entry]:
        """The container's log so far (``logs=1``), read once."""
        c = self.container
        try:
            reader = open_reader(c.id, c.host_config, c.log_path, LogOptions(stdout=stdout, stderr=stderr))
        except NotImplementedByDriver:
            return []  # none, or a driver without its cache: nothing to replay
        try:
            return reader.initial()
        finally:
            reader.close()

    def live(self) -> contextlib.AbstractContextManager[None]:
        """Held while the client streams output, so an exit lets it drain before cleanup."""
        if self.attachments is None:
            return contextlib.nullcontext()
        return self.attachments.session(self.container.id)

    def detached(self) -> None:
        """The client left with the detach keys (moby's ``detach`` event)."""
        if self.attachments is not None:
            self.attachments.ctx.event("detach", self.attachments.ctx.store.get(self.container.id) or self.container)


class Attachments:
    def __init__(self, ctx: ContainerContext):
        self.ctx = ctx

    def attach(self, ref: str, *, stream: bool, stdin: bool, stdout: bool, stderr: bool,
               detach_keys: str | None) -> AttachTicket:
        """Checks, then a ticket whose future is a connected monitor socket (now, or at the next start)."""
        self.ctx.require_driver()
        c = self.ctx.get(ref)
        if c.state.Paused:
            raise Conflict(f"container {ref} is paused, unpause the container before attach")
        if c.state.Restarting:
            raise Conflict(f"container {ref} is restarting, wait until the container is running")
        if detach_keys:
            parse_detach_keys(detach_keys)
        # moby attaches stdin only to a container created with OpenStdin
        ticket = AttachTicket(c, stdin and bool(c.config.get("OpenStdin")), stdout, stderr, detach_keys,
                              attachments=self)
        if not stream:
            ticket.future.set_result(None)
            return ticket
        rt = self.ctx.table.runtime(c.id)
        with rt.lock:
            current = self.ctx.store.get(c.id) or c
            if current.state.Running:
                try:
                    sock = self._connect(ticket, self.ctx.state_dir(c))
                except monitor.MonitorGone:  # it exited as we came, its exit not yet recorded: the stream
                    sock = None  # ends at once, as a dockerd attach made just before an exit ends with it
                ticket.future.set_result(sock)
            else:
                rt.pending.append(ticket)
        self.ctx.event("attach", c)
        return ticket

    @staticmethod
    def _connect(ticket: AttachTicket, state_dir: str):
        return monitor.connect(state_dir, stdin=ticket.stdin, stdout=ticket.stdout, stderr=ticket.stderr,
                               detach_keys=ticket.detach_keys)

    def connect_pending(self, rt: Runtime, state_dir: str) -> None:
        """Inside ``rt.lock``, at a start, before the process runs: the waiting attaches connect."""
        for ticket in rt.take_pending():
            if ticket.future.done():
                continue
            try:
                ticket.future.set_result(self._connect(ticket, state_dir))
            except Exception as exc:  # noqa: BLE001 - handed to the waiting attach, which raises it
                ticket.future.set_exception(exc)

    def drop(self, ticket: AttachTicket) -> None:
        """The client went: no longer waiting for a start, and a socket it got is closed."""
        rt = self.ctx.table.runtime(ticket.container.id)
        with rt.lock:
            if ticket in rt.pending:
                rt.pending.remove(ticket)
            if not ticket.future.done():
                ticket.future.cancel()
        if ticket.future.done() and not ticket.future.cancelled() and ticket.future.exception() is None:
            sock = ticket.future.result()
            if sock is not None:
                sock.close()

    @contextlib.contextmanager
    def session(self, cid: str) -> Iterator[None]:
        """Counts clients streaming output, so an exit lets them drain before cleanup."""
        rt = self.ctx.table.runtime(cid)
        with rt.lock:
            rt.sessions += 1
        try:
            yield
        finally:
            with rt.lock:
                rt.sessions -= 1
                rt.cond.notify_all()

    def resize(self, ref: str, height: int, width: int) -> None:
        self.ctx.require_driver()
        c = self.ctx.get(ref)
        if not c.state.Running:
            raise Conflict(f"Container {c.id} is not running")
        if c.config.get("Tty"):  # without a terminal there is nothing to size: dockerd answers 200 all the same
            monitor.resize(self.ctx.state_dir(c), height, width)
        self.ctx.event("resize", c, height=str(height), width=str(width))
