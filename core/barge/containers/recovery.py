"""At daemon start, before any request: what a killed daemon left, made whole again.

Journaled creates are undone and removals finished; every record that says
running is reconciled with the exec driver (still running: watched again;
exited meanwhile: its exit recorded; lost: marked so); the networks keep
the endpoints of running containers only; restart policies bring back
the containers they apply to.
"""

from __future__ import annotations

import contextlib
import logging

from barge.containers.commit import COMMIT_PAUSE
from barge.containers.context import ContainerContext
from barge.containers.create import Creator
from barge.containers.lifecycle import Lifecycle
from barge.containers.removal import Removal
from barge.containers.sharing import release_shm
from barge.containers.store import Container
from barge.containers.supervisor import Supervisor
from barge.errors import BargeError
from barge.timefmt import rfc3339_nano

log = logging.getLogger("barge.containers")


class Recovery:
    def __init__(self, ctx: ContainerContext, creator: Creator, removal: Removal, supervisor: Supervisor,
                 lifecycle: Lifecycle):
        self.ctx = ctx
        self.creator = creator
        self.removal = removal
        self.supervisor = supervisor
        self.lifecycle = lifecycle

    def recover(self) -> dict[str, int]:
        """Before serving: finish journaled creates/removals, reconcile running records, restart policies."""
        ctx = self.ctx
        report = {"undone": 0, "removed": 0, "running": 0, "exited": 0, "lost": 0, "restarted": 0}
        self._journal(report)
        for c in ctx.store.all():
            if c.state.Running:
                self._reconcile_running(c, report)
            elif ctx.exec_driver is not None and ctx.store.state_dir(c.id).exists():
                ctx.exec_delete(c.id)  # a daemon killed mid-start left an instance behind
            if not c.state.Running:
                release_shm(ctx.store.container_dir(c.id))  # a killed daemon left its /dev/shm mounted
        if ctx.networking is not None:
            ctx.networking.recover({c.id for c in ctx.store.all() if c.state.Running})
        if ctx.exec_driver is not None:
            self._restart_policies(report)
        return report

    def _journal(self, report: dict[str, int]) -> None:
        """Creates a killed daemon left half-done are undone, removals finished."""
        store = self.ctx.store
        for cid, op in store.pending():
            if op == "create":
                if store.get(cid) is None:
                    self.creator.undo(cid)
                else:
                    store.drop_journal(cid)
                report["undone"] += 1
                continue
            c = store.get(cid)
            if c is None:
                store.drop_journal(cid)
                continue
            try:
                self.removal.finish(c, volumes=False)
                report["removed"] += 1
            except BargeError:
                log.exception("finishing the removal of container %s failed", cid[:12])

    def _restart_policies(self, report: dict[str, int]) -> None:
        for c in self.ctx.store.all():
            if c.state.Running or c.state.StartedAt == "0001-01-01T00:00:00Z":
                continue
            policy = c.host_config.get("RestartPolicy") or {}
            name = policy.get("Name") or "no"
            wanted = (name == "always" or (name == "unless-stopped" and not c.state.HasBeenManuallyStopped)
                      or (name == "on-failure" and c.state.ExitCode != 0 and not c.state.HasBeenManuallyStopped
                          and (not policy.get("MaximumRetryCount")
                               or c.restart_count < int(policy["MaximumRetryCount"]))))
            if wanted:
                try:
                    self.lifecycle.start(c.id)
                    report["restarted"] += 1
                except BargeError as exc:
                    log.warning("restart policy at daemon start: container %s: %s", c.short_id, exc)

    def reconcile(self, c: Container) -> None:
        """Under the container's lock: a record that says running settled with the exec driver (``system check``)."""
        self._reconcile_running(c, {"running": 0, "exited": 0, "lost": 0})

    def _commit_paused(self, c: Container) -> bool:
        """A commit paused it and the daemon was killed before the unpause: unpaused now (True when done)."""
        if not (self.ctx.store.container_dir(c.id) / COMMIT_PAUSE).exists():
            return False
        try:
            self.ctx.pm.hook.barge_exec_resume(container_id=c.id, state_dir=self.ctx.state_dir(c))
        except Exception:  # noqa: BLE001 - left paused, as recorded, when the driver cannot thaw it
            log.exception("unpausing container %s after a cut-off commit failed", c.short_id)
            return False
        log.warning("container %s: a commit's pause was cut off by a daemon kill: unpaused", c.short_id)
        return True

    def _reconcile_running(self, c: Container, report: dict[str, int]) -> None:
        ctx = self.ctx
        if ctx.exec_driver is None:
            c.state.set_stopped(255, error="barge: no exec driver to reconcile this container with")
            ctx.store.save_state(c.id, c.state)
            report["lost"] += 1
            return
        if c.state.Restarting:
            c.state.set_stopped(c.state.ExitCode, c.state.FinishedAt)
            ctx.store.save_state(c.id, c.state)
            report["exited"] += 1
            return
        try:
            es = ctx.pm.hook.barge_exec_state(container_id=c.id, state_dir=ctx.state_dir(c))
        except Exception as exc:  # noqa: BLE001 - whatever the driver says, the record must be settled
            es = None
            reason = str(exc)
        else:
            reason = ""
        status = es.status if es is not None else "unknown"
        if status == "paused" and self._commit_paused(c):
            status = "running"
        with contextlib.suppress(OSError):
            (ctx.store.container_dir(c.id) / COMMIT_PAUSE).unlink(missing_ok=True)
        if status in ("running", "paused"):
            c.state.Pid = es.pid or c.state.Pid
            c.state.Paused = status == "paused"
            ctx.store.save_state(c.id, c.state)
            rt = ctx.table.runtime(c.id)
            with rt.lock:
                self.supervisor.follow(c.id, rt)
            report["running"] += 1
            return
        if status == "stopped":
            code = 255 if es.exit_code is None else int(es.exit_code)
            c.state.set_stopped(code, es.finished_at or rfc3339_nano(), es.oom_killed, es.error)
            report["exited"] += 1
        else:
            c.state.set_stopped(255, error=f"barge: the exec driver lost this container ({status}{': ' + reason if reason else ''})")
            report["lost"] += 1
        ctx.store.save_state(c.id, c.state)
        ctx.exec_delete(c.id)
        ctx.event("die", c, exitCode=str(c.state.ExitCode))
        if c.host_config.get("AutoRemove"):
            with contextlib.suppress(BargeError):
                self.removal.remove(c.id, force=True, volumes=True)
