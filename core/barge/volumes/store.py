"""Volume records, and their files through the volume's driver.

A volume is a row in the daemon db's ``volumes`` table; its files are kept
by its driver (:mod:`barge.volumes.drivers`): ``local`` keeps a directory
``<data_root>/volumes/<name>/_data`` that containers bind-mount, a Docker
volume plugin keeps them where it says at ``mount``. Drivers other than
``local`` come from the lookup the composition root hands the store (the
plugin service). Which
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

import contextlib
import hashlib
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
from typing import Any, Callable, Iterable

from barge.db import Database, Schema
from barge.errors import BargeError, Conflict, InvalidParameter, NotFound
from barge.filters import Filters, dangling_value, labels_match
from barge.hooks import hookimpl
from barge.volumes import localopts
from barge.volumes.drivers import LOCAL, DriverListing, DriverLookup, LocalDriver, VolumeDriver

log = logging.getLogger("barge.volumes")

DRIVER = LOCAL
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
    if len(name) == 1:
        raise InvalidParameter(f"create {name}: volume name is too short, names should be at least two alphanumeric "
                               "characters")
    if not _NAME.match(name):
        raise InvalidParameter(
            f'create {name}: "{name}" includes invalid characters for a local volume name, '
            'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'
        )


def _created_now() -> str:
    """``time.RFC3339`` (seconds) in UTC, as Docker writes ``CreatedAt``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def volumes_of_driver(db: Database, driver: str) -> int:
    """How many volumes driver ``driver`` has (a plugin with volumes is in use)."""
    row = db.query_one("SELECT COUNT(*) AS n FROM volumes WHERE driver = ?", (driver,))
    return int(row["n"]) if row is not None else 0


