"""The daemon's SQLite file (WAL) behind one shared connection.

One connection shared by the API's worker threads behind a lock: SQLite
serialises writers anyway, and the transactions are short (the long work,
unpacking layers, happens outside them). Every change that must not be
half-done is one ``BEGIN IMMEDIATE`` transaction (:meth:`Database.write`).
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from barge.db import migrate
from barge.db.schema import Schema

log = logging.getLogger(__name__)

#: Free bytes below which a failed open is taken for a full disk (WAL's -shm needs 32 KiB).
_ROOM = 1 << 20


def _no_room(directory: Path) -> bool:
    try:
        st = os.statvfs(directory)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < _ROOM


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
        try:
            self._conn = self._connect(exclusive=False)
        except sqlite3.OperationalError:
            if not _no_room(self.path.parent):
                raise
            # A full disk: WAL's shared-memory file (-shm) cannot be made. In exclusive locking
            # mode SQLite keeps that index in memory, so the daemon starts; reads work, a write
            # that does not fit is a full disk. Other processes cannot read the file meanwhile.
            log.warning("%s: the file system is full: the database is opened in exclusive locking mode "
                        "until the next start", self.path)
            self._conn = self._connect(exclusive=True)
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        with self.write() as conn:
            self._versions = migrate.adopt(conn, self.path)
        for schema in schemas:
            self.require(schema)

    def _connect(self, exclusive: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        try:
            conn.row_factory = sqlite3.Row
            if exclusive:
                conn.execute("PRAGMA locking_mode=EXCLUSIVE")  # before the first access: no -shm
            conn.execute("PRAGMA journal_mode=WAL")
        except BaseException:
            conn.close()
            raise
        return conn

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
        """One ``BEGIN IMMEDIATE`` transaction; commits on success, rolls back on error.

        A failed COMMIT is rolled back too (unless SQLite already did), so
        the shared connection never stays inside a transaction. A full disk
        (SQLITE_FULL) is raised as what it is, ``OSError(ENOSPC)`` naming the
        file, so callers handle it as any other full disk.
        """
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path)) from exc
                raise

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
