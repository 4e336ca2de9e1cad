"""Following running containers: exit watchers, restart policies, ``/wait``.

One thread per running container blocks in ``barge_exec_wait``; when it
returns, the exit is recorded, ``die`` is emitted, waiters are answered,
attached clients get a moment to drain, the driver's instance and the
network are released, and the restart policy (moby restartmanager's
decision and backoff) or AutoRemove is applied. A runtime's generation
guards all of it: a stop, a removal or a new start bumps it, and a watcher
of an older generation records nothing.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
import time

from barge.containers.context import ContainerContext
from barge.containers.removal import Removal
from barge.containers.runtime import WAIT_CONDITIONS, Runtime, Waiter
from barge.containers.sharing import release_shm
from barge.containers.start import Starter
from barge.containers.store import Container
from barge.errors import BargeError, Conflict, NotFound
from barge.timefmt import parse_rfc3339, rfc3339_nano

log = logging.getLogger("barge.containers")

#: Restart policy backoff (moby restartmanager): 100 ms doubling up to a minute,
#: back to the start after a run of 10 s or more.
BACKOFF_START, BACKOFF_MAX, BACKOFF_RESET_AFTER = 0.1, 60.0, 10.0
#: How long an exit waits for attached clients to receive the last output.
ATTACH_DRAIN = 2.0


def should_restart(policy: dict, exit_code: int, manually_stopped: bool, restart_count: int) -> bool:
    """moby restartmanager's ``ShouldRestart`` decision."""
    name = (policy or {}).get("Name") or "no"
    if name == "always":
        return not manually_stopped
    if name == "unless-stopped":
        return not manually_stopped
    if name == "on-failure":
        limit = int((policy or {}).get("MaximumRetryCount") or 0)
        return exit_code != 0 and not manually_stopped and (limit == 0 or restart_count < limit)
    return False


