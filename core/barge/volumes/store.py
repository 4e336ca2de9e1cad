"""Volume records and their directories (Docker's ``local`` driver, without mount options).

A volume is a row in the daemon db's ``volumes`` table and a directory
``<data_root>/volumes/<name>/_data`` that containers bind-mount. Which
containers use a volume is read from the containers' mounts (the same db),
so removing a volume checks and deletes in one transaction: a volume in use
is never removed. The directory is created before the row and removed after
it; a daemon killed in between leaves a directory without a row, which
:meth:`VolumeStore.recover` removes at the next start.

Anonymous volumes (``-v /path``, or created without a name) carry Docker's
``com.docker.volume.anonymous`` label; ``prune`` removes only those unless
``all=true`` (Docker 23+), and ``rm -v`` removes a container's anonymous
volumes with it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from barge.db import Database, Schema
from barge.errors import Conflict, InvalidParameter, NotFound
from barge.filters import Filters, dangling_value, labels_match
from barge.hooks import hookimpl

log = logging.getLogger("barge.volumes")

DRIVER = "local"
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
LIST_FILTERS = frozenset({"dangling", "driver", "label", "name"})
PRUNE_FILTERS = frozenset({"label", "label!", "all"})
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

TABLES_V1 = """
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

#: Volumes in use are read from the containers' mounts, so their table comes first.
SCHEMA = Schema("volumes", (TABLES_V1,), requires=("containers",))

#: ``emit(action, volume_name, attributes)``: a volume event (create, destroy, prune).
Emit = Callable[[str, str, dict], None]


def validate_name(name: str) -> None:
    """Docker's rule for local volume names (at least two characters)."""
    if not _NAME.match(name):
        raise InvalidParameter(
            f'create {name}: "{name}" includes invalid characters for a local volume name, '
            'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'
        )


def _created_now() -> str:
    """``time.RFC3339`` (seconds) in UTC, as Docker writes ``CreatedAt``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass
class Volume:
    name: str
    driver: str
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    created: str = ""

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in self.labels


def tree_size(path: Path) -> int:
    """Bytes of the regular files under ``path``, hard links once, never following links."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _dirnames, filenames in os.walk(path):
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            if not os.path.islink(os.path.join(dirpath, name)):
                total += st.st_size
    return total


