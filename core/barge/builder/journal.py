"""The builder's journal: step containers not yet removed, so a killed daemon's next start removes them.

A build's containers are real containers (``docker ps -a`` lists them
while they exist, as dockerd's do); a daemon killed mid-build would leave
them behind, and the build that owned them is gone. Each is recorded here
from its creation to its removal; :meth:`BuildJournal.leftovers` lists
what a daemon killed mid-build left, for recovery to remove before serving.
"""

from __future__ import annotations

import time

from barge.db import Database, Schema

TABLES_V1 = """
-- Step containers of running builds (issue 11): removed at the next start if still here.
CREATE TABLE build_containers (
    id       TEXT PRIMARY KEY,
    created  REAL NOT NULL
);
"""

SCHEMA = Schema("builder", (TABLES_V1,))


class BuildJournal:
    def __init__(self, db: Database):
        self.db = db

    def add(self, cid: str) -> None:
        with self.db.write() as conn:
            conn.execute("INSERT OR IGNORE INTO build_containers (id, created) VALUES (?, ?)", (cid, time.time()))

    def drop(self, cid: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM build_containers WHERE id = ?", (cid,))

    def leftovers(self) -> list[str]:
        return [row["id"] for row in self.db.query("SELECT id FROM build_containers ORDER BY created")]
