"""Layers: content-addressed by diff ID and chain ID, stored by the graph driver.

A layer's *diff ID* is the sha256 of its uncompressed tar; its *chain ID*
names it together with everything below it (OCI image spec)::

    chain_id(L0) = diff_id(L0)
    chain_id(Ln) = sha256(chain_id(Ln-1) + " " + diff_id(Ln))

The driver knows a layer only by its random *cache id*. Creating one is
crash-safe: the cache id goes into ``pending_layers`` (committed) before the
driver creates anything, and leaves it in the same transaction that records
the layer. A daemon killed in between leaves a pending row, and
:meth:`LayerStore.recover` removes that layer at the next start.

A driver whose diff does not reproduce the applied tar byte for byte (no
``REPRODUCES_EXACT_DIFFS`` capability) cannot give back a blob matching the
diff ID, which ``docker save`` (and later push) needs. As moby does with
tar-split, the tar's skeleton - everything but file contents - is recorded
in the same pass as hashing and unpacking
(``<data_root>/layer-tars/<cache id>.split``, a few percent of the tar), and
the exact tar is rebuilt from it and the layer's files
(:mod:`barge.archive.tarsplit`).

Layers are reference counted by query: a layer lives while an image's top
layer is it or a layer above it. Any other table that references
``layers(chain_id)`` (containers, later) keeps a layer alive through the
foreign key: release stops at the first layer SQLite refuses to delete.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from barge.archive.tarsplit import SplitRecorder, reassemble
from barge.db import Database
from barge.errors import InvalidParameter, NoSpace, is_no_space
from barge.graph.compression import HashingReader, decompressed
from barge.graphdriver import REPRODUCES_EXACT_DIFFS

CHUNK = 1 << 20

log = logging.getLogger(__name__)


def chain_id(parent_chain: str | None, diff_id: str) -> str:
    if parent_chain is None:
        return diff_id
    return "sha256:" + hashlib.sha256(f"{parent_chain} {diff_id}".encode()).hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    out: list[str] = []
    for d in diff_ids:
        out.append(chain_id(out[-1] if out else None, d))
    return out


@dataclass(frozen=True)
class Layer:
    chain_id: str
    diff_id: str
    parent: str | None
    cache_id: str
    size: int


@dataclass
class PreparedLayer:
    """A driver layer fully applied but not yet recorded (its pending row is)."""

    cache_id: str
    diff_id: str
    chain_id: str
    parent: str | None
    size: int
    #: Set by :meth:`LayerStore.record` when an equal layer existed already.
    duplicate: bool = False


def _row_layer(row: sqlite3.Row) -> Layer:
    return Layer(row["chain_id"], row["diff_id"], row["parent"], row["cache_id"], row["size"])


class LayerStore:
    def __init__(self, db: Database, pm, tars_dir: Path):
        self.db = db
        self.pm = pm
        self.tars_dir = Path(tars_dir)
        self._keep_tars: bool | None = None

    @property
    def keep_tars(self) -> bool:
        """Whether tar skeletons are kept because the driver cannot reproduce tars."""
        if self._keep_tars is None:
            caps = self.pm.hook.barge_graph_capabilities() or frozenset()
            self._keep_tars = REPRODUCES_EXACT_DIFFS not in caps
        return self._keep_tars

    def _tar_path(self, cache: str) -> Path:
        return self.tars_dir / f"{cache}.split"

    def diff(self, layer: Layer) -> Iterator[bytes]:
        """The layer's uncompressed tar: rebuilt from its skeleton, else the driver's diff."""
        skeleton = self._tar_path(layer.cache_id)
        if skeleton.exists():
            return self._reassembled(layer.cache_id, skeleton)
        parent = self.get(layer.parent) if layer.parent else None
        return iter(self.pm.hook.barge_graph_diff(layer_id=layer.cache_id, parent=parent.cache_id if parent else None))

    def _reassembled(self, cache: str, skeleton: Path) -> Iterator[bytes]:
        from barge.mount import mounted

        mounts = self.pm.hook.barge_graph_get(layer_id=cache)
        tmp_dir = self.db.path.parent / "tmp"  # on the data root: a view a killed daemon left is found there
        tmp_dir.mkdir(exist_ok=True)
        try:
            with mounted(mounts, tmp_dir=tmp_dir) as root, open(skeleton, "rb") as fh:
                yield from reassemble(fh, str(root))
        finally:
            self.pm.hook.barge_graph_put(layer_id=cache)

    # -- queries ----------------------------------------------------------

    def get(self, chain: str) -> Layer | None:
        row = self.db.query_one("SELECT * FROM layers WHERE chain_id = ?", (chain,))
        return _row_layer(row) if row else None

    def chain(self, top: str | None) -> list[Layer]:
        """The layers from the base up to ``top``."""
        out: list[Layer] = []
        current = top
        while current is not None:
            layer = self.get(current)
            if layer is None:
                raise RuntimeError(f"graph db: layer {current} is missing")
            out.append(layer)
            current = layer.parent
        out.reverse()
        return out

    # -- creating ---------------------------------------------------------

    def apply(self, stream: BinaryIO, parent: "str | PreparedLayer | None",
              expected_diff_id: str | None = None) -> PreparedLayer:
        """Unpack a (possibly compressed) layer tar on top of layer ``parent``.

        Hashing and unpacking happen in one pass over the stream. On any
        failure the driver layer and its pending row are gone. The caller
        records the result with :meth:`record` inside its own transaction,
        then calls :meth:`finish`. ``parent`` may itself be a prepared,
        unrecorded layer (a pull records a whole image's layers at once, in
        order, in one transaction).
        """
        if isinstance(parent, PreparedLayer):
            parent_cache, parent = parent.cache_id, parent.chain_id
        else:
            parent_layer = self.get(parent) if parent else None
            if parent is not None and parent_layer is None:
                raise RuntimeError(f"graph db: parent layer {parent} is missing")
            parent_cache = parent_layer.cache_id if parent_layer else None
        cache = secrets.token_hex(32)
        with self.db.write() as conn:
            conn.execute("INSERT INTO pending_layers (cache_id, created) VALUES (?, ?)", (cache, time.time()))
        tee = reader = None
        try:
            self.pm.hook.barge_graph_create(layer_id=cache, parent=parent_cache)
            source = decompressed(stream)
            recorder = None
            if self.keep_tars:
                self.tars_dir.mkdir(parents=True, exist_ok=True)
                tee = open(self._tar_path(cache).with_suffix(".part"), "wb")
                source = recorder = SplitRecorder(source, tee)
            reader = HashingReader(source)
            size = self.pm.hook.barge_graph_apply_diff(layer_id=cache, parent=parent_cache, stream=reader)
            reader.drain()
            if reader.count == 0:
                raise InvalidParameter("invalid tar: the layer stream is empty")
            diff_id = reader.digest
            if recorder is not None:
                recorder.finish()
                tee.close()
                if recorder.reproducible:
                    os.replace(tee.name, self._tar_path(cache))
                else:
                    log.warning("layer %s names a path twice: its tar cannot be rebuilt for save", diff_id)
                    os.unlink(tee.name)
            if expected_diff_id is not None and diff_id != expected_diff_id:
                raise InvalidParameter(
                    f"layer digest mismatch: content has diff ID {diff_id}, the image config says {expected_diff_id}"
                )
        except BaseException as exc:
            if reader is not None:
                reader.close()  # ends its hashing thread
            if tee is not None:
                with contextlib.suppress(OSError):  # its last buffer may not fit either
                    tee.close()
            self._discard(cache)
            if is_no_space(exc):
                raise NoSpace.wrap("failed to register layer", exc) from exc
            raise
        return PreparedLayer(cache, diff_id, chain_id(parent, diff_id), parent, int(size or 0))

    def record(self, conn: sqlite3.Connection, prepared: PreparedLayer) -> None:
        """Inside the caller's transaction: insert the layer, or note it exists.

        A duplicate keeps its pending row until :meth:`finish` has removed
        the driver layer, so a crash in between still cleans it up.
        """
        exists = conn.execute("SELECT 1 FROM layers WHERE chain_id = ?", (prepared.chain_id,)).fetchone()
        if exists:
            prepared.duplicate = True
            return
        conn.execute(
            "INSERT INTO layers (chain_id, diff_id, parent, cache_id, size, created) VALUES (?, ?, ?, ?, ?, ?)",
            (prepared.chain_id, prepared.diff_id, prepared.parent, prepared.cache_id, prepared.size, time.time()),
        )
        conn.execute("DELETE FROM pending_layers WHERE cache_id = ?", (prepared.cache_id,))

    def finish(self, prepared: PreparedLayer) -> None:
        """After the caller committed: drop the driver layer of a duplicate."""
        if prepared.duplicate:
            self._discard(prepared.cache_id)

    def abort(self, prepared: PreparedLayer) -> None:
        """The caller's transaction failed: the prepared layer goes away."""
        self._discard(prepared.cache_id)

    def create(self, stream: BinaryIO, parent: str | None, expected_diff_id: str | None = None) -> Layer:
        """Apply and record a layer in its own transaction; return the stored layer."""
        prepared = self.apply(stream, parent, expected_diff_id)
        try:
            with self.db.write() as conn:
                self.record(conn, prepared)
        except BaseException:
            self.abort(prepared)
            raise
        self.finish(prepared)
        layer = self.get(prepared.chain_id)
        assert layer is not None
        return layer

    @contextlib.contextmanager
    def scratch(self, top: str | None) -> Iterator[str]:
        """A rw driver layer on layer ``top``, for changes made without a container (the builder's
        COPY, a ``COPY --from`` source's view); journaled in ``pending_layers``, so a daemon killed
        meanwhile removes it at its next start. Yields its cache id; removed on exit."""
        parent = self.get(top) if top else None
        if top and parent is None:
            raise RuntimeError(f"graph db: layer {top} is missing")
        cache = secrets.token_hex(32)
        with self.db.write() as conn:
            conn.execute("INSERT INTO pending_layers (cache_id, created) VALUES (?, ?)", (cache, time.time()))
        try:
            self.pm.hook.barge_graph_create_rw(layer_id=cache, parent=parent.cache_id if parent else None)
            yield cache
        finally:
            self._discard(cache)

    @contextlib.contextmanager
    def mounted(self, cache: str, tmp_dir: Path) -> Iterator[Path]:
        """The files of driver layer ``cache`` (with those below it) at a path, while inside."""
        from barge.mount import mounted

        mounts = self.pm.hook.barge_graph_get(layer_id=cache)
        try:
            tmp_dir.mkdir(parents=True, exist_ok=True)
            with mounted(mounts, tmp_dir=tmp_dir) as path:
                yield path
        finally:
            self.pm.hook.barge_graph_put(layer_id=cache)

    def _discard(self, cache: str) -> None:
        try:
            self.pm.hook.barge_graph_remove(layer_id=cache)
        except Exception:  # keep the pending row: recover() retries at the next start
            log.exception("removing unfinished layer %s failed", cache)
            return
        for path in (self._tar_path(cache), self._tar_path(cache).with_suffix(".part")):
            path.unlink(missing_ok=True)
        try:
            with self.db.write() as conn:
                conn.execute("DELETE FROM pending_layers WHERE cache_id = ?", (cache,))
        except OSError as exc:  # a full disk: the row stays, recover() drops it at the next start
            log.warning("forgetting unfinished layer %s failed: %s", cache, exc)

    # -- releasing --------------------------------------------------------

    def release_unused(self, conn: sqlite3.Connection, top: str | None) -> list[Layer]:
        """Inside a transaction: delete unreferenced layers from ``top`` down.

        Each deleted layer's cache id moves to ``pending_layers``; call
        :meth:`remove_driver_layers` after the commit. Returns the layers
        deleted, top first.
        """
        removed: list[Layer] = []
        current = top
        while current is not None:
            row = conn.execute("SELECT * FROM layers WHERE chain_id = ?", (current,)).fetchone()
            if row is None:
                break
            used = conn.execute(
                "SELECT 1 FROM images WHERE top_layer = ? UNION ALL SELECT 1 FROM layers WHERE parent = ? LIMIT 1",
                (current, current),
            ).fetchone()
            if used:
                break
            conn.execute("SAVEPOINT release_layer")
            try:
                conn.execute("DELETE FROM layers WHERE chain_id = ?", (current,))
            except sqlite3.IntegrityError:  # referenced from another table
                conn.execute("ROLLBACK TO release_layer")
                conn.execute("RELEASE release_layer")
                break
            conn.execute("RELEASE release_layer")
            conn.execute(
                "INSERT OR IGNORE INTO pending_layers (cache_id, created) VALUES (?, ?)",
                (row["cache_id"], time.time()),
            )
            removed.append(_row_layer(row))
            current = row["parent"]
        return removed

    def remove_driver_layers(self, layers: list[Layer]) -> None:
        for layer in layers:
            self._discard(layer.cache_id)

    # -- start-up ---------------------------------------------------------

    def recover(self) -> dict[str, int]:
        """Remove what a daemon killed mid-way left behind. Call before serving.

        * every layer still in ``pending_layers`` (an import or delete that
          did not finish) is removed from the driver and the db;
        * every layer row no image references, directly or through a layer
          above it, is released. No age threshold is needed: recover() runs
          before the API serves, so no job can be between creating a layer
          and recording its image (a multi-layer load records its layers one
          by one and would otherwise leave them behind).
        """
        orphans: list[Layer] = []
        with self.db.write() as conn:
            while True:
                leaves = conn.execute(
                    "SELECT chain_id FROM layers l WHERE NOT EXISTS (SELECT 1 FROM images i WHERE i.top_layer = l.chain_id)"
                    " AND NOT EXISTS (SELECT 1 FROM layers c WHERE c.parent = l.chain_id)"
                ).fetchall()
                found = []
                for leaf in leaves:
                    found.extend(self.release_unused(conn, leaf["chain_id"]))
                if not found:
                    break
                orphans.extend(found)
        pending = [r["cache_id"] for r in self.db.query("SELECT cache_id FROM pending_layers")]
        for cache in pending:
            self._discard(cache)
        if self.tars_dir.is_dir():
            known = {r["cache_id"] for r in self.db.query("SELECT cache_id FROM layers")}
            for path in self.tars_dir.iterdir():
                if path.name.split(".", 1)[0] not in known:
                    path.unlink(missing_ok=True)
        return {"pending": len(pending), "orphans": len(orphans)}

