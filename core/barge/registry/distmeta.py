"""Which registry blob holds which layer: the daemon's memory of distribution.

A row says: in ``registry``/``repo`` the blob ``digest`` (compressed as
``media_type``, ``size`` bytes) unpacks to the layer ``diff_id``. Pull
writes rows in the transaction that records the image; push writes them
after each upload, and reads them to skip or mount blobs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from barge.db import Database, Schema

TABLES_V1 = """
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

#: Required by whoever reads or writes the rows (the puller and the pusher).
SCHEMA = Schema("registry", (TABLES_V1,))


@dataclass(frozen=True)
class BlobRecord:
    digest: str
    diff_id: str
    registry: str
    repo: str
    media_type: str
    size: int


def add(conn, rec: BlobRecord) -> None:
    """Inside the caller's transaction."""
    conn.execute(
        "INSERT INTO blob_digests (digest, diff_id, registry, repo, media_type, size, created)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(registry, repo, digest) DO UPDATE SET"
        " diff_id = excluded.diff_id, media_type = excluded.media_type, size = excluded.size",
        (rec.digest, rec.diff_id, rec.registry, rec.repo, rec.media_type, rec.size, time.time()))


def record(db: Database, rec: BlobRecord) -> None:
    with db.write() as conn:
        add(conn, rec)


def known(db: Database, diff_id: str, registry: str) -> list[BlobRecord]:
    """Blobs of ``diff_id`` in ``registry``, newest first."""
    rows = db.query("SELECT digest, diff_id, registry, repo, media_type, size FROM blob_digests"
                    " WHERE diff_id = ? AND registry = ? ORDER BY created DESC", (diff_id, registry))
    return [BlobRecord(*tuple(r)) for r in rows]


def forget(db: Database, registry: str, repo: str, digest: str) -> None:
    """The registry no longer has it (a HEAD said 404)."""
    with db.write() as conn:
        conn.execute("DELETE FROM blob_digests WHERE registry = ? AND repo = ? AND digest = ?",
                     (registry, repo, digest))
