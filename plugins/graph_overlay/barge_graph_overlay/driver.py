"""The overlay driver, in moby's overlay2 layout.

``<home>/<id>/`` holds ``diff`` (the layer's own files: an overlay upper
dir), ``link`` (its short name), ``lower`` (the parents' short links, top
first), ``work`` and ``merged``; ``<home>/l/<short>`` links to
``../<id>/diff`` so that lowerdir strings stay short. ``get`` only describes
the overlay mount, with absolute short-link paths. Diffs are native: a
layer's tar is its ``diff`` dir with whiteout devices and opaque xattrs
turned into ``.wh.`` entries.
"""

from __future__ import annotations

import base64
import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import BinaryIO, Iterator

from barge.archive import apply_layer, overlay_changes, tar_directory
from barge.errors import NotFound
from barge.graphdriver import NATIVE_DIFF, Change, GraphDriver, Mount, naive
from barge_graph_overlay import support

LINK_DIR = "l"


class OverlayDriver(GraphDriver):
    name = "overlay"
    capabilities = frozenset({NATIVE_DIFF})
    options_schema = {}

    def __init__(self, home: Path, options=None):
        super().__init__(home, options)
        self.home.mkdir(parents=True, exist_ok=True)
        support.check_support(self.home, checked_before=(self.home / LINK_DIR).is_dir())
        (self.home / LINK_DIR).mkdir(exist_ok=True)
        self._index_off = support.index_off_supported()
        for stale in self.home.glob(".tmp-*"):  # a create interrupted by a crash
            shutil.rmtree(stale, ignore_errors=True)

    # -- layout ------------------------------------------------------------

    def _dir(self, layer_id: str) -> Path:
        if not layer_id or "/" in layer_id or layer_id.startswith(".") or layer_id == LINK_DIR:
            raise NotFound(f"invalid layer id {layer_id!r}")
        return self.home / layer_id

    def _require(self, layer_id: str) -> Path:
        if not self.exists(layer_id):
            raise NotFound(f"layer {layer_id} not found")
        return self._dir(layer_id)

    def _link(self, layer_id: str) -> str:
        return (self._dir(layer_id) / "link").read_text().strip()

    def _lower_links(self, layer_id: str) -> list[str]:
        """Absolute short-link paths of the parents, top first."""
        path = self._dir(layer_id) / "lower"
        if not path.exists():
            return []
        return [str(self.home / rel) for rel in path.read_text().strip().split(":") if rel]

    def _lower_dirs(self, layer_id: str) -> list[str]:
        return [os.path.realpath(link) for link in self._lower_links(layer_id)]

    def _parent(self, layer_id: str) -> str | None:
        path = self._dir(layer_id) / "parent"
        return path.read_text().strip() or None if path.exists() else None

    def _is_parent(self, layer_id: str, parent: str | None) -> bool:
        return self._parent(layer_id) == parent

    # -- proto half ----------------------------------------------------------

    def create(self, layer_id: str, parent: str | None) -> None:
        self._create(layer_id, parent, rw=False)

    def create_rw(self, layer_id: str, parent: str | None) -> None:
        self._create(layer_id, parent, rw=True)

    def _create(self, layer_id: str, parent: str | None, rw: bool) -> None:
        final = self._dir(layer_id)
        if final.exists():
            raise FileExistsError(f"layer {layer_id} exists")
        lower = ""
        if parent is not None:
            self._require(parent)
            parent_lower = (self._dir(parent) / "lower")
            lower = f"{LINK_DIR}/{self._link(parent)}"
            if parent_lower.exists() and parent_lower.read_text().strip():
                lower += ":" + parent_lower.read_text().strip()
        short = base64.b32encode(os.urandom(16)).decode().rstrip("=")[:26]
        tmp = self.home / f".tmp-{layer_id}-{uuid.uuid4().hex[:8]}"
        try:
            tmp.mkdir(0o700)
            for sub in ("diff", "work", "merged"):
                (tmp / sub).mkdir(0o755)
            os.chmod(tmp / "diff", 0o755)
            (tmp / "link").write_text(short)
            (tmp / "parent").write_text(parent or "")
            if lower:
                (tmp / "lower").write_text(lower)
            if rw:
                (tmp / "rw").write_text("")
            os.rename(tmp, final)
            os.symlink(f"../{layer_id}/diff", self.home / LINK_DIR / short)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if final.exists() and not os.path.lexists(self.home / LINK_DIR / short):
                shutil.rmtree(final, ignore_errors=True)
            raise

    def remove(self, layer_id: str) -> None:
        path = self._dir(layer_id)
        try:
            short = self._link(layer_id)
        except (FileNotFoundError, NotADirectoryError):
            short = None
        if short and "/" not in short:
            try:
                os.unlink(self.home / LINK_DIR / short)
            except FileNotFoundError:
                pass
        shutil.rmtree(path, ignore_errors=True)

    def exists(self, layer_id: str) -> bool:
        try:
            path = self._dir(layer_id)
        except NotFound:
            return False
        return (path / "diff").is_dir() and (path / "link").is_file()

    def layer_ids(self) -> list[str]:
        """Every layer directory, a half-made one too (a leak to remove); ``l`` and work files are none."""
        return [p.name for p in self.home.iterdir() if p.name != LINK_DIR and not p.name.startswith(".")]

    def get(self, layer_id: str) -> list[Mount]:
        path = self._require(layer_id)
        rw = (path / "rw").exists()
        lowers = self._lower_links(layer_id)
        diff = str(path / "diff")
        if not lowers:
            return [Mount("bind", diff, ("rbind", "rw" if rw else "ro"))]
        extra = ("index=off",) if self._index_off else ()
        if rw:
            opts = (f"lowerdir={':'.join(lowers)}", f"upperdir={diff}", f"workdir={path / 'work'}") + extra
        else:  # an image layer, seen read-only: its own diff on top of its parents
            own = str(self.home / LINK_DIR / self._link(layer_id))
            opts = ("ro", f"lowerdir={':'.join([own, *lowers])}") + extra
        return [Mount("overlay", "overlay", opts)]

    def status(self) -> list[tuple[str, str]]:
        return [
            ("Backing Filesystem", support.fs_name(self.home)),
            ("Supports d_type", "true"),
            ("Native Overlay Diff", "true"),
            ("userxattr", "false"),
        ]

    def metadata(self, layer_id: str) -> dict[str, str]:
        path = self._require(layer_id)
        meta = {
            "UpperDir": str(path / "diff"),
            "WorkDir": str(path / "work"),
            "MergedDir": str(path / "merged"),
        }
        lowers = self._lower_dirs(layer_id)
        if lowers:
            meta["LowerDir"] = ":".join(lowers)
        return meta

    # -- diff half: native when asked against the layer's own parent ----------

    def diff(self, layer_id: str, parent: str | None) -> Iterator[bytes]:
        path = self._require(layer_id)
        if not self._is_parent(layer_id, parent):
            return naive.diff(self, layer_id, parent)
        return tar_directory(path / "diff", whiteouts="overlay")

    def changes(self, layer_id: str, parent: str | None) -> list[Change]:
        path = self._require(layer_id)
        if not self._is_parent(layer_id, parent):
            return naive.changes(self, layer_id, parent)
        return overlay_changes(self._lower_dirs(layer_id), path / "diff")

    def apply_diff(self, layer_id: str, parent: str | None, stream: BinaryIO) -> int:
        path = self._require(layer_id)
        if not self._is_parent(layer_id, parent):
            return naive.apply_diff(self, layer_id, parent, stream)
        return apply_layer(stream, path / "diff", whiteouts="overlay")

    def diff_size(self, layer_id: str, parent: str | None) -> int:
        path = self._require(layer_id)
        if not self._is_parent(layer_id, parent):
            return naive.diff_size(self, layer_id, parent)
        return _tree_size(path / "diff")


def _tree_size(root: Path) -> int:
    """Bytes of the non-directories in ``root``, hard links counted once."""
    seen: set[tuple[int, int]] = set()
    size = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISDIR(st.st_mode):
                continue
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            size += st.st_size
    return size
