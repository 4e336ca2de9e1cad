"""Removing containers: ``rm`` (``-f``, ``-v``), AutoRemove, and ``POST /containers/prune``.

A removal is journaled: the record says *removing* before anything is
released, and the row goes last, so a daemon killed midway finishes it at
its next start (:meth:`Removal.finish`, called by recovery too).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from barge.containers.context import ContainerContext
from barge.containers.runtime import WAIT_CONDITIONS
from barge.containers.sharing import release_shm
from barge.containers.stopping import Stopper
from barge.containers.store import Container
from barge.errors import Conflict, InvalidParameter, NotFound
from barge.filters import labels_match, prune_until

log = logging.getLogger("barge.containers")


class Removal:
    def __init__(self, ctx: ContainerContext, stopper: Stopper):
        self.ctx = ctx
        self.stopper = stopper

    def remove(self, ref: str, force: bool = False, volumes: bool = False, link: bool = False) -> None:
        ctx = self.ctx
        c = ctx.get(ref)
        if link:  # moby's rmLink: the link ``ref`` names goes, the container stays
            ctx.store.links.remove(ref)
            return
        rt = ctx.table.runtime(c.id)
        with rt.lock:
            c = ctx.store.get(c.id)
            if c is None:
                raise NotFound(f"No such container: {ref}")
            if c.state.RemovalInProgress:
                raise Conflict(f"removal of container {c.id} is already in progress")
            if c.state.Running:
                if not force:
                    raise Conflict(
                        f"You cannot remove a running container {c.id}. "
                        "Stop the container before attempting removal or force remove"
                    )
                c = self.stopper.kill_for_removal(c, rt)
            rt.fail_pending()
            ctx.store.begin_remove(c.id, c.state)
            rt.generation += 1  # a watcher still running has nothing left to record
        self.finish(c, volumes)

    def finish(self, c: Container, volumes: bool) -> None:
        """Release everything, then drop the row (a killed daemon redoes this at its next start)."""
        ctx = self.ctx
        if ctx.exec_driver is not None:
            ctx.exec_delete(c.id)
        else:
            shutil.rmtree(ctx.store.state_dir(c.id), ignore_errors=True)
        ctx.network_teardown(c.id)
        ctx.pm.hook.barge_graph_remove(layer_id=c.rw_layer)
        release_shm(ctx.store.container_dir(c.id))  # before its directory goes: rmtree would empty the tmpfs
        shutil.rmtree(ctx.store.container_dir(c.id), ignore_errors=True)
        anonymous = [p for p in c.mounts if p["Type"] == "volume" and p.get("Anonymous")]
        if volumes and ctx.volumes is None:
            for p in anonymous:
                shutil.rmtree(Path(p["Source"]).parent, ignore_errors=True)
        released = ctx.store.finish_remove(c.id, release=ctx.images.layers.release_unused)
        ctx.images.layers.remove_driver_layers(released)
        if volumes and ctx.volumes is not None:  # after the row is gone: no longer in use by it
            ctx.volumes.remove_unused([p["Name"] for p in anonymous])
        rt = ctx.table.runtime(c.id)
        with rt.lock:
            rt.answer_waiters(WAIT_CONDITIONS, c.state.ExitCode, None)
            rt.cond.notify_all()
        ctx.table.forget(c.id)
        ctx.event("destroy", c)

    def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        """``POST /containers/prune``: remove every stopped container (filters ``until``, ``label``, ``label!``)."""
        until = _until(filters)
        deleted, reclaimed = [], 0
        for c in self.ctx.store.all():
            if c.state.Running or c.state.RemovalInProgress:
                continue
            if until is not None and c.created_unix >= until:
                continue
            labels = c.config.get("Labels") or {}
            if "label" in filters and not labels_match(labels, filters["label"]):
                continue
            if "label!" in filters and any(labels_match(labels, [item]) for item in filters["label!"]):
                continue
            size = self.ctx.size(c)[0]
            try:
                self.remove(c.id)
            except (NotFound, Conflict):
                continue  # started or removed meanwhile
            deleted.append(c.id)
            reclaimed += size
        try:  # dockerd's ``container prune`` event: no actor, the bytes reclaimed
            self.ctx.pm.hook.barge_container_event(action="prune", container_id="",
                                                   attributes={"reclaimed": str(reclaimed)})
        except Exception:  # noqa: BLE001 - an extension plugin must not fail the prune
            log.exception("barge_container_event(prune) failed in an extension plugin")
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}


def _until(filters: dict[str, list[str]]) -> float | None:
    """Prune's filters checked; its ``until`` as a Unix time."""
    for key in filters:
        if key not in ("until", "label", "label!"):
            raise InvalidParameter(f"invalid filter '{key}'")
    return prune_until(filters.get("until", []))
