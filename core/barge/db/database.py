"""The daemon's SQLite file (WAL) behind one shared connection.

One connection shared by the API's worker threads behind a lock: SQLite
serialises writers anyway, and the transactions are short (the long work,
unpacking layers, happens outside them). Every change that must not be
half-done is one ``BEGIN IMMEDIATE`` transaction (:meth:`Database.write`).
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from barge.db import migrate
from barge.db.schema import Schema


class Database:
    """The shared connection, its lock, transaction helpers, and the stores' schemas.

    ``Database(path, schemas)`` brings the given schemas up to date in the
    order given; a store built on the database later calls :meth:`require`
    with its own, which does nothing when it is already there.
    """

    def __init__(self, path: Path | str, schemas: Iterable[Schema] = ()):
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
        with self.write() as conn:
            self._versions = migrate.adopt(conn, self.path)
        for schema in schemas:
            self.require(schema)

    def require(self, schema: Schema) -> None:
        """Create or migrate the tables of ``schema`` unless the file already has them at its version."""
        with self._lock:
            if self._versions.get(schema.name) == schema.version:
                return
            with self.write() as conn:
                self._versions = migrate.apply(conn, schema, self.path)

    @property
    def versions(self) -> dict[str, int]:
        """Each schema's version in the file, by name."""
        with self._lock:
            return dict(self._versions)

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
