"""The vfs driver, after moby's: ``<home>/dir/<id>`` holds the layer's whole tree.

Creating a layer copies its parent's tree (``cp -a --reflink=auto``: it keeps
hard links, xattrs, devices, ownership and times, and shares blocks on file
systems that can). Slow and space-hungry, but it needs no kernel feature and
no root, so it works everywhere. The diff half is core's naive one.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import uuid
from pathlib import Path

from barge.errors import NotFound, no_space_text
from barge.graphdriver import GraphDriver, Mount


class VfsDriver(GraphDriver):
    name = "vfs"
    options_schema = {}

    def __init__(self, home: Path, options=None):
        super().__init__(home, options)
        self.dir = self.home / "dir"
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in self.dir.glob(".tmp-*"):  # a create interrupted by a crash
            _rmtree(stale)

    def _path(self, layer_id: str) -> Path:
        if not layer_id or "/" in layer_id or layer_id.startswith("."):
            raise NotFound(f"invalid layer id {layer_id!r}")
        return self.dir / layer_id

    def create(self, layer_id: str, parent: str | None) -> None:
        path = self._path(layer_id)
        if path.exists():
            raise FileExistsError(f"layer {layer_id} exists")
        tmp = self.dir / f".tmp-{layer_id}-{uuid.uuid4().hex[:8]}"
        try:
            if parent is None:
                tmp.mkdir(0o755)
                os.chmod(tmp, 0o755)
            else:
                if not self.exists(parent):
                    raise NotFound(f"parent layer {parent} not found")
                _copy_tree(self._path(parent), tmp)
            os.rename(tmp, path)
        except BaseException:
            _rmtree(tmp)
            raise

    def remove(self, layer_id: str) -> None:
        _rmtree(self._path(layer_id))

    def get(self, layer_id: str) -> list[Mount]:
        if not self.exists(layer_id):
            raise NotFound(f"layer {layer_id} not found")
        return [Mount("bind", str(self._path(layer_id)), ("rbind", "rw"))]

    def exists(self, layer_id: str) -> bool:
        try:
            return self._path(layer_id).is_dir()
        except NotFound:
            return False

    def layer_ids(self) -> list[str]:
        return [p.name for p in self.dir.iterdir() if not p.name.startswith(".")]

    def status(self) -> list[tuple[str, str]]:
        layers = sum(1 for p in self.dir.iterdir() if not p.name.startswith("."))
        return [("Layers", str(layers))]

    def metadata(self, layer_id: str) -> dict[str, str]:
        if not self.exists(layer_id):
            raise NotFound(f"layer {layer_id} not found")
        return {"Dir": str(self._path(layer_id))}


def _copy_tree(src: Path, dst: Path) -> None:
    proc = subprocess.run(
        ["cp", "-a", "--reflink=auto", "--", str(src), str(dst)],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        for err in (errno.ENOSPC, errno.EDQUOT):  # a full disk: one line, with its errno, not cp's one per file
            if os.strerror(err) in proc.stderr:
                raise OSError(err, f"copying layer {src.name}: {no_space_text(err)}")
        raise OSError(f"copying layer {src.name}: {proc.stderr.strip()}")


def _rmtree(path: Path) -> None:
    """Remove a layer even where read-only directories (0555) stop a non-root user."""

    def onerror(func, p, exc_info):
        parent = os.path.dirname(p)
        try:
            os.chmod(parent, stat.S_IMODE(os.lstat(parent).st_mode) | 0o700)
            func(p)
        except FileNotFoundError:
            pass

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=onerror)
