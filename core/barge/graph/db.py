"""The graph db: one SQLite file (WAL) holding layers, images, tags and digests.

One connection shared by the API's worker threads behind a lock: SQLite
serialises writers anyway, and the graph's transactions are short (the long
work, unpacking layers, happens outside them). Every change that must not be
half-done is one ``BEGIN IMMEDIATE`` transaction (:meth:`GraphDB.write`).

The schema version lives in ``PRAGMA user_version``; :data:`MIGRATIONS`
brings an older file forward, and a newer file than this code knows is
refused rather than misread.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SCHEMA_V1 = """
CREATE TABLE layers (
    chain_id   TEXT PRIMARY KEY,
    diff_id    TEXT NOT NULL,
    parent     TEXT REFERENCES layers(chain_id),
    cache_id   TEXT NOT NULL UNIQUE,
    size       INTEGER NOT NULL,
    created    REAL NOT NULL
);
CREATE INDEX layers_parent ON layers(parent);

CREATE TABLE images (
    id            TEXT PRIMARY KEY,
    config        BLOB NOT NULL,
    top_layer     TEXT REFERENCES layers(chain_id),
    parent        TEXT REFERENCES images(id),
    created       REAL NOT NULL,
    size          INTEGER NOT NULL,
    added         REAL NOT NULL,
    last_tag_time TEXT
);
CREATE INDEX images_top_layer ON images(top_layer);
CREATE INDEX images_parent ON images(parent);

CREATE TABLE tags (
    repo     TEXT NOT NULL,
    tag      TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id),
    created  REAL NOT NULL,
    PRIMARY KEY (repo, tag)
);
CREATE INDEX tags_image ON tags(image_id);

CREATE TABLE repo_digests (
    repo     TEXT NOT NULL,
    digest   TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id),
    created  REAL NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX repo_digests_image ON repo_digests(image_id);

-- Driver layers being created: a daemon killed mid-import leaves rows here,
-- and recover() removes those layers at the next start.
CREATE TABLE pending_layers (
    cache_id TEXT PRIMARY KEY,
    created  REAL NOT NULL
);
"""

SCHEMA_V2 = """
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

SCHEMA_V3 = """
-- Volumes of the local driver (issue 3). The files live in
-- <data_root>/volumes/<name>/_data. Which containers use a volume is read
-- from the containers' mounts, so there is no reference table to keep in step.
-- Labels and options are JSON objects, anonymous volumes carry Docker's
-- com.docker.volume.anonymous label.
CREATE TABLE volumes (
    name     TEXT PRIMARY KEY,
    driver   TEXT NOT NULL,
    labels   TEXT NOT NULL,
    options  TEXT NOT NULL,
    created  TEXT NOT NULL
);
"""

SCHEMA_V4 = """
-- Networks and endpoints (issue 4). An endpoint is a running container's
-- attachment to a network: its row *is* the address allocation (unique per
-- network), so an address is never handed out twice and is free again the
-- moment the row goes. Endpoints live from a container's start to its exit;
-- recover() drops those of containers no longer running. ``state`` journals
-- network create/remove ('creating', 'ready', 'removing') so a killed daemon
-- finishes or undoes them at its next start.
CREATE TABLE networks (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    driver     TEXT NOT NULL,
    interface  TEXT NOT NULL,
    subnet     TEXT NOT NULL,
    gateway    TEXT NOT NULL,
    ip_range   TEXT NOT NULL,
    internal   INTEGER NOT NULL,
    attachable INTEGER NOT NULL,
    options    TEXT NOT NULL,
    labels     TEXT NOT NULL,
    created    TEXT NOT NULL,
    state      TEXT NOT NULL
);

CREATE TABLE endpoints (
    id           TEXT PRIMARY KEY,
    network_id   TEXT NOT NULL REFERENCES networks(id),
    container_id TEXT NOT NULL,
    ifname       TEXT NOT NULL,
    address      TEXT NOT NULL,
    prefixlen    INTEGER NOT NULL,
    mac          TEXT NOT NULL,
    gateway      TEXT NOT NULL,
    dns_names    TEXT NOT NULL,
    ports        TEXT NOT NULL,
    created      REAL NOT NULL,
    UNIQUE (network_id, address),
    UNIQUE (network_id, container_id)
);
CREATE INDEX endpoints_container ON endpoints(container_id);
"""

SCHEMA_V5 = """
-- Distribution metadata (issue 5): which compressed blob in which registry
-- repository holds a layer (by diff ID). Push uses it to skip blobs the
-- registry has (HEAD) or to mount them from another repository of the same
-- registry instead of compressing and uploading again. Pull records it.
CREATE TABLE blob_digests (
    digest     TEXT NOT NULL,
    diff_id    TEXT NOT NULL,
    registry   TEXT NOT NULL,
    repo       TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created    REAL NOT NULL,
    PRIMARY KEY (registry, repo, digest)
);
CREATE INDEX blob_digests_diff ON blob_digests(diff_id);
"""

#: ``MIGRATIONS[n]`` brings a file at version ``n`` to ``n + 1``.
MIGRATIONS: list[str] = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5]
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    pass


class GraphDB:
    """The shared connection, its lock, and transaction helpers."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=30
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"{self.path}: schema version {version} is newer than this barge knows ({SCHEMA_VERSION})"
                )
            for step in range(version, SCHEMA_VERSION):
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _statements(MIGRATIONS[step]):
                        self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version={step + 1}")
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise

    @property
    def version(self) -> int:
        return self.query_one("PRAGMA user_version")[0]

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction; commits on success, rolls back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several reads."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _statements(script: str) -> list[str]:
    """Split a schema script into statements (no semicolons inside ours)."""
    out = []
    for chunk in script.split(";"):
        lines = [ln for ln in chunk.splitlines() if not ln.strip().startswith("--")]
        stmt = "\n".join(lines).strip()
        if stmt:
            out.append(stmt)
    return out