class VolumeStore:
    def __init__(self, db: Database, data_root: Path | str, emit: Emit | None = None):
        db.require(SCHEMA)
        self.db = db
        self.root = Path(data_root) / "volumes"
        self.emit: Emit = emit or (lambda action, name, attrs: None)
        #: serialises creates of one name (get-or-create) within the daemon
        self._lock = threading.Lock()

    # -- places -----------------------------------------------------------

    def mountpoint(self, name: str) -> Path:
        return self.root / name / "_data"

    # -- reading ----------------------------------------------------------

    @staticmethod
    def _row(row) -> Volume:
        return Volume(row["name"], row["driver"], json.loads(row["labels"]), json.loads(row["options"]),
                      row["created"])

    def find(self, name: str) -> Volume | None:
        row = self.db.query_one("SELECT * FROM volumes WHERE name = ?", (name,))
        return self._row(row) if row else None

    def get(self, name: str) -> Volume:
        vol = self.find(name) if name else None
        if vol is None:
            raise NotFound(f"get {name}: no such volume")
        return vol

    def view(self, vol: Volume) -> dict[str, Any]:
        """Docker's ``Volume`` object."""
        return {
            "CreatedAt": vol.created,
            "Driver": vol.driver,
            "Labels": dict(vol.labels),
            "Mountpoint": str(self.mountpoint(vol.name)),
            "Name": vol.name,
            "Options": dict(vol.options) or None,
            "Scope": "local",
        }

    def inspect(self, name: str) -> dict[str, Any]:
        return self.view(self.get(name))

    def users(self, name: str, conn=None) -> list[str]:
        """Ids of the containers whose mounts name this volume."""
        sql = "SELECT id, mounts FROM containers WHERE mounts LIKE ?"
        params = (f'%"Name":"{name}"%',)
        rows = conn.execute(sql, params).fetchall() if conn is not None else self.db.query(sql, params)
        out = []
        for row in rows:
            for m in json.loads(row["mounts"]):
                if m.get("Type") == "volume" and m.get("Name") == name:
                    out.append(row["id"])
                    break
        return out

    def _all_users(self) -> set[str]:
        used: set[str] = set()
        for row in self.db.query("SELECT mounts FROM containers"):
            for m in json.loads(row["mounts"]):
                if m.get("Type") == "volume" and m.get("Name"):
                    used.add(m["Name"])
        return used

    def list(self, filters: Filters | None = None) -> dict[str, Any]:
        """``GET /volumes``: filters ``name`` (a pattern), ``driver``, ``label``, ``dangling``."""
        filters = filters or {}
        for key in filters:
            if key not in LIST_FILTERS:
                raise InvalidParameter(f"invalid filter '{key}'")
        dangling = dangling_value(filters.get("dangling", []))
        used = self._all_users() if dangling is not None else set()
        out = []
        for row in self.db.query("SELECT * FROM volumes ORDER BY name"):
            vol = self._row(row)
            if "name" in filters and not any(_search(p, vol.name) for p in filters["name"]):
                continue
            if "driver" in filters and vol.driver not in filters["driver"]:
                continue
            if "label" in filters and not labels_match(vol.labels, filters["label"]):
                continue
            if dangling is not None and (vol.name not in used) != dangling:
                continue
            out.append(self.view(vol))
        return {"Volumes": out, "Warnings": []}

    # -- creating ---------------------------------------------------------

    def create(self, name: str = "", driver: str = "", driver_opts: dict | None = None,
               labels: dict | None = None, anonymous: bool = False) -> tuple[Volume, bool]:
        """``POST /volumes/create``: the volume, and whether it is new (an existing name is returned)."""
        driver = driver or DRIVER
        if driver != DRIVER:
            raise NotFound(f'error looking up volume plugin {driver}: plugin "{driver}" not found')
        if driver_opts:
            # Docker's local driver mounts type/device/o at first use; barge does not (yet): say so.
            raise InvalidParameter(
                f"local volume options are not supported by barge: {', '.join(sorted(driver_opts))}")
        labels = dict(labels or {})
        if not name:
            name = secrets.token_hex(32)
            anonymous = True
        validate_name(name)
        if anonymous:
            labels.setdefault(ANONYMOUS_LABEL, "")
        with self._lock:
            existing = self.find(name)
            if existing is not None:
                return existing, False
            vol = Volume(name, driver, labels, {}, _created_now())
            top = self.root / name
            made = not top.exists()
            self.root.mkdir(parents=True, exist_ok=True, mode=0o701)
            try:
                self.mountpoint(name).mkdir(parents=True, exist_ok=True, mode=0o755)
                with self.db.write() as conn:
                    conn.execute("INSERT INTO volumes (name, driver, labels, options, created) VALUES (?, ?, ?, ?, ?)",
                                 (vol.name, vol.driver, _dump(vol.labels), _dump(vol.options), vol.created))
            except BaseException:
                if made:
                    shutil.rmtree(top, ignore_errors=True)
                raise
        self.emit("create", name, {"driver": driver})
        return vol, True

    def ensure(self, name: str, anonymous: bool = False) -> Volume:
        """The named volume, created on first use (``-v name:/path``)."""
        vol = self.find(name)
        if vol is not None:
            if not self.mountpoint(name).is_dir():  # removed behind our back: the files come back empty
                self.mountpoint(name).mkdir(parents=True, exist_ok=True, mode=0o755)
            return vol
        return self.create(name, anonymous=anonymous)[0]

    # -- removing ---------------------------------------------------------

    def remove(self, name: str, force: bool = False) -> None:
        """``DELETE /volumes/{name}``: 404 unknown (unless ``force``), 409 in use (always)."""
        with self.db.write() as conn:
            row = conn.execute("SELECT name FROM volumes WHERE name = ?", (name,)).fetchone()
            if row is None:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = self.users(name, conn)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            conn.execute("DELETE FROM volumes WHERE name = ?", (name,))
        shutil.rmtree(self.root / name, ignore_errors=True)
        self.emit("destroy", name, {"driver": DRIVER})

    def remove_unused(self, names: list[str]) -> list[str]:
        """Remove those of ``names`` no container uses (``rm -v``); return the ones removed."""
        removed = []
        for name in names:
            try:
                self.remove(name)
            except (NotFound, Conflict):
                continue
            removed.append(name)
        return removed

    def prune(self, filters: Filters | None = None) -> dict[str, Any]:
        """``POST /volumes/prune``: unused anonymous volumes (all unused ones with ``all=true``)."""
        filters = filters or {}
        for key in filters:
            if key not in PRUNE_FILTERS:
                raise InvalidParameter(f"invalid filter '{key}'")
        all_values = {v.lower() for v in filters.get("all", [])}
        if not all_values <= {"true", "false", "1", "0"}:
            raise InvalidParameter(f"invalid filter 'all={', '.join(filters['all'])}'")
        every = bool(all_values & {"true", "1"})
        used = self._all_users()
        deleted, reclaimed = [], 0
        for row in self.db.query("SELECT * FROM volumes ORDER BY name"):
            vol = self._row(row)
            if vol.name in used or (not every and not vol.anonymous):
                continue
            if "label" in filters and not labels_match(vol.labels, filters["label"]):
                continue
            if "label!" in filters and any(labels_match(vol.labels, [item]) for item in filters["label!"]):
                continue
            size = tree_size(self.mountpoint(vol.name))
            try:
                self.remove(vol.name)
            except (NotFound, Conflict):
                continue  # taken into use, or removed, meanwhile
            deleted.append(vol.name)
            reclaimed += size
        self.emit("prune", "", {"reclaimed": str(reclaimed)})
        return {"VolumesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # -- mount events -----------------------------------------------------

    def mounted(self, container_id: str, point: dict[str, Any]) -> None:
        """A container starts with this volume (Docker's ``mount`` event)."""
        self.emit("mount", point["Name"], {
            "container": container_id, "destination": point.get("Destination", ""), "driver": DRIVER,
            "propagation": point.get("Propagation", ""), "read/write": "true" if point.get("RW", True) else "false",
        })

    @hookimpl(trylast=True)
    def barge_container_event(self, action: str, container_id: str, attributes: dict) -> None:
        """At a container's ``die`` its volumes are released (Docker's ``unmount`` event, after ``die``)."""
        if action != "die":
            return
        row = self.db.query_one("SELECT mounts FROM containers WHERE id = ?", (container_id,))
        for m in json.loads(row["mounts"]) if row is not None else []:
            if m.get("Type") == "volume" and m.get("Name"):
                self.emit("unmount", m["Name"], {"container": container_id, "driver": DRIVER})

    # -- start-up ---------------------------------------------------------

    def recover(self) -> int:
        """Remove volume directories without a record (a daemon killed mid-remove or mid-create)."""
        if not self.root.is_dir():
            return 0
        known = {r["name"] for r in self.db.query("SELECT name FROM volumes")}
        removed = 0
        for entry in self.root.iterdir():
            if entry.name not in known and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        return removed


def _search(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return pattern in value
