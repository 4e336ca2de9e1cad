"""Reading containers: inspect, ps, logs, top, stats, and the counts ``info`` shows.

Nothing here changes a record or takes a container's lock.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Callable

from barge.containers import filters as filters_mod
from barge.containers import metrics, views
from barge.containers.context import ContainerContext
from barge.containers.logs import LogSession, open_reader
from barge.containers.state import status_string
from barge.containers.store import Container
from barge.contracts.containers import EncodedRows, LogOptions, encode_row
from barge.errors import BargeError, Conflict, InvalidParameter, NotFound

#: ``exec_ids(container_id)``: the container's exec instances not finished, for inspect's ExecIDs.
ExecIds = Callable[[str], list[str]]


class Queries:
    def __init__(self, ctx: ContainerContext, exec_ids: ExecIds | None = None):
        self.ctx = ctx
        self.exec_ids = exec_ids
        #: ``ps``'s rows by container id: (record, what else the row shows, the row, its JSON)
        self._row_cache: dict[str, tuple[Container, tuple, dict[str, Any], bytes]] = {}

    def get(self, ref: str) -> Container:
        return self.ctx.get(ref)

    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        ctx = self.ctx
        c = ctx.get(ref)
        data: dict[str, str] = {}
        with contextlib.suppress(Exception):
            data = ctx.pm.hook.barge_graph_metadata(layer_id=c.rw_layer) or {}
        links = [f"{child.name}:{c.name}/{alias}" for child_id, alias in ctx.store.links.children(c.id)
                 if (child := ctx.store.get(child_id)) is not None]
        return views.inspect(c, paths=ctx.paths(c), graph_data=data, runtime=ctx.exec_driver or "",
                             size=ctx.size(c) if size else None, links=links,
                             exec_ids=self.exec_ids(c.id) if self.exec_ids is not None else None,
                             net=ctx.networking.container_view(c) if ctx.networking is not None else None)

    def list(self, query: filters_mod.ListQuery, size: bool = False) -> list[dict[str, Any]]:
        ctx = self.ctx
        picked = filters_mod.select(ctx.store.listing(), query, ctx.get, self._ancestors)
        now = time.time()
        link_names = ctx.store.links.names()  # a child is listed under its links' names too
        if ctx.networking is None:
            return [views.summary(c, ctx.size(c) if size else None, now, links=link_names.get(c.id))
                    for c in picked]
        snap = ctx.networking.snapshot()
        if size:
            return [views.summary(c, ctx.size(c), now, ctx.networking.container_view(c, snap),
                                  ctx.networking.summary_ports(c, snap), links=link_names.get(c.id)) for c in picked]
        return self._rows(picked, snap, now, link_names)

    def _rows(self, picked: list[Container], snap: Any, now: float, link_names: dict) -> EncodedRows:
        """``ps``'s rows, each built and encoded again only when what it shows changed: its record (the
        store's listing hands out the same object while the row is unchanged), its network views, its
        links' names or its ``Status`` text. With a thousand containers, building and encoding every
        row was most of a ``ps``."""
        ctx, rows, parts = self.ctx, [], []
        cache = self._row_cache
        for c in picked:
            links = link_names.get(c.id)
            key = (snap.signature(c.id), tuple(links or ()), status_string(c.state, now))
            hit = cache.get(c.id)
            if hit is None or hit[0] is not c or hit[1] != key:
                row = views.summary(c, None, now, ctx.networking.container_view(c, snap),
                                    ctx.networking.summary_ports(c, snap), links=links)
                hit = cache[c.id] = (c, key, row, encode_row(row))
            rows.append(hit[2])
            parts.append(hit[3])
        if len(cache) > 2 * len(picked) + 64:  # let go of rows of removed containers now and then
            listed = {c.id for c in ctx.store.listing()}
            for cid in [cid for cid in list(cache) if cid not in listed]:
                cache.pop(cid, None)
        return EncodedRows(rows, parts)

    def _ancestors(self, ref: str) -> set[str]:
        """The image ``ref`` names and every image built on it (``ps --filter ancestor=``)."""
        images = self.ctx.images
        try:
            img = images.resolve(ref)
        except BargeError:
            return set()
        out, todo = set(), [img.id]
        while todo:
            current = todo.pop()
            if current in out:
                continue
            out.add(current)
            todo.extend(images.children(current))
        return out

    def logs(self, ref: str, opts: LogOptions) -> LogSession:
        c = self.ctx.get(ref)
        if not (opts.stdout or opts.stderr):
            raise InvalidParameter("Bad parameters: you must choose at least one stream")
        return LogSession(open_reader(c.id, c.host_config, c.log_path, opts), c.tty, lambda: self.is_running(c.id))

    def is_running(self, cid: str) -> bool:
        c = self.ctx.store.get(cid)
        return bool(c is not None and c.state.Running)

    def top(self, ref: str, ps_args: str = "") -> dict[str, Any]:
        ctx = self.ctx
        ctx.require_driver()
        c = ctx.get(ref)
        if not c.state.Running or c.state.Restarting:
            raise Conflict(f"Container {c.id} is not running")
        pids = set(ctx.pm.hook.barge_exec_processes(container_id=c.id, state_dir=ctx.state_dir(c)) or [])
        table = metrics.top_table(pids, ps_args or "-ef")
        ctx.event("top", c)
        return table

    def stats(self, ref: str) -> tuple[Container, Callable[[], dict[str, Any]]]:
        """The container, and a function taking one sample (Docker's stats shape, precpu not filled)."""
        ctx = self.ctx
        ctx.require_driver()
        c = ctx.get(ref)

        def sample() -> dict[str, Any]:
            current = ctx.store.get(c.id)
            if current is None:
                raise NotFound(f"No such container: {ref}")
            raw: dict[str, Any] = {}
            if current.state.Running and not current.state.Restarting:
                with contextlib.suppress(BargeError, OSError):
                    raw = ctx.pm.hook.barge_exec_stats(container_id=c.id, state_dir=ctx.state_dir(c)) or {}
            return metrics.stats_document(current, raw, ctx.sysinfo.ncpu)

        return c, sample

    def counts(self) -> dict[str, int]:
        return self.ctx.store.counts()

    def users(self, image_id: str) -> list[tuple[str, bool]]:
        return self.ctx.store.users(image_id)
