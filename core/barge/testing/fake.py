"""The ``fake`` graph driver: keeps each layer's tar as it came, unpacks nothing.

It is registered in ``barge.graph_drivers`` like any driver, so core's unit
tests exercise discovery, hook dispatch and the graph without root or mounts.
Never chosen automatically.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path
from typing import BinaryIO, Iterator

from barge.errors import DriverNotSupported, NotFound
from barge.graphdriver import (
    NATIVE_DIFF,
    REPRODUCES_EXACT_DIFFS,
    Change,
    ChangeKind,
    GraphDriver,
    GraphDriverPlugin,
    Mount,
)

CHUNK = 1 << 20


class FakeDriver(GraphDriver):
    name = "fake"
    capabilities = frozenset({NATIVE_DIFF, REPRODUCES_EXACT_DIFFS})
    options_schema = {
        "fail_apply": "raise OSError in apply_diff (for failure tests)",
        "unsupported": "refuse to load with this reason (for selection tests)",
    }

    def __init__(self, home: Path, options=None):
        super().__init__(home, options)
        if self.options.get("unsupported"):
            raise DriverNotSupported(self.name, str(self.options["unsupported"]))

    def _dir(self, layer_id: str) -> Path:
        return self.home / layer_id

    def create(self, layer_id: str, parent: str | None) -> None:
        d = self._dir(layer_id)
        if d.exists():
            raise FileExistsError(f"layer {layer_id} exists")
        if parent is not None and not self.exists(parent):
            raise NotFound(f"parent layer {parent} not found")
        (d / "root").mkdir(parents=True)
        (d / "meta.json").write_text(json.dumps({"parent": parent}))

    def remove(self, layer_id: str) -> None:
        shutil.rmtree(self._dir(layer_id), ignore_errors=True)

    def get(self, layer_id: str) -> list[Mount]:
        if not self.exists(layer_id):
            raise NotFound(f"layer {layer_id} not found")
        return [Mount("bind", str(self._dir(layer_id) / "root"), ("rbind", "rw"))]

    def exists(self, layer_id: str) -> bool:
        return (self._dir(layer_id) / "meta.json").is_file()

    def layer_ids(self) -> list[str]:
        return [p.name for p in self.home.iterdir()] if self.home.is_dir() else []

    def status(self) -> list[tuple[str, str]]:
        return [("Layers", str(sum(1 for _ in self.home.iterdir())))]

    def metadata(self, layer_id: str) -> dict[str, str]:
        return {"Dir": str(self._dir(layer_id))}

    def apply_diff(self, layer_id: str, parent: str | None, stream: BinaryIO) -> int:
        if self.options.get("fail_apply"):
            raise OSError("fake driver: apply_diff failed as configured")
        size = 0
        with open(self._dir(layer_id) / "diff.tar", "wb") as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
                size += len(chunk)
        return size

    def diff(self, layer_id: str, parent: str | None) -> Iterator[bytes]:
        path = self._dir(layer_id) / "diff.tar"
        if not path.exists():
            return iter([_empty_tar()])
        return _read_chunks(path)

    def changes(self, layer_id: str, parent: str | None) -> list[Change]:
        path = self._dir(layer_id) / "diff.tar"
        if not path.exists():
            return []
        out = []
        with tarfile.open(path) as tf:
            for member in tf:
                name = "/" + member.name.strip("./").rstrip("/")
                base = name.rsplit("/", 1)[-1]
                if base.startswith(".wh."):
                    out.append(Change(name.replace(".wh.", "", 1), ChangeKind.DELETE))
                else:
                    out.append(Change(name, ChangeKind.ADD))
        return sorted(out)

    def diff_size(self, layer_id: str, parent: str | None) -> int:
        path = self._dir(layer_id) / "diff.tar"
        return path.stat().st_size if path.exists() else 0


def _read_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _empty_tar() -> bytes:
    return b"\0" * 1024


class FakeGraphDriver(GraphDriverPlugin):
    driver_class = FakeDriver