class Supervisor:
    def __init__(self, ctx: ContainerContext, starter: Starter, removal: Removal):
        self.ctx = ctx
        self.starter = starter
        self.removal = removal

    # -- starts and their watchers ------------------------------------------

    def run(self, c: Container, rt: Runtime) -> None:
        """Inside ``rt.lock``: start the container's process and follow its exit."""
        self.starter.start_locked(c, rt)
        self.follow(c.id, rt)

    def follow(self, cid: str, rt: Runtime) -> None:
        """Inside ``rt.lock``: a new generation, and a thread waiting for its exit."""
        rt.generation += 1
        t = threading.Thread(target=self._watcher, args=(cid, rt.generation), name=f"exit-watch-{cid[:12]}",
                             daemon=True)
        t.start()

    def _watcher(self, cid: str, generation: int) -> None:
        try:
            es = self.ctx.pm.hook.barge_exec_wait(container_id=cid, state_dir=self.ctx.state_dir(cid), timeout=None)
        except Exception as exc:  # noqa: BLE001 - a watcher thread logs any failure instead of dying silently
            if self.ctx.table.closing:
                return
            log.exception("exec driver: waiting for container %s failed", cid[:12])
            es = None
            error = f"barge: lost track of the container's process: {exc}"
        else:
            error = ""
        if self.ctx.table.closing:
            return
        try:
            self._on_exit(cid, generation, es, error)
        except Exception:  # noqa: BLE001 - a watcher thread logs any failure instead of dying silently
            log.exception("recording the exit of container %s failed", cid[:12])

    # -- exits ----------------------------------------------------------------

    def _on_exit(self, cid: str, generation: int, es, error: str = "") -> None:
        rt = self.ctx.table.runtime(cid)
        with rt.lock:
            recorded = self._record_exit(cid, rt, generation, es, error)
            rt.releasing = recorded is not None
        if recorded is None:
            return
        c, restart = recorded
        # attached clients get the last output before the monitor goes
        deadline = time.monotonic() + ATTACH_DRAIN
        with rt.lock:
            try:
                while rt.sessions > 0 and time.monotonic() < deadline:
                    rt.cond.wait(max(0.0, deadline - time.monotonic()))
                if rt.generation == generation:
                    self.ctx.exec_delete(cid)
                    self.ctx.network_teardown(cid)
                    release_shm(self.ctx.store.container_dir(cid))  # joiners keep theirs (moby's UnmountIpcMount)
                    with contextlib.suppress(Exception):
                        self.ctx.pm.hook.barge_graph_put(layer_id=c.rw_layer)
            finally:
                rt.releasing = False
            if restart and rt.generation == generation:
                self._schedule_restart(cid, rt, generation)
                return
        if c.host_config.get("AutoRemove") and not restart:
            try:
                self.removal.remove(cid, force=True, volumes=True)
            except (NotFound, Conflict):
                pass  # removed, or being removed, by someone else meanwhile
            except BargeError:
                log.exception("AutoRemove of container %s failed", cid[:12])

    def _record_exit(self, cid: str, rt: Runtime, generation: int, es,
                     error: str) -> tuple[Container, bool] | None:
        """Inside ``rt.lock``: the exit recorded and told; ``(record, restart?)``, None when stale."""
        if rt.generation != generation:
            return None
        c = self.ctx.store.get(cid)
        if c is None or not c.state.Running:
            return None
        code = 255 if es is None or es.exit_code is None else int(es.exit_code)
        finished = (es.finished_at if es is not None else "") or rfc3339_nano()
        oom = bool(es.oom_killed) if es is not None else False
        error = error or (es.error if es is not None else "")
        ran = parse_rfc3339(finished) - parse_rfc3339(c.state.StartedAt)
        restart = should_restart(c.host_config.get("RestartPolicy"), code, c.state.HasBeenManuallyStopped,
                                 c.restart_count) and not self.ctx.table.closing
        if restart:
            c.state.set_restarting(code, finished, oom)
        else:
            c.state.set_stopped(code, finished, oom, error)
        self.ctx.store.save_state(cid, c.state)
        # events before anyone waiting on the exit moves on, so "die" precedes "stop"
        if oom:
            self.ctx.event("oom", c)
        self.ctx.event("die", c, exitCode=str(code))
        rt.exits += 1
        rt.cond.notify_all()
        rt.answer_waiters(("next-exit", "not-running"), code, None)
        if restart:
            rt.backoff = 0.0 if ran >= BACKOFF_RESET_AFTER else rt.backoff
            rt.backoff = BACKOFF_START if rt.backoff == 0 else min(rt.backoff * 2, BACKOFF_MAX)
        return c, restart

    # -- restart policies -------------------------------------------------------

    def _schedule_restart(self, cid: str, rt: Runtime, generation: int) -> None:
        timer = threading.Timer(rt.backoff, self._policy_restart, (cid, generation))
        timer.daemon = True
        rt.timer = timer
        timer.start()

    def _policy_restart(self, cid: str, generation: int) -> None:
        if self.ctx.table.closing:
            return
        store = self.ctx.store
        rt = self.ctx.table.runtime(cid)
        with rt.lock:
            rt.timer = None
            c = store.get(cid)
            if c is None or rt.generation != generation or not c.state.Restarting:
                return
            try:
                self.run(c, rt)
            except BargeError as exc:
                log.warning("restart policy: container %s failed to start: %s", cid[:12], exc)
                c = store.get(cid)
                if c is not None:
                    c.state.set_stopped(c.state.ExitCode, error=str(exc))
                    store.save_state(cid, c.state)
                return
            store.save_state(cid, c.state, restart_count=c.restart_count + 1)
            self.ctx.event("start", c)  # under the lock, before the watcher's ``die`` of this run

    # -- waiting ------------------------------------------------------------------

    def wait(self, ref: str, condition: str = "not-running") -> concurrent.futures.Future:
        """``POST /wait``: a future of ``(StatusCode, error)``; a 404 is raised at once.

        A condition dockerd 20.10 does not know is its default, ``not-running``, as it reads it."""
        if condition not in WAIT_CONDITIONS:
            condition = "not-running"
        c = self.ctx.get(ref)
        rt = self.ctx.table.runtime(c.id)
        future: concurrent.futures.Future = concurrent.futures.Future()
        with rt.lock:
            current = self.ctx.store.get(c.id)
            if current is None:
                if condition == "removed":
                    future.set_result((c.state.ExitCode, None))
                    return future
                raise NotFound(f"No such container: {ref}")
            if condition == "not-running" and not current.state.Running:
                future.set_result((current.state.ExitCode, None))
                return future
            rt.waiters.append(Waiter(condition, future))
        return future
