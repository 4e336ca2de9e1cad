"""Signalling a container's process, and stopping it: StopSignal, then SIGKILL after a timeout.

Used by ``stop``, ``kill``, ``restart`` and ``rm -f``, always inside the
container's runtime lock; the exit itself is recorded by the exit watcher,
whose count of exits (:meth:`barge.containers.runtime.Runtime.wait_exit`)
tells a stop that the process is gone.
"""

from __future__ import annotations

import contextlib
import logging
import signal as _signal

from barge.containers.context import ContainerContext
from barge.containers.runtime import Runtime
from barge.containers.signals import parse_signal
from barge.containers.store import Container
from barge.errors import BargeError, Conflict

log = logging.getLogger("barge.containers")

#: How long a SIGKILL (kill, rm -f, stop after its timeout) waits for the exit.
KILL_WAIT = 10.0


class Stopper:
    def __init__(self, ctx: ContainerContext):
        self.ctx = ctx

    def signal(self, c: Container, sig: int) -> None:
        """The signal to the process (Conflict when the process is gone)."""
        self.ctx.pm.hook.barge_exec_kill(container_id=c.id, state_dir=self.ctx.state_dir(c), signal=sig)

    def send(self, c: Container, sig: int) -> None:
        """Signal the process and record the kill; a paused one is resumed to act on it.
        Conflict when the process is gone."""
        self.signal(c, sig)
        self.ctx.event("kill", c, signal=str(sig))
        if c.state.Paused:
            self.resume_quietly(c)

    def resume_quietly(self, c: Container) -> None:
        with contextlib.suppress(BargeError):
            self.ctx.pm.hook.barge_exec_resume(container_id=c.id, state_dir=self.ctx.state_dir(c))

    def stopped_by_hand(self, c: Container, rt: Runtime) -> None:
        """Inside ``rt.lock``: no restart policy brings it back, none pending either."""
        c.state.HasBeenManuallyStopped = True
        self.ctx.store.save_state(c.id, c.state)
        rt.cancel_restart()

    def end_restarting(self, c: Container, rt: Runtime) -> None:
        """Inside ``rt.lock``: a container waiting for its policy restart stays stopped."""
        c.state.set_stopped(c.state.ExitCode, c.state.FinishedAt)
        self.ctx.store.save_state(c.id, c.state)
        rt.generation += 1  # the pending restart's generation is void now

    def stop_locked(self, c: Container, rt: Runtime, timeout: int | None, signal: str | None) -> None:
        """Inside ``rt.lock``: StopSignal, then SIGKILL after the timeout (``-1``: wait forever)."""
        sig = parse_signal(signal or c.config.get("StopSignal") or "SIGTERM")
        if timeout is None:
            timeout = c.config.get("StopTimeout")
            if timeout is None:
                timeout = 10
        self.stopped_by_hand(c, rt)
        if c.state.Restarting:
            self.end_restarting(c, rt)
            return
        before = rt.exits
        with contextlib.suppress(Conflict):  # it exited meanwhile
            self.send(c, sig)
        if rt.wait_exit(before, timeout):
            return
        log.info("container %s did not stop within %ss after signal %d: killing it", c.short_id, timeout, sig)
        with contextlib.suppress(Conflict):
            self.signal(c, _signal.SIGKILL)
            self.ctx.event("kill", c, signal=str(int(_signal.SIGKILL)))
        if not rt.wait_exit(before, KILL_WAIT):
            raise BargeError(f"container {c.id} did not exit after SIGKILL")

    def kill_for_removal(self, c: Container, rt: Runtime) -> Container:
        """Inside ``rt.lock``, for ``rm -f``: the process killed and its exit recorded; the record now."""
        self.ctx.require_driver()
        self.stopped_by_hand(c, rt)
        if c.state.Restarting:
            c.state.set_stopped(c.state.ExitCode, c.state.FinishedAt)
            rt.generation += 1
            return c
        before = rt.exits
        with contextlib.suppress(Conflict):
            self.send(c, int(_signal.SIGKILL))
        if not rt.wait_exit(before, KILL_WAIT):
            raise BargeError(f"could not kill running container {c.id}, cannot remove")
        return self.ctx.store.get(c.id) or c
