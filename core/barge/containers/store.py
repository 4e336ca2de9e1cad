"""Container records in the daemon's db, and the journal that makes create and rm crash-safe.

Create: the id goes into ``pending_containers`` (committed) before the rw
layer and the container's directory exist; the container row is inserted
and the journal row deleted in one transaction. Remove: the state says
``removing`` and the journal says ``remove`` (one transaction) before
anything is released; the row and the journal row go in one transaction at
the end. A daemon killed in between finds the journal row at its next start
(:meth:`ContainerStore.pending`), and the service undoes the create or
finishes the removal before serving.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from barge.containers.links import LinkTable
from barge.containers.state import State
from barge.db import Database, Schema
from barge.errors import Conflict, InvalidParameter, NotFound

TABLES_V1 = """
-- Containers (issue 3). ``top_layer`` references the image's top layer so
-- the layers a container runs on outlive an ``rmi -f`` of its image, as in
-- Docker: ``image_id`` has no foreign key for the same reason (Docker keeps
-- showing the deleted image's id). Config and HostConfig are Docker's JSON.
CREATE TABLE containers (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    image_id      TEXT NOT NULL,
    top_layer     TEXT REFERENCES layers(chain_id),
    rw_layer      TEXT NOT NULL,
    config        TEXT NOT NULL,
    host_config   TEXT NOT NULL,
    network_config TEXT NOT NULL,
    mounts        TEXT NOT NULL,
    created       TEXT NOT NULL,
    created_unix  REAL NOT NULL,
    state         TEXT NOT NULL,
    restart_count INTEGER NOT NULL DEFAULT 0,
    path          TEXT NOT NULL,
    args          TEXT NOT NULL,
    log_path      TEXT NOT NULL,
    graph_driver  TEXT NOT NULL
);
CREATE INDEX containers_image ON containers(image_id);
CREATE INDEX containers_top_layer ON containers(top_layer);

-- Containers being created or removed: the row is committed before the rw
-- layer or directories are touched (create) or before they are released
-- (remove). recover() finishes or undoes what a killed daemon left.
CREATE TABLE pending_containers (
    id      TEXT PRIMARY KEY,
    op      TEXT NOT NULL,
    created REAL NOT NULL
);
"""

#: The containers' tables; ``top_layer`` references the graph's layers.
SCHEMA = Schema("containers", (TABLES_V1,), requires=("graph",))


@dataclass
class Container:
    id: str
    name: str  # with its leading "/"
    image_id: str
    top_layer: str | None
    rw_layer: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    network_config: dict[str, Any]
    #: Mount points as inspect shows them (Type, Source, Destination, RW...).
    mounts: list[dict[str, Any]]
    created: str
    created_unix: float
    state: State
    path: str
    args: list[str]
    log_path: str
    graph_driver: str
    restart_count: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def image_name(self) -> str:
        return self.config.get("Image") or self.image_id

    @property
    def tty(self) -> bool:
        return bool(self.config.get("Tty"))

    def event_attributes(self, **more: Any) -> dict[str, Any]:
        attrs: dict[str, Any] = dict(self.config.get("Labels") or {})
        attrs.update({"name": self.name.lstrip("/"), "image": self.image_name})
        attrs.update(more)
        return attrs


def name_in_use(name: str, owner: str) -> Conflict:
    return Conflict(
        f'Conflict. The container name "{name}" is already in use by container "{owner}". '
        "You have to remove (or rename) that container to be able to reuse that name."
    )


def _not_found(ref: str) -> Container:
    raise NotFound(f"No such container: {ref}")


def _row_container(row: sqlite3.Row) -> Container:
    return Container(
        id=row["id"],
        name=row["name"],
        image_id=row["image_id"],
        top_layer=row["top_layer"],
        rw_layer=row["rw_layer"],
        config=json.loads(row["config"]),
        host_config=json.loads(row["host_config"]),
        network_config=json.loads(row["network_config"]),
        mounts=json.loads(row["mounts"]),
        created=row["created"],
        created_unix=row["created_unix"],
        state=State.from_record(json.loads(row["state"])),
        path=row["path"],
        args=json.loads(row["args"]),
        log_path=row["log_path"],
        graph_driver=row["graph_driver"],
        restart_count=row["restart_count"],
    )


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class ContainerStore:
    def __init__(self, db: Database, data_root: Path, exec_root: Path):
        db.require(SCHEMA)
        self.db = db
        self.links = LinkTable(db)
        self.data_root = Path(data_root)
        self.exec_root = Path(exec_root)
        #: id -> (version, parsed record) of the last :meth:`listing`; versions bumped by every write
        self._listed: dict[str, tuple[int, Container]] = {}
        self._versions: dict[str, int] = {}

    # -- places -----------------------------------------------------------

    def container_dir(self, container_id: str) -> Path:
        """``<data_root>/containers/<id>``: log, hostname, hosts, resolv.conf."""
        return self.data_root / "containers" / container_id

    def state_dir(self, container_id: str) -> Path:
        """``<exec_root>/containers/<id>``: the exec driver's runtime files."""
        return self.exec_root / "containers" / container_id

    # -- reading ----------------------------------------------------------

    def get(self, container_id: str) -> Container | None:
        row = self.db.query_one("SELECT * FROM containers WHERE id = ?", (container_id,))
        return _row_container(row) if row else None

    def all(self) -> list[Container]:
        rows = self.db.query("SELECT * FROM containers ORDER BY created_unix DESC, id")
        return [_row_container(r) for r in rows]

    def listing(self) -> list[Container]:
        """Every record as :meth:`all` gives them, for reading only (``ps``): a record unchanged
        since the last listing is the object read then, and only changed rows are read again.
        Reading and parsing every row was most of ``ps``'s time with a thousand containers.
        Every write of a row goes through this store and bumps its version (:meth:`_touch`), inside
        its transaction; a version is read before its row, so a cached record is never older than
        its version. Callers must not change what they get."""
        ids = [r["id"] for r in self.db.query("SELECT id FROM containers ORDER BY created_unix DESC, id")]
        versions = {cid: self._versions.get(cid, 0) for cid in ids}
        before = self._listed
        stale = [cid for cid in ids if cid not in before or before[cid][0] != versions[cid]]
        stale_set = set(stale)
        fresh: dict[str, Container] = {}
        for i in range(0, len(stale), 500):  # under SQLite's limit of bound parameters
            chunk = stale[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.db.query(f"SELECT * FROM containers WHERE id IN ({marks})", tuple(chunk)):
                fresh[r["id"]] = _row_container(r)
        kept: dict[str, tuple[int, Container]] = {}
        for cid in ids:
            if cid in fresh:
                kept[cid] = (versions[cid], fresh[cid])
            elif cid not in stale_set:
                kept[cid] = before[cid]
            # else: removed since the ids were read
        self._listed = kept  # only the records listed now: a removed one is let go
        return [c for _, c in kept.values()]

    def _touch(self, container_id: str) -> None:
        """Inside a write transaction: the row changed, :meth:`listing` reads it again."""
        self._versions[container_id] = self._versions.get(container_id, 0) + 1

    def ids(self) -> list[str]:
        return [r["id"] for r in self.db.query("SELECT id FROM containers")]

    def name_owner(self, name: str) -> str | None:
        row = self.db.query_one("SELECT id FROM containers WHERE name = ?", (name,))
        return row["id"] if row else None

    def resolve(self, ref: str) -> Container:
        """By full id, then name (with or without ``/``), then unique id prefix (moby's order)."""
        if not ref:
            raise NotFound("No such container: ")
        found = self.get(ref)
        if found is not None:
            return found
        name = ref if ref.startswith("/") else "/" + ref
        row = self.db.query_one("SELECT * FROM containers WHERE name = ?", (name,))
        if row is not None:
            return _row_container(row)
        child = self.links.child_of(name) if name.count("/") > 1 else None
        if child is not None:  # a link's name: /web/db
            return self.get(child) or _not_found(ref)
        if all(c in "0123456789abcdef" for c in ref):
            rows = self.db.query("SELECT * FROM containers WHERE id >= ? AND id < ? LIMIT 2", (ref, ref + "g"))
            if len(rows) > 1:
                raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
            if rows:
                return _row_container(rows[0])
        return _not_found(ref)

    def users(self, image_id: str) -> list[tuple[str, bool]]:
        """Containers using an image, for rmi: (id, running)."""
        rows = self.db.query("SELECT id, state FROM containers WHERE image_id = ?", (image_id,))
        return [(r["id"], bool(json.loads(r["state"]).get("Running"))) for r in rows]

    # -- create -----------------------------------------------------------

    def begin_create(self, container_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("INSERT INTO pending_containers (id, op, created) VALUES (?, 'create', ?)",
                         (container_id, time.time()))

    def finish_create(self, c: Container, links: list[tuple[str, str]] | None = None) -> None:
        """Insert the row, its ``links`` (child id, alias) and drop the journal row together;
        a taken name is 409."""
        with self.db.write() as conn:
            owner = conn.execute("SELECT id FROM containers WHERE name = ?", (c.name,)).fetchone()
            if owner is not None:
                raise name_in_use(c.name, owner["id"])
            conn.execute(
                "INSERT INTO containers (id, name, image_id, top_layer, rw_layer, config, host_config, network_config,"
                " mounts, created, created_unix, state, restart_count, path, args, log_path, graph_driver)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (c.id, c.name, c.image_id, c.top_layer, c.rw_layer, _dump(c.config), _dump(c.host_config),
                 _dump(c.network_config), _dump(c.mounts), c.created, c.created_unix, _dump(c.state.to_record()), c.restart_count,
                 c.path, _dump(c.args), c.log_path, c.graph_driver),
            )
            self.links.insert(conn, c.id, links or [])
            conn.execute("DELETE FROM pending_containers WHERE id = ?", (c.id,))
            self._touch(c.id)

    def drop_journal(self, container_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM pending_containers WHERE id = ?", (container_id,))

    def pending(self) -> list[tuple[str, str]]:
        return [(r["id"], r["op"]) for r in self.db.query("SELECT id, op FROM pending_containers ORDER BY created")]

    # -- changes ----------------------------------------------------------

    def save_state(self, container_id: str, state: State, restart_count: int | None = None) -> None:
        with self.db.write() as conn:
            if restart_count is None:
                conn.execute("UPDATE containers SET state = ? WHERE id = ?", (_dump(state.to_record()), container_id))
            else:
                conn.execute("UPDATE containers SET state = ?, restart_count = ? WHERE id = ?",
                             (_dump(state.to_record()), restart_count, container_id))
            self._touch(container_id)

    def save_config(self, container_id: str, config: dict[str, Any]) -> None:
        """A start changed the config (a network joiner takes its donor's hostname)."""
        with self.db.write() as conn:
            conn.execute("UPDATE containers SET config = ? WHERE id = ?", (_dump(config), container_id))
            self._touch(container_id)

    def save_host_config(self, container_id: str, host: dict[str, Any]) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE containers SET host_config = ? WHERE id = ?", (_dump(host), container_id))
            self._touch(container_id)

    def set_network_config(self, container_id: str, networking: dict[str, Any]) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE containers SET network_config = ? WHERE id = ?", (_dump(networking), container_id))
            self._touch(container_id)

    def rename(self, container_id: str, new_name: str) -> None:
        with self.db.write() as conn:
            owner = conn.execute("SELECT id FROM containers WHERE name = ?", (new_name,)).fetchone()
            if owner is not None:
                err = name_in_use(new_name, owner["id"])
                raise Conflict(f"Error when allocating new name: {err}")
            conn.execute("UPDATE containers SET name = ? WHERE id = ?", (new_name, container_id))
            self._touch(container_id)

    # -- remove -----------------------------------------------------------

    def begin_remove(self, container_id: str, state: State) -> None:
        """Mark removing and journal it, in one transaction."""
        state.RemovalInProgress = True
        with self.db.write() as conn:
            conn.execute("UPDATE containers SET state = ? WHERE id = ?", (_dump(state.to_record()), container_id))
            conn.execute("INSERT OR REPLACE INTO pending_containers (id, op, created) VALUES (?, 'remove', ?)",
                         (container_id, time.time()))
            self._touch(container_id)

    def finish_remove(self, container_id: str, release=None) -> list:
        """Delete the row and its journal row; ``release(conn, top_layer)`` frees layers no image holds."""
        released: list = []
        with self.db.write() as conn:
            row = conn.execute("SELECT top_layer FROM containers WHERE id = ?", (container_id,)).fetchone()
            conn.execute("DELETE FROM containers WHERE id = ?", (container_id,))
            conn.execute("DELETE FROM pending_containers WHERE id = ?", (container_id,))
            self._versions.pop(container_id, None)
            if row is not None and row["top_layer"] and release is not None:
                released = release(conn, row["top_layer"])
        return released

    # -- counts for /info ---------------------------------------------------

    def counts(self) -> dict[str, int]:
        out = {"Containers": 0, "ContainersRunning": 0, "ContainersPaused": 0, "ContainersStopped": 0}
        for r in self.db.query("SELECT state FROM containers"):
            state = State.from_record(json.loads(r["state"]))
            out["Containers"] += 1
            if state.Paused:
                out["ContainersPaused"] += 1
            elif state.Running:
                out["ContainersRunning"] += 1
            else:
                out["ContainersStopped"] += 1
        return out
