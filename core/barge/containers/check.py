"""The containers' invariants, for ``barge system check``: records <-> the exec driver, layers, directories.

- a record that says running has an instance the exec driver runs (else
  its exit is recorded, as a daemon start would); one that does not has no
  instance left (state dir, monitor, cgroup), no /dev/shm mounted;
- its image, its rw layer and its directory exist; its state is one that
  can be (a pid while running, none after);
- no directory under ``containers/`` (data root and exec root) belongs to no
  record.

A container being created, removed or restarted is skipped: its records and
files are moving. A container busy with a lifecycle step (its lock held for
more than a few seconds) is skipped too and counted as such.
"""

from __future__ import annotations

import os
import shutil
import time

from barge.consistency import Finding, finding
from barge.containers.context import ContainerContext
from barge.containers.recovery import Recovery
from barge.containers.sharing import release_shm, shm_path
from barge.containers.store import Container

LOCK_WAIT = 5.0
#: a watcher records an exit within moments; a running record the driver calls stopped gets this long
EXIT_GRACE = 2.0
REMOVE_IT = "remove the container with rm -f"


def cgroup_path(c: Container) -> str:
    """Where the spec builder puts the container's cgroup (``spec.py``)."""
    return f"{(c.host_config.get('CgroupParent') or 'barge').strip('/')}/{c.id}"


