"""The ``hardlink`` driver: vfs, but image layers share unchanged files.

An image layer starts as a *hard-link farm* of its parent: directories are
created anew, every other entry is a hard link to the parent's inode, so a
child layer costs no data blocks until it changes something. This is safe
only because image layers are written by ``apply_diff`` alone, and barge's
layer unpacker never modifies a file in place: each tar entry removes the
old name and creates a new file, so the parent's inode stays untouched.

A container's read-write layer is different: a process would write through
the shared inode into every layer. So ``create_rw`` makes a real copy.

Everything here uses only barge's public contract: ``GraphDriver``,
``Mount``, the errors, and the naive diff half it inherits.
"""

from __future__ import annotations

import os
import shutil
import stat
import uuid
from pathlib import Path

from barge.errors import NotFound
from barge.graphdriver import GraphDriver, Mount


class HardlinkDriver(GraphDriver):
    name = "hardlink"
    options_schema = {}

    def __init__(self, home: Path, options=None):
        super().__init__(home, options)
        self.layers = self.home / "layers"
        self.layers.mkdir(parents=True, exist_ok=True)

    def _path(self, layer_id: str) -> Path:
        if not layer_id or "/" in layer_id or layer_id.startswith("."):
            raise NotFound(f"invalid layer id {layer_id!r}")
        return self.layers / layer_id

    def create(self, layer_id: str, parent: str | None) -> None:
        self._create(layer_id, parent, share=True)

    def create_rw(self, layer_id: str, parent: str | None) -> None:
        self._create(layer_id, parent, share=False)

    def _create(self, layer_id: str, parent: str | None, share: bool) -> None:
        path = self._path(layer_id)
        if path.exists():
            raise FileExistsError(f"layer {layer_id} exists")
        if parent is not None and not self.exists(parent):
            raise NotFound(f"parent layer {parent} not found")
        tmp = self.layers / f".tmp-{layer_id}-{uuid.uuid4().hex[:8]}"
        try:
            if parent is None:
                tmp.mkdir(0o755)
                os.chmod(tmp, 0o755)
            else:
                _clone_tree(self._path(parent), tmp, share)
            os.rename(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def remove(self, layer_id: str) -> None:
        shutil.rmtree(self._path(layer_id), ignore_errors=True)

    def layer_ids(self) -> list[str]:
        return [p.name for p in self.layers.iterdir() if not p.name.startswith(".")]

    def get(self, layer_id: str) -> list[Mount]:
        if not self.exists(layer_id):
            raise NotFound(f"layer {layer_id} not found")
        return [Mount("bind", str(self._path(layer_id)), ("rbind", "rw"))]

    def exists(self, layer_id: str) -> bool:
        try:
            return self._path(layer_id).is_dir()
        except NotFound:
            return False

    def status(self) -> list[tuple[str, str]]:
        return [("Layers", str(sum(1 for p in self.layers.iterdir() if not p.name.startswith("."))))]

    def metadata(self, layer_id: str) -> dict[str, str]:
        if not self.exists(layer_id):
            raise NotFound(f"layer {layer_id} not found")
        return {"Dir": str(self._path(layer_id))}


def _clone_tree(src: Path, dst: Path, share: bool) -> None:
    """Recreate ``src`` at ``dst``: directories anew (mode, owner, xattrs,
    times), everything else hard-linked (``share``) or copied."""
    links: dict[tuple[int, int], str] = {}
    _clone_dir(str(src), str(dst), share, links)


def _clone_dir(src: str, dst: str, share: bool, links: dict) -> None:
    st = os.lstat(src)
    os.mkdir(dst, 0o700)
    for entry in os.scandir(src):
        s, d = entry.path, os.path.join(dst, entry.name)
        est = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(est.st_mode):
            _clone_dir(s, d, share, links)
        elif share:
            os.link(s, d, follow_symlinks=False)
        else:
            _copy_entry(s, d, est, links)
    _copy_meta(src, dst, st)


def _copy_entry(src: str, dst: str, st: os.stat_result, links: dict) -> None:
    key = (st.st_dev, st.st_ino)
    if st.st_nlink > 1 and key in links:  # keep hard links within the layer
        os.link(links[key], dst, follow_symlinks=False)
        return
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISREG(st.st_mode):
        shutil.copyfile(src, dst, follow_symlinks=False)
    elif stat.S_ISFIFO(st.st_mode):
        os.mkfifo(dst)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        os.mknod(dst, st.st_mode, st.st_rdev)
    else:
        return  # sockets do not belong in a layer
    if st.st_nlink > 1:
        links[key] = dst
    _copy_meta(src, dst, st)


def _copy_meta(src: str, dst: str, st: os.stat_result) -> None:
    if os.geteuid() == 0:
        os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    try:
        for key in os.listxattr(src, follow_symlinks=False):
            os.setxattr(dst, key, os.getxattr(src, key, follow_symlinks=False), follow_symlinks=False)
    except OSError:
        pass  # xattrs the destination cannot hold are dropped, as cp -a does
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
