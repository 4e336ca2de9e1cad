"""The volumes' invariants, for ``barge system check``: records <-> directories <-> users.

- each ``local`` volume has its directory (``<data_root>/volumes/<name>/_data``),
  and nothing under ``volumes/`` belongs to no record;
- a ``local`` volume with mount options is mounted while, and only while,
  a running container uses it;
- every volume a container's mounts name exists.

Volumes of plugins are the plugin's to check. A directory of no record is
what a create or remove cut short leaves (a daemon start removes it too); a
record whose directory is gone gets an empty one again (its files are gone
already: it can be used, or removed).
"""

from __future__ import annotations

import json
import shutil

from barge.consistency import Finding, finding
from barge.volumes import localopts
from barge.volumes.store import DRIVER, VolumeStore


def check_volumes(store: VolumeStore) -> tuple[list[Finding], dict[str, int]]:
    entries = sorted(p.name for p in store.root.iterdir() if p.is_dir()) if store.root.is_dir() else []
    volumes = {v.name: v for v in store.records()}
    users, running_users = _users(store)
    out: list[Finding] = []
    for name in entries:
        if name not in volumes:
            path = store.root / name
            out.append(finding("volumes", name, f"a volume directory of no volume ({path})", remedy="remove it",
                               repair=lambda p=path: _remove_dir(p)))
    for vol in volumes.values():
        if vol.driver != DRIVER:
            continue
        point = store.mountpoint(vol.name)
        if not point.is_dir():
            out.append(finding("volumes", vol.name, f"its directory {point} is gone",
                               remedy="make it again, empty (its files are gone already)",
                               repair=lambda p=point: (p.mkdir(parents=True, exist_ok=True, mode=0o755),
                                                       "made it again")[1]))
        elif vol.options and localopts.is_mounted(point) and not running_users.get(vol.name):
            out.append(finding("volumes", vol.name, "it is mounted but no running container uses it",
                               remedy="unmount it", repair=lambda p=point, n=vol.name: _unmount(store, n, p)))
    for name, cids in sorted(users.items()):
        if name not in volumes:
            out.append(finding("volumes", name, f"containers {', '.join(c[:12] for c in cids)} use it but it is gone",
                               left="create the volume again (it will be empty), or remove those containers"))
    return out, {"volumes": len(volumes)}


def _users(store: VolumeStore) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    users: dict[str, list[str]] = {}
    running: dict[str, list[str]] = {}
    for row in store.db.query("SELECT id, mounts, state FROM containers"):
        runs = bool(json.loads(row["state"]).get("Running"))
        for m in json.loads(row["mounts"]):
            if m.get("Type") == "volume" and m.get("Name") and m.get("Driver", DRIVER) in ("", DRIVER):
                users.setdefault(m["Name"], []).append(row["id"])
                if runs:
                    running.setdefault(m["Name"], []).append(row["id"])
    return users, running


def _unmount(store: VolumeStore, name: str, point) -> str:
    if store.option_mount_in_use(name):
        return "left: a container started using it meanwhile"
    localopts.unmount_stale(point)
    return "unmounted it"


def _remove_dir(path) -> str:
    if localopts.is_mounted(path / "_data"):
        localopts.unmount_stale(path / "_data")
    shutil.rmtree(path, ignore_errors=True)
    return "removed it"