def mount_id(container_id: str, destination: str) -> str:
    """The ``ID`` of one container's mount of a volume, the same at mount and unmount (across restarts)."""
    return hashlib.sha256(f"{container_id}:{destination}".encode()).hexdigest()


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
    def __init__(self, db: Database, data_root: Path | str, emit: Emit | None = None,
                 drivers: DriverLookup | None = None, listing: DriverListing | None = None):
        db.require(SCHEMA)
        self.db = db
        self.root = Path(data_root) / "volumes"
        self.local = LocalDriver(self.root)
        self._drivers = drivers
        self._listing = listing
        #: plugin volumes' mounts made by starts of this daemon: (volume, mount id)
        self._active: set[tuple[str, str]] = set()
        #: local volumes with type/device/o: mounted at their first user, unmounted after their last
        self._optioned = localopts.Mounts()
        self.emit: Emit = emit or (lambda action, name, attrs: None)
        #: serialises creates of one name (get-or-create) within the daemon
        self._lock = threading.Lock()

    # -- places -----------------------------------------------------------

    def mountpoint(self, name: str) -> Path:
        return self.local.mountpoint(name)

    def driver(self, name: str, volume: str = "") -> VolumeDriver:
        """The volume driver ``name``; NotFound in dockerd's words when there is no such plugin."""
        if name in ("", LOCAL):
            return self.local
        try:
            if self._drivers is None:
                raise NotFound(f'error looking up volume plugin {name}: plugin "{name}" not found')
            return self._drivers(name)
        except BargeError as exc:
            if not volume:
                raise
            raise type(exc)(f"create {volume}: {exc}") from None

    # -- reading ----------------------------------------------------------

    @staticmethod
    def _row(row) -> Volume:
        return Volume(row["name"], row["driver"], json.loads(row["labels"]), json.loads(row["options"]),
                      row["created"])

    def records(self) -> list[Volume]:
        """Every volume, read under the lock a create makes its directory and record under (``system check``)."""
        with self._lock:
            return [self._row(r) for r in self.db.query("SELECT * FROM volumes")]

    def option_mount_in_use(self, name: str) -> bool:
        """Whether a container of this daemon holds the optioned mount of ``name`` now."""
        return self._optioned.in_use(name)

    def find(self, name: str) -> Volume | None:
        row = self.db.query_one("SELECT * FROM volumes WHERE name = ?", (name,))
        return self._row(row) if row else None

    def get(self, name: str) -> Volume:
        vol = self.find(name) if name else None
        if vol is None:
            raise NotFound(f"get {name}: no such volume")
        return vol

    def view(self, vol: Volume, with_status: bool = False) -> dict[str, Any]:
        """Docker's ``Volume`` object (``Status``, the driver's, for inspect only, as dockerd); a plugin's
        that cannot be reached shows no Mountpoint."""
        mountpoint, scope, status = "", "local", None
        try:
            driver = self.driver(vol.driver)
            mountpoint, scope = driver.path(vol.name), driver.scope()
            status = driver.status(vol.name) if with_status else None
        except BargeError as exc:
            log.warning("volume %s: driver %s: %s", vol.name, vol.driver, exc)
        view = {
            "CreatedAt": vol.created,
            "Driver": vol.driver,
            "Labels": dict(vol.labels) or None,  # none given: null, as dockerd
            "Mountpoint": mountpoint,
            "Name": vol.name,
            "Options": dict(vol.options) or None,
            "Scope": scope,
        }
        if status:
            view["Status"] = status
        return view

    def inspect(self, name: str) -> dict[str, Any]:
        return self.view(self.get(name), with_status=True)

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
        warnings: list[str] = []
        only_local = set(filters.get("driver", ())) == {DRIVER}
        if "label" not in filters and dangling is not False and not only_local:  # theirs: no labels, no users
            for view in self._unrecorded(warnings):
                if "name" in filters and not any(_search(p, view["Name"]) for p in filters["name"]):
                    continue
                if "driver" not in filters or view["Driver"] in filters["driver"]:
                    out.append(view)
        return {"Volumes": out, "Warnings": warnings or None}  # none: null, as dockerd

    def _unrecorded(self, warnings: list[str]) -> list[dict[str, Any]]:
        """Volumes the plugins have that barge has no record of (dockerd lists them too); a plugin
        that cannot answer is a warning."""
        if self._listing is None:
            return []
        known = {r["name"] for r in self.db.query("SELECT name FROM volumes")}
        out = []
        for driver in self._listing():
            try:
                entries, scope = driver.list(), driver.scope()
            except BargeError as exc:
                warnings.append(f"{driver.name}: {exc}")
                continue
            for entry in entries:
                if entry["Name"] in known:
                    continue
                out.append({"CreatedAt": str(entry.get("CreatedAt") or ""), "Driver": driver.name, "Labels": None,
                            "Mountpoint": str(entry.get("Mountpoint") or ""), "Name": entry["Name"], "Options": None,
                            "Scope": scope})
        return out

    # -- creating ---------------------------------------------------------

    def create(self, name: str = "", driver: str = "", driver_opts: dict | None = None,
               labels: dict | None = None, anonymous: bool = False) -> tuple[Volume, bool]:
        """``POST /volumes/create``: the volume, and whether it is new (an existing name is returned,
        unless ``driver`` names another driver than its own). The driver makes the storage, then the
        record is written; when that fails the storage is removed again, except a local directory that
        was there before (:meth:`recover` removes it at the next start)."""
        labels = dict(labels or {})
        if not name:
            name = secrets.token_hex(32)
            anonymous = True
        validate_name(name)
        if driver in ("", DRIVER):
            if driver_opts:
                localopts.validate(name, driver_opts)  # mounted at first use (localopts.Mounts)
            drv: VolumeDriver = self.local
            options = {k: str(v) for k, v in (driver_opts or {}).items()}
        else:
            drv, options = self.driver(driver, name), dict(driver_opts or {})
        if anonymous:
            labels.setdefault(ANONYMOUS_LABEL, "")
        with self._lock:
            existing = self.find(name)
            if existing is not None:
                if driver:
                    _check_conflict(existing, drv.name)
                return self._known(existing), False
            undo = drv is not self.local or not (self.root / name).exists()
            drv.create(name, options)
            vol = Volume(name, drv.name, labels, options, _created_now())
            try:
                with self.db.write() as conn:
                    conn.execute("INSERT INTO volumes (name, driver, labels, options, created) VALUES (?, ?, ?, ?, ?)",
                                 (vol.name, vol.driver, _dump(vol.labels), _dump(vol.options), vol.created))
            except BaseException:
                if undo:
                    with contextlib.suppress(BargeError):
                        drv.remove(name)
                raise
        self.emit("create", name, {"driver": drv.name})
        return vol, True

    def _known(self, vol: Volume) -> Volume:
        """A create of a name that exists: dockerd announces it as a ``create`` all the same."""
        self.emit("create", vol.name, {"driver": vol.driver})
        return vol

    def ensure(self, name: str, anonymous: bool = False, driver: str = "", options: dict | None = None,
               announce: bool = False) -> Volume:
        """The named volume, created on first use (``-v name:/path``, ``--volume-driver``, ``DriverConfig``);
        ``announce``: a container's create, which dockerd announces even for a known volume."""
        vol = self.find(name)
        if vol is not None:
            if driver not in ("", DRIVER, vol.driver):  # "local" is what -v says when it names no driver
                _check_conflict(vol, self.driver(driver, name).name)
            if vol.driver == DRIVER and not self.mountpoint(name).is_dir():  # removed behind our back
                self.mountpoint(name).mkdir(parents=True, exist_ok=True, mode=0o755)
            return self._known(vol) if announce else vol
        return self.create(name, driver, options, anonymous=anonymous)[0]

    # -- removing ---------------------------------------------------------

    def remove(self, name: str, force: bool = False) -> None:
        """``DELETE /volumes/{name}``: 404 unknown (unless ``force``), 409 in use (always)."""
        with self.db.write() as conn:
            row = conn.execute("SELECT * FROM volumes WHERE name = ?", (name,)).fetchone()
            if row is None:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = self.users(name, conn)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            conn.execute("DELETE FROM volumes WHERE name = ?", (name,))
        vol = self._row(row)
        if vol.driver == DRIVER:
            # A mount left there (a device, a bound host directory) is unmounted, never emptied.
            if vol.options and not self._optioned.in_use(name):
                localopts.unmount_stale(self.mountpoint(name))
            if not localopts.is_mounted(self.mountpoint(name)):
                self.local.remove(name)
        else:
            # The plugin is called outside the db's write lock (it may take minutes); its refusal
            # puts the record back.
            try:
                self.driver(vol.driver).remove(name)
            except BargeError as exc:
                if not force:
                    with self.db.write() as conn:
                        conn.execute("INSERT OR IGNORE INTO volumes (name, driver, labels, options, created) "
                                     "VALUES (?, ?, ?, ?, ?)", (vol.name, vol.driver, _dump(vol.labels),
                                                                _dump(vol.options), vol.created))
                    raise Conflict(f"remove {name}: {exc}") from None
                log.warning("volume %s: driver %s: %s (removed with force)", name, vol.driver, exc)
        self.emit("destroy", name, {"driver": vol.driver})

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
        """``POST /volumes/prune``: unused anonymous volumes of ``local`` (all unused ones with ``all=true``)."""
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
            if vol.driver != DRIVER or vol.name in used or (not every and not vol.anonymous):
                continue  # moby prunes the local driver's volumes only
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

    def mount(self, container_id: str, point: dict[str, Any]) -> str:
        """Before a container starts: the volume's driver mounts it; the host path to bind-mount."""
        vol = self.get(point["Name"])
        key = (vol.name, mount_id(container_id, point.get("Destination", "")))
        path = self.driver(vol.driver).mount(*key)
        if vol.driver != DRIVER:
            self._active.add(key)
        elif vol.options:
            self._optioned.mount(vol.name, key[1], Path(path), vol.options)
        return path

    def unmount(self, container_id: str, point: dict[str, Any]) -> None:
        """After a container's exit: a plugin's volume is released (``VolumeDriver.Unmount``)."""
        driver = point.get("Driver") or DRIVER
        if driver != DRIVER:
            key = (point["Name"], mount_id(container_id, point.get("Destination", "")))
            self._active.discard(key)
            self.driver(driver).unmount(*key)
        else:
            self._optioned.unmount(point["Name"], mount_id(container_id, point.get("Destination", "")),
                                   self.mountpoint(point["Name"]))

    def release(self, container_id: str, points: Iterable[dict[str, Any]]) -> None:
        """A start that failed: the plugin volumes it mounted are unmounted (dockerd's Cleanup)."""
        for p in points:
            key = (p.get("Name") or "", mount_id(container_id, p.get("Destination", "")))
            if p.get("Type") == "volume" and key[0] and (key in self._active or self._optioned.holds(*key)):
                try:
                    self.unmount(container_id, p)
                except BargeError as exc:
                    log.warning("unmounting volume %s of %s: %s", p["Name"], container_id[:12], exc)

    def mounted(self, container_id: str, point: dict[str, Any]) -> None:
        """A container starts with this volume (Docker's ``mount`` event)."""
        self.emit("mount", point["Name"], {
            "container": container_id, "destination": point.get("Destination", ""),
            "driver": point.get("Driver") or DRIVER,
            "propagation": point.get("Propagation", ""), "read/write": "true" if point.get("RW", True) else "false",
        })

    @hookimpl(trylast=True)
    def barge_container_event(self, action: str, container_id: str, attributes: dict) -> None:
        """At a container's ``die`` its volumes are released: a plugin's volume is unmounted
        (``VolumeDriver.Unmount``), and Docker's ``unmount`` event follows ``die``."""
        if action != "die":
            return
        row = self.db.query_one("SELECT mounts FROM containers WHERE id = ?", (container_id,))
        for m in json.loads(row["mounts"]) if row is not None else []:
            if m.get("Type") == "volume" and m.get("Name"):
                try:
                    self.unmount(container_id, m)
                except BargeError as exc:
                    log.warning("unmounting volume %s of %s: %s", m["Name"], container_id[:12], exc)
                self.emit("unmount", m["Name"], {"container": container_id, "driver": m.get("Driver") or DRIVER})

    # -- start-up ---------------------------------------------------------

    def recover(self) -> int:
        """Remove volume directories without a record (a daemon killed mid-remove or mid-create); an
        optioned volume's mount stays for the running containers that use it, is unmounted otherwise."""
        if not self.root.is_dir():
            return 0
        self._recover_mounts()
        known = {r["name"] for r in self.db.query("SELECT name FROM volumes")}
        removed = 0
        for entry in self.root.iterdir():
            if entry.name not in known and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        return removed


    def _recover_mounts(self) -> None:
        running = {}
        for row in self.db.query("SELECT id, mounts, state FROM containers"):
            if json.loads(row["state"]).get("Running"):
                running[row["id"]] = json.loads(row["mounts"])
        for vol in (self._row(r) for r in self.db.query("SELECT * FROM volumes WHERE driver = ? AND options != '{}'",
                                                          (DRIVER,))):
            users = [mount_id(cid, m.get("Destination", "")) for cid, mounts in running.items() for m in mounts
                     if m.get("Type") == "volume" and m.get("Name") == vol.name]
            if users and localopts.is_mounted(self.mountpoint(vol.name)):
                for user in users:
                    self._optioned.adopt(vol.name, user)
            else:
                localopts.unmount_stale(self.mountpoint(vol.name))


def _check_conflict(existing: Volume, driver: str) -> None:
    """moby's ``checkConflict``: a name another driver has is refused."""
    if existing.driver != driver:
        raise Conflict(f"create {existing.name}: driver '{existing.driver}' already has volume '{existing.name}': "
                       "volume name must be unique")


def _search(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return pattern in value