class ContainerCheck:
    def __init__(self, ctx: ContainerContext, recovery: Recovery):
        self.ctx = ctx
        self.recovery = recovery

    def run(self, driver_layers: set[str] | None) -> tuple[list[Finding], dict[str, int]]:
        store = self.ctx.store
        moving = {cid for cid, _op in store.pending()}
        found: list[Finding] = []
        records = store.all()
        skipped = 0
        for c in records:
            if c.id in moving or c.state.RemovalInProgress or c.state.Restarting:
                continue
            rt = self.ctx.table.runtime(c.id)
            if not rt.lock.acquire(timeout=LOCK_WAIT):
                skipped += 1
                continue
            try:
                current = store.get(c.id)
                if rt.releasing:  # an exit being let go (the attach drain): its leftovers are work in progress
                    skipped += 1
                elif current is not None:
                    found += self._record(current, driver_layers)
            finally:
                rt.lock.release()
        found += self._orphans()
        return found, {"containers": len(records), "containers busy (skipped)": skipped}

    # -- one record ---------------------------------------------------------------------

    def _record(self, c: Container, driver_layers: set[str] | None) -> list[Finding]:
        ctx = self.ctx
        out: list[Finding] = []
        if ctx.images.get(c.image_id) is None:
            out.append(finding("containers", c.id, f"its image {c.image_id} is gone", left=REMOVE_IT))
        if driver_layers is not None and c.rw_layer not in driver_layers:
            out.append(finding("containers", c.id, f"the graph driver lost its rw layer {c.rw_layer}",
                               left="its files are gone: " + REMOVE_IT))
        if not ctx.store.container_dir(c.id).is_dir():
            out.append(finding("containers", c.id, "its directory (hostname, hosts, logs) is gone",
                               left=REMOVE_IT))
        if c.state.Running:
            out += self._running(c)
        else:
            out += self._stopped(c)
        return out

    def _running(self, c: Container) -> list[Finding]:
        ctx = self.ctx
        if ctx.exec_driver is None:
            return []
        status = self._driver_status(c)
        if status not in ("running", "paused"):
            return [finding("containers", c.id, f"its record says running but the exec driver says {status}",
                            remedy="record its exit, as a daemon start does",
                            repair=lambda: self._settle(c.id))]
        out: list[Finding] = []
        if c.state.Pid <= 0:
            out.append(finding("containers", c.id, "runs without a pid in its record", left="restart it"))
        out += ctx.pm.hook.barge_exec_audit(container_id=c.id, state_dir=ctx.state_dir(c),
                                            cgroup_path=cgroup_path(c), running=True) or []
        return out

    def _driver_status(self, c: Container) -> str:
        try:
            es = self.ctx.pm.hook.barge_exec_state(container_id=c.id, state_dir=self.ctx.state_dir(c))
        except Exception as exc:  # noqa: BLE001 - whatever the driver says is the finding
            return f"unknown ({exc})"
        return es.status if es is not None else "unknown"

    def _settle(self, cid: str) -> str:
        rt = self.ctx.table.runtime(cid)
        deadline = time.monotonic() + EXIT_GRACE  # the exit watcher may be about to record it
        while time.monotonic() < deadline:
            c = self.ctx.store.get(cid)
            if c is None or not c.state.Running:
                return "its exit watcher recorded the exit meanwhile"
            time.sleep(0.1)
        with rt.lock:
            c = self.ctx.store.get(cid)
            if c is None or not c.state.Running:
                return "its exit watcher recorded the exit meanwhile"
            self.recovery.reconcile(c)
        return "recorded its exit"

    def _stopped(self, c: Container) -> list[Finding]:
        ctx = self.ctx
        out: list[Finding] = []
        if c.state.Pid:
            out.append(finding("containers", c.id, f"is not running but its record keeps pid {c.state.Pid}",
                               remedy="clear the pid", repair=lambda: self._clear_pid(c.id)))
        if ctx.exec_driver is not None:
            out += ctx.pm.hook.barge_exec_audit(container_id=c.id, state_dir=ctx.state_dir(c),
                                                cgroup_path=cgroup_path(c), running=False) or []
            if ctx.store.state_dir(c.id).exists() and not out:
                out.append(finding("containers", c.id, "is not running but the exec driver's files of it are left",
                                   remedy="release its exec instance",
                                   repair=lambda: (ctx.exec_delete(c.id), "released its exec instance")[1]))
        shm = shm_path(ctx.store.container_dir(c.id))
        if os.path.ismount(shm):
            out.append(finding("mounts", str(shm), f"container {c.short_id} is not running but its /dev/shm is "
                               "mounted", remedy="unmount it",
                               repair=lambda: (release_shm(ctx.store.container_dir(c.id)), "unmounted it")[1]))
        return out

    def _clear_pid(self, cid: str) -> str:
        with self.ctx.table.runtime(cid).lock:
            c = self.ctx.store.get(cid)
            if c is not None and not c.state.Running:
                c.state.Pid = 0
                self.ctx.store.save_state(cid, c.state)
        return "cleared the pid"

    # -- what belongs to no record ------------------------------------------------------

    def _orphans(self) -> list[Finding]:
        """Directories listed first, records read after: a create journals its id before it makes
        any, so a directory listed is the journal's or a record's by the time they are read."""
        ctx, out = self.ctx, []
        data = ctx.store.data_root / "containers"
        states = ctx.store.exec_root / "containers"
        dirs = sorted(p for p in data.iterdir() if p.is_dir()) if data.is_dir() else []
        state_dirs = sorted(states.iterdir()) if states.is_dir() else []
        known = set(ctx.store.ids()) | {cid for cid, _op in ctx.store.pending()}
        for path in dirs:
            if path.name not in known:
                out.append(finding("containers", str(path), "a container directory of no container",
                                   remedy="remove it", repair=lambda p=path: _remove_dir(p)))
        for path in state_dirs:
            if path.name not in known:
                out.append(finding("containers", str(path), "exec driver files of no container",
                                   remedy="release the instance (its processes end)",
                                   repair=lambda cid=path.name, p=path: self._release_orphan(cid, p)))
        return out

    def _release_orphan(self, cid: str, path) -> str:
        self.ctx.exec_delete(cid)
        shutil.rmtree(path, ignore_errors=True)
        return "released it"


def _remove_dir(path) -> str:
    release_shm(path)
    shutil.rmtree(path, ignore_errors=True)
    return "removed it"
