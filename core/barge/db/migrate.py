"""Bringing a file's tables up to date, one store's schema at a time.

Each store's version is a row of ``schema_versions``. ``PRAGMA user_version``
says how the file keeps them: :data:`FORMAT` means "in ``schema_versions``".

Files of barge before stores owned their tables (user_version 1 to 5) kept
one version for the whole file, each version adding one store's tables in
the order of :data:`LEGACY_STEPS`. :func:`adopt` records those stores at
version 1 (their tables are exactly each schema's first step) and moves the
file to :data:`FORMAT`, in one transaction; no table or row changes.
A barge that predates this refuses a :data:`FORMAT` file (its own "newer
than this barge knows"), as stores may now change their tables at will.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from barge.db.schema import MissingSchema, Schema, SchemaTooNew, statements

#: ``user_version`` of a file whose stores' versions are rows of ``schema_versions``.
FORMAT = 6

#: The schema whose tables user_version ``n`` (1-5) added, at ``[n - 1]``.
LEGACY_STEPS = ("graph", "containers", "volumes", "networks", "registry")

_VERSIONS_TABLE = """
CREATE TABLE schema_versions (
    name    TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)
"""


def adopt(conn: sqlite3.Connection, path: Path) -> dict[str, int]:
    """Bring the file to :data:`FORMAT` (inside the caller's transaction); return the stores' versions."""
    legacy = conn.execute("PRAGMA user_version").fetchone()[0]
    if legacy > FORMAT:
        raise SchemaTooNew(f"{path}: schema version {legacy} is newer than this barge knows ({FORMAT})")
    if legacy < FORMAT:
        conn.execute(_VERSIONS_TABLE)
        conn.executemany("INSERT INTO schema_versions (name, version) VALUES (?, 1)",
                         [(name,) for name in LEGACY_STEPS[:legacy]])
        conn.execute(f"PRAGMA user_version={FORMAT}")
    return versions(conn)


def versions(conn: sqlite3.Connection) -> dict[str, int]:
    return {name: version for name, version in conn.execute("SELECT name, version FROM schema_versions")}


def apply(conn: sqlite3.Connection, schema: Schema, path: Path) -> dict[str, int]:
    """Run the steps of ``schema`` the file lacks (inside the caller's transaction); return the versions."""
    have = versions(conn)
    current = have.get(schema.name, 0)
    if current > schema.version:
        raise SchemaTooNew(f"{path}: tables of {schema.name!r} are at version {current},"
                           f" newer than this barge knows ({schema.version})")
    missing = [name for name in schema.requires if name not in have]
    if missing:
        raise MissingSchema(f"{path}: the tables of {schema.name!r} need those of {', '.join(missing)} first")
    for step in schema.steps[current:]:
        for statement in statements(step):
            conn.execute(statement)
    if schema.version > current:
        conn.execute("INSERT INTO schema_versions (name, version) VALUES (?, ?)"
                     " ON CONFLICT(name) DO UPDATE SET version = excluded.version", (schema.name, schema.version))
    return versions(conn)
