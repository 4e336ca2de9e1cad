"""A container's state changes: start, stop, kill, restart, pause, unpause, rename, update.

Each runs under the container's runtime lock (the record re-read once it
is held), changes the record, and emits Docker's event after the lock is
released. Starting is the :class:`~barge.containers.supervisor.Supervisor`'s
(it follows the process it starts); stopping and signalling the
:class:`~barge.containers.stopping.Stopper`'s; removal lives in
:mod:`.removal`.
"""

from __future__ import annotations

import contextlib
import logging
import signal as _signal
from typing import Any

from barge.containers import names
from barge.containers.context import ContainerContext
from barge.containers.limits import merge_update, normalize_resources
from barge.containers.removal import Removal
from barge.containers.request import restart_policy
from barge.containers.signals import parse_signal
from barge.containers.spec import resources as resources_of
from barge.containers.stopping import KILL_WAIT, Stopper
from barge.containers.store import Container
from barge.containers.supervisor import Supervisor
from barge.errors import BargeError, Conflict, InvalidParameter, NotFound, NotModified

log = logging.getLogger("barge.containers")


class Lifecycle:
    def __init__(self, ctx: ContainerContext, supervisor: Supervisor, stopper: Stopper, removal: Removal):
        self.ctx = ctx
        self.supervisor = supervisor
        self.stopper = stopper
        self.removal = removal

    def start(self, ref: str) -> None:
        with self.ctx.driving(ref) as (c, rt):
            st = c.state
            if st.Paused:
                raise Conflict("cannot start a paused container, try unpause instead")
            if st.Running and not st.Restarting:
                raise NotModified("container already started")
            if st.RemovalInProgress or st.Dead:
                raise Conflict("container is marked for removal and cannot be started")
            rt.cancel_restart()
            try:
                self.supervisor.run(c, rt)
            except BaseException:
                current = self.ctx.store.get(c.id)
                if current is not None and current.host_config.get("AutoRemove"):
                    self._remove_after_failed_start(current)
                raise
            # under the lock, as the watcher's ``die``: a process that exits at once cannot die before it starts
            self.ctx.event("start", c)

    def _remove_after_failed_start(self, c: Container) -> None:
        try:
            self.removal.remove(c.id, force=True, volumes=True)
        except BargeError:
            log.exception("removing AutoRemove container %s after a failed start", c.short_id)

    def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        """StopSignal, then SIGKILL after the timeout (``-1``: wait forever)."""
        with self.ctx.driving(ref) as (c, rt):
            if not c.state.Running:
                raise NotModified("container already stopped")
            self.stopper.stop_locked(c, rt, timeout, signal)
        self.ctx.event("stop", c)

    def kill(self, ref: str, signal: str | None = None) -> None:
        self.ctx.require_driver()
        sig = parse_signal(signal or "KILL")
        try:
            self.ctx.get(ref)
        except NotFound as exc:  # dockerd words every failure of kill so
            raise NotFound(f"Cannot kill container: {ref}: {exc}") from None
        with self.ctx.driving(ref) as (c, rt):
            if not c.state.Running:
                raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running")
            stop_sig = parse_signal(c.config.get("StopSignal") or "SIGTERM")
            if sig in (_signal.SIGKILL, stop_sig):
                self.stopper.stopped_by_hand(c, rt)
            if c.state.Restarting:
                self.stopper.end_restarting(c, rt)
                return
            before = rt.exits
            try:
                self.stopper.signal(c, sig)
            except Conflict:
                raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running") from None
            self.ctx.event("kill", c, signal=str(sig))
            if sig == _signal.SIGKILL:
                if c.state.Paused:
                    self.stopper.resume_quietly(c)
                rt.wait_exit(before, KILL_WAIT)

    def restart(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        with self.ctx.driving(ref) as (c, rt):
            if c.state.Running:
                self.stopper.stop_locked(c, rt, timeout, signal)
                c = self.ctx.store.get(c.id) or c
                self.ctx.event("stop", c)
        self.start(c.id)
        self.ctx.event("restart", c)

    def pause(self, ref: str) -> None:
        with self.ctx.driving(ref) as (c, rt):
            if not c.state.Running:
                raise Conflict(f"Container {c.id} is not running")
            if c.state.Paused:
                raise Conflict(f"Container {c.id} is already paused")
            if c.state.Restarting:
                raise Conflict(f"Container {c.id} is restarting, wait until the container is running")
            self.ctx.pm.hook.barge_exec_pause(container_id=c.id, state_dir=self.ctx.state_dir(c))
            c.state.Paused = True
            self.ctx.store.save_state(c.id, c.state)
        self.ctx.event("pause", c)

    def unpause(self, ref: str) -> None:
        with self.ctx.driving(ref) as (c, rt):
            if not c.state.Paused:
                raise Conflict(f"Container {c.id} is not paused")
            self.ctx.pm.hook.barge_exec_resume(container_id=c.id, state_dir=self.ctx.state_dir(c))
            c.state.Paused = False
            self.ctx.store.save_state(c.id, c.state)
        self.ctx.event("unpause", c)

    def rename(self, ref: str, new_name: str) -> None:
        c = self.ctx.get(ref)
        if not new_name:
            raise InvalidParameter("Neither old nor new names may be empty")
        full = names.validate_name(new_name)
        if full == c.name:
            raise InvalidParameter("Renaming a container with the same name as its current name")
        self.ctx.store.rename(c.id, full)
        if self.ctx.networking is not None:
            self.ctx.networking.renamed(c.id, c.name, full)
        renamed = self.ctx.store.get(c.id) or c
        self.ctx.event("rename", renamed, oldName=c.name)

    def update(self, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /update`` (``body`` decoded): resources (applied to a running container's cgroups)
        and the restart policy."""
        ctx = self.ctx
        c = ctx.get(ref)
        rt = ctx.table.runtime(c.id)
        warnings: list[str] = []
        with rt.lock:
            c = ctx.store.get(c.id) or c
            host = merge_update(c.host_config, body)
            normalize_resources(host, ctx.sysinfo, warnings, update=True)
            # only what this update asked for: the record's own settings were warned about at create
            settled: list[str] = []
            with contextlib.suppress(InvalidParameter):
                normalize_resources(dict(c.host_config), ctx.sysinfo, settled, update=True)
            warnings = [w for w in warnings if w not in settled]
            if body.get("RestartPolicy") and (body["RestartPolicy"].get("Name") or ""):
                policy = restart_policy({"RestartPolicy": body["RestartPolicy"]})
                if host.get("AutoRemove") and policy["Name"] != "no":
                    raise InvalidParameter("Restart policy cannot be updated because AutoRemove is enabled for the container")
                host["RestartPolicy"] = policy
            if c.state.Running and not c.state.Restarting:
                ctx.require_driver()
                resources = resources_of(host)
                if body.get("PidsLimit") is not None and body["PidsLimit"] <= 0:
                    resources.pids_limit = -1  # lifted: written as "max"
                ctx.pm.hook.barge_exec_update(container_id=c.id, state_dir=ctx.state_dir(c), resources=resources)
            ctx.store.save_host_config(c.id, host)
        ctx.event("update", c)
        return {"Warnings": warnings or None}  # dockerd: null when there is nothing to warn of
