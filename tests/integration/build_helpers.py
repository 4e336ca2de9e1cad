"""Helpers for build tests: contexts as tars, ``POST /build`` and its JSON stream read."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from urllib.parse import quote

from tests.conftest import Daemon, mounts_under


def context_tar(files: dict[str, bytes | str], *, modes: dict[str, int] | None = None,
                symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            raw = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            info.mode = (modes or {}).get(name, 0o644)
            info.mtime = 1_600_000_000
            tf.addfile(info, io.BytesIO(raw))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return buf.getvalue()


def build(d: Daemon, body: bytes, expect: int = 200, timeout: float = 180, **query) -> tuple[list[dict], bytes]:
    """``POST /build``: the messages (a 200) or the error body."""
    parts = []
    for key, value in query.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            v = json.dumps(v) if isinstance(v, dict) else str(v)
            parts.append(f"{key}={quote(v)}")
    status, _, data = d.request("POST", "/v1.41/build?" + "&".join(parts), body,
                                headers={"Content-Type": "application/x-tar"}, timeout=timeout)
    assert status == expect, data[:2000]
    if status != 200:
        return [], data
    return [json.loads(line) for line in data.splitlines() if line.strip()], data


def stream_text(messages: list[dict]) -> str:
    return "".join(m.get("stream", "") for m in messages)


def built_id(messages: list[dict]) -> str:
    ids = [m["aux"]["ID"] for m in messages if "aux" in m]
    assert ids, messages
    return ids[-1]


def error_of(messages: list[dict]) -> str:
    errors = [m for m in messages if "errorDetail" in m]
    assert errors, messages
    return errors[-1]["errorDetail"]["message"]


def leftovers(d) -> dict[str, list]:
    """What a build may leave behind: containers, work dirs, scratch mounts, pending layers, build journal rows."""
    tmp = d.data_root / "tmp"
    with sqlite3.connect(d.data_root / "barge.db") as db:
        pending = db.execute("SELECT cache_id FROM pending_layers").fetchall()
        journal = db.execute("SELECT id FROM build_containers").fetchall()
    return {
        "containers": d.json("GET", "/containers/json?all=1"),
        "work dirs": sorted(p.name for p in tmp.iterdir() if p.name.startswith("build-")) if tmp.is_dir() else [],
        "mounts": [m for m in mounts_under(d.data_root) if "barge-mnt" in m],
        "pending layers": pending,
        "journal": journal,
    }
