"""The graph driver conformance suite, for barge's drivers and third parties.

A driver package runs it against itself::

    from barge.testing.graph_conformance import GraphDriverConformance

    class TestVfs(GraphDriverConformance):
        driver_name = "vfs"

The driver is loaded by name through its entry point, registered alone in a
fresh plugin manager, and driven through ``pm.hook.barge_graph_*`` with
keyword arguments, as the daemon drives it (only ``exists``, which is no
hook, is asked of the driver itself). When the driver is not supported here
the tests skip with the driver's own reason.

The tar builders below (:class:`LayerTar`, :func:`snapshot`) are public:
driver authors may use them for their own tests.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from barge.engine.hookspecs import GraphDriverHooks
from barge.engine.plugins import load_graph_plugin, make_plugin_manager, register_driver
from barge.errors import DriverNotSupported, InvalidParameter, NotFound
from barge.graphdriver import Change, ChangeKind, Mount
from barge.mount import mounted

MTIME = 1_600_000_000
IS_ROOT = os.geteuid() == 0


# -- building layer tars ---------------------------------------------------


class NonSeekable(io.RawIOBase):
    """A read-only, non-seekable view of bytes, like a request body or a pipe."""

    def __init__(self, data: bytes, chunk: int = 65536):
        self._data = memoryview(data)
        self._pos = 0
        self._chunk = chunk

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self._chunk, len(self._data) - self._pos)
        b[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


class LayerTar:
    """Build a layer tar entry by entry (PAX format, names kept exactly)."""

    def __init__(self):
        self._buf = io.BytesIO()
        self._tf = tarfile.open(fileobj=self._buf, mode="w", format=tarfile.PAX_FORMAT)
        self._data: bytes | None = None

    def _add(self, name, typ, mode=0o644, uid=0, gid=0, mtime=MTIME, data=b"", linkname="", xattrs=None, dev=(0, 0)):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.uid, ti.gid, ti.mtime, ti.linkname = typ, mode, uid, gid, mtime, linkname
        ti.devmajor, ti.devminor = dev
        ti.size = len(data) if typ == tarfile.REGTYPE else 0
        if xattrs:
            ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
        self._tf.addfile(ti, io.BytesIO(data) if ti.size else None)
        return self

    def dir(self, name, mode=0o755, **kw):
        return self._add(name, tarfile.DIRTYPE, mode, **kw)

    def file(self, name, data=b"", mode=0o644, **kw):
        return self._add(name, tarfile.REGTYPE, mode, data=data, **kw)

    def symlink(self, name, target, **kw):
        return self._add(name, tarfile.SYMTYPE, 0o777, linkname=target, **kw)

    def hardlink(self, name, target, **kw):
        return self._add(name, tarfile.LNKTYPE, linkname=target, **kw)

    def fifo(self, name, mode=0o644, **kw):
        return self._add(name, tarfile.FIFOTYPE, mode, **kw)

    def chardev(self, name, major, minor, mode=0o666, **kw):
        return self._add(name, tarfile.CHRTYPE, mode, dev=(major, minor), **kw)

    def whiteout(self, path):
        head, _, base = path.rpartition("/")
        return self.file(f"{head}/.wh.{base}" if head else f".wh.{base}", mode=0o600)

    def opaque(self, directory):
        return self.file(f"{directory}/.wh..wh..opq", mode=0o600)

    def bytes(self) -> bytes:
        if self._data is None:
            self._tf.close()
            self._data = self._buf.getvalue()
        return self._data

    def stream(self) -> io.BufferedReader:
        return io.BufferedReader(NonSeekable(self.bytes()))


def snapshot(root, xattr_prefix: str = "user.") -> dict[str, tuple]:
    """A comparable description of a tree: type, mode, owner, content digest,
    link target, device, ``user.*`` xattrs, file mtimes and hard-link groups."""
    root = os.fspath(root)
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            kind = stat.S_IFMT(st.st_mode)
            digest = link = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
                link = (st.st_dev, st.st_ino)  # replaced by the group's first path below
            elif stat.S_ISLNK(st.st_mode):
                link = os.readlink(path)
            try:
                xattrs = tuple(sorted(
                    (k, os.getxattr(path, k, follow_symlinks=False))
                    for k in os.listxattr(path, follow_symlinks=False) if k.startswith(xattr_prefix)
                ))
            except OSError:
                xattrs = ()
            mtime = None if stat.S_ISDIR(st.st_mode) else int(st.st_mtime)
            rdev = st.st_rdev if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else 0
            out[rel] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, digest, link, rdev, xattrs, mtime)
    # hard links count only within the tree (another layer may share the inode)
    groups: dict[tuple[int, int], list[str]] = {}
    for rel, entry in out.items():
        if isinstance(entry[5], tuple):
            groups.setdefault(entry[5], []).append(rel)
    for members in groups.values():
        first = min(members) if len(members) > 1 else None
        for rel in members:
            entry = out[rel]
            out[rel] = entry[:5] + (first,) + entry[6:]
    return out


def user_xattrs_supported(directory) -> bool:
    probe = Path(directory) / f".xattr-probe-{uuid.uuid4().hex[:6]}"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.barge", b"1")
        return True
    except OSError:
        return False
    finally:
        probe.unlink()


# -- the driver under test -------------------------------------------------


@dataclass
class GraphUnderTest:
    """The registered driver: ``graph.<operation>(**kw)`` calls hook ``barge_graph_<operation>``."""

    pm: Any
    plugin: Any
    home: Path
    sentinel: Path

    def __getattr__(self, hook: str):
        caller = getattr(self.pm.hook, f"barge_graph_{hook}")
        return lambda **kw: caller(**kw)

    def exists(self, layer_id: str) -> bool:
        """Not a hook (core never asks): the driver's own answer."""
        return self.plugin.driver.exists(layer_id)

    def apply(self, layer_id: str, parent: str | None, tar: LayerTar) -> int:
        return self.pm.hook.barge_graph_apply_diff(layer_id=layer_id, parent=parent, stream=tar.stream())

    def layer(self, layer_id: str, parent: str | None, tar: LayerTar | None = None) -> str:
        self.pm.hook.barge_graph_create(layer_id=layer_id, parent=parent)
        if tar is not None:
            self.apply(layer_id, parent, tar)
        return layer_id

    def view(self, layer_id: str):
        """Context manager: the layer's merged file system as a directory."""
        return mounted(self.pm.hook.barge_graph_get(layer_id=layer_id))

    def diff_bytes(self, layer_id: str, parent: str | None) -> bytes:
        return b"".join(self.pm.hook.barge_graph_diff(layer_id=layer_id, parent=parent))


def base_tar() -> tuple[LayerTar, int]:
    """A base layer with every kind of entry; returns it and its file bytes."""
    t = LayerTar()
    owner = dict(uid=1234, gid=4321) if IS_ROOT else {}
    t.dir("etc", 0o755, mtime=MTIME - 100)
    t.file("etc/hostname", b"base\n", 0o644, mtime=MTIME - 10)
    t.file("etc/secret", b"s3cr3t", 0o600, **owner)
    t.file("etc/xattr", b"x", xattrs={"user.barge.test": "value"})
    t.dir("bin", 0o755)
    t.file("bin/tool", b"#!/bin/sh\necho tool\n" * 50, 0o755)
    t.hardlink("bin/tool-link", "bin/tool")
    t.symlink("bin/sh", "/bin/tool")
    t.symlink("etc/rel", "../bin/tool")
    t.fifo("run.fifo", 0o640)
    t.dir("opq", 0o750)
    t.file("opq/old1", b"old1")
    t.dir("opq/sub")
    t.file("opq/sub/old2", b"old2")
    t.file("gone", b"will be deleted")
    t.dir("gonedir")
    t.file("gonedir/inner", b"inner")
    t.file("changed", b"before")
    if IS_ROOT:
        t.chardev("dev-null", 1, 3)
    size = sum(len(x) for x in (b"base\n", b"s3cr3t", b"x", b"#!/bin/sh\necho tool\n" * 50,
                                b"old1", b"old2", b"will be deleted", b"inner", b"before"))
    return t, size


def child_tar() -> tuple[LayerTar, int]:
    t = LayerTar()
    t.file("added", b"new file", 0o640, mtime=MTIME + 5)
    t.file("changed", b"after, longer", 0o600, mtime=MTIME + 6)
    t.whiteout("gone")
    t.whiteout("gonedir")
    t.dir("opq", 0o755)
    t.opaque("opq")
    t.file("opq/new", b"fresh")
    t.dir("newdir", 0o700)
    t.file("newdir/deep", b"deep")
    return t, len(b"new file") + len(b"after, longer") + len(b"fresh") + len(b"deep")


class GraphDriverConformance:
    """Subclass with ``driver_name`` (and ``driver_options``) to test a driver."""

    driver_name: ClassVar[str]
    driver_options: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def graph(self, barge_disk_tmp: Path):
        home = barge_disk_tmp / "home"
        sentinel = barge_disk_tmp / "sentinel"
        sentinel.mkdir()
        (sentinel / "secret").write_bytes(b"do not touch")
        try:
            plugin = load_graph_plugin(self.driver_name, home, dict(self.driver_options))
        except DriverNotSupported as exc:
            pytest.skip(f"{self.driver_name}: not supported here: {exc.reason}")
        pm = make_plugin_manager(load_extensions=False)
        register_driver(pm, plugin, "graph", self.driver_name)
        g = GraphUnderTest(pm, plugin, home, sentinel)
        try:
            yield g
        finally:
            pm.hook.barge_graph_cleanup()
            assert _sentinel_intact(sentinel), "a layer tar wrote outside the driver home"
            assert sorted(p.name for p in barge_disk_tmp.iterdir()) == ["home", "sentinel"]

    @pytest.fixture
    def base(self, graph):
        tar, size = base_tar()
        graph.layer("base", None)
        assert graph.apply("base", None, tar) == size
        return "base"

    @pytest.fixture
    def child(self, graph, base):
        tar, size = child_tar()
        graph.layer("child", base)
        assert graph.apply("child", base, tar) == size
        return "child"

    # -- the contract exists -------------------------------------------

    def test_every_graph_hook_is_implemented(self, graph):
        names = [n for n in dir(GraphDriverHooks) if n.startswith("barge_graph_")]
        assert names
        for name in names:
            impls = getattr(graph.pm.hook, name).get_hookimpls()
            assert any(i.plugin is graph.plugin for i in impls), f"driver does not implement {name}"
        assert graph.plugin.driver.name == self.driver_name
        assert isinstance(graph.capabilities(), frozenset)
        assert graph.plugin.driver.api_version == 1

    def test_status_and_metadata_types(self, graph, base):
        status = graph.status()
        assert isinstance(status, list)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in status)
        meta = graph.metadata(layer_id=base)
        assert isinstance(meta, dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())

    # -- proto half ----------------------------------------------------

    def test_create_exists_remove_idempotent(self, graph):
        assert graph.exists(layer_id="l1") is False
        graph.create(layer_id="l1", parent=None)
        assert graph.exists(layer_id="l1") is True
        with pytest.raises(FileExistsError):
            graph.create(layer_id="l1", parent=None)
        graph.remove(layer_id="l1")
        assert graph.exists(layer_id="l1") is False
        graph.remove(layer_id="l1")
        graph.remove(layer_id="never-existed")

    def test_layer_ids_lists_layers_only(self, graph, base):
        """``system check`` finds leaked layers by this list: every layer, nothing else, or None."""
        graph.create_rw(layer_id="rw1", parent=base)
        ids = graph.layer_ids()
        if ids is None:
            pytest.skip("the driver cannot list its layers (system check skips its layers)")
        assert sorted(ids) == sorted([base, "rw1"])
        graph.remove(layer_id="rw1")
        assert graph.layer_ids() == [base]

    def test_create_with_missing_parent_fails(self, graph):
        with pytest.raises(NotFound):
            graph.create(layer_id="orphan", parent="missing")
        assert graph.exists(layer_id="orphan") is False
        with pytest.raises(NotFound):
            graph.create_rw(layer_id="orphan-rw", parent="missing")

    def test_get_unknown_layer_is_not_found(self, graph):
        with pytest.raises(NotFound):
            graph.get(layer_id="missing")

    def test_get_returns_mount_descriptions(self, graph, base):
        mounts = graph.get(layer_id=base)
        assert mounts and all(isinstance(m, Mount) for m in mounts)
        graph.put(layer_id=base)

    def test_empty_layer_is_empty(self, graph):
        graph.create(layer_id="empty", parent=None)
        with graph.view("empty") as root:
            assert os.listdir(root) == []

    # -- apply and view --------------------------------------------------

    def test_base_layer_view(self, graph, base):
        with graph.view(base) as root:
            assert (root / "etc/hostname").read_bytes() == b"base\n"
            assert stat.S_IMODE((root / "etc/secret").stat().st_mode) == 0o600
            assert int((root / "etc/hostname").stat().st_mtime) == MTIME - 10
            assert int((root / "etc").stat().st_mtime) == MTIME - 100
            assert os.readlink(root / "bin/sh") == "/bin/tool"
            assert os.readlink(root / "etc/rel") == "../bin/tool"
            tool, link = (root / "bin/tool").stat(), (root / "bin/tool-link").stat()
            assert (tool.st_ino, tool.st_nlink) == (link.st_ino, 2)
            assert stat.S_ISFIFO(os.lstat(root / "run.fifo").st_mode)
            assert stat.S_IMODE(os.lstat(root / "run.fifo").st_mode) == 0o640
            if user_xattrs_supported(graph.home):
                assert os.getxattr(root / "etc/xattr", "user.barge.test") == b"value"
            if IS_ROOT:
                st = (root / "etc/secret").stat()
                assert (st.st_uid, st.st_gid) == (1234, 4321)
                dev = os.lstat(root / "dev-null")
                assert stat.S_ISCHR(dev.st_mode) and dev.st_rdev == os.makedev(1, 3)

    def test_child_layer_view(self, graph, base, child):
        with graph.view(child) as root:
            assert (root / "added").read_bytes() == b"new file"
            assert (root / "changed").read_bytes() == b"after, longer"
            assert stat.S_IMODE((root / "changed").stat().st_mode) == 0o600
            assert not os.path.lexists(root / "gone")
            assert not os.path.lexists(root / "gonedir")
            assert sorted(os.listdir(root / "opq")) == ["new"]
            assert stat.S_IMODE((root / "opq").stat().st_mode) == 0o755
            assert (root / "newdir/deep").read_bytes() == b"deep"
            assert (root / "etc/hostname").read_bytes() == b"base\n"
            assert not any(n.startswith(".wh.") for _, ds, fs in os.walk(root) for n in ds + fs)
        with graph.view(base) as root:  # the parent is untouched
            assert (root / "gone").exists() and (root / "changed").read_bytes() == b"before"
            assert sorted(os.listdir(root / "opq")) == ["old1", "sub"]

    def test_changes_of_child(self, graph, base, child):
        changes = graph.changes(layer_id=child, parent=base)
        assert all(isinstance(c, Change) for c in changes)
        assert changes == sorted(changes)
        kinds = {c.path: c.kind for c in changes}
        assert kinds["/added"] == ChangeKind.ADD
        assert kinds["/changed"] == ChangeKind.MODIFY
        assert kinds["/gone"] == ChangeKind.DELETE
        assert kinds["/gonedir"] == ChangeKind.DELETE
        assert kinds["/newdir"] == ChangeKind.ADD and kinds["/newdir/deep"] == ChangeKind.ADD
        assert kinds["/opq"] == ChangeKind.MODIFY
        assert kinds["/opq/new"] == ChangeKind.ADD
        assert kinds["/opq/old1"] == ChangeKind.DELETE and kinds["/opq/sub"] == ChangeKind.DELETE
        assert "/etc/hostname" not in kinds and "/gonedir/inner" not in kinds

    def test_changes_of_base_are_all_adds(self, graph, base):
        changes = graph.changes(layer_id=base, parent=None)
        assert {c.kind for c in changes} == {ChangeKind.ADD}
        assert {"/etc", "/etc/hostname", "/bin/tool-link", "/run.fifo"} <= {c.path for c in changes}

    def test_diff_size(self, graph, base, child):
        assert graph.diff_size(layer_id=child, parent=base) == child_tar()[1]

    def test_diff_round_trip(self, graph, base, child):
        base_diff = graph.diff_bytes(base, None)
        graph.layer("base2", None)
        graph.pm.hook.barge_graph_apply_diff(layer_id="base2", parent=None, stream=io.BytesIO(base_diff))
        with graph.view(base) as a, graph.view("base2") as b:
            assert snapshot(a) == snapshot(b)
        child_diff = graph.diff_bytes(child, base)
        names = tarfile.open(fileobj=io.BytesIO(child_diff)).getnames()
        assert ".wh.gone" in names and "opq/new" in names and "etc/hostname" not in names
        graph.layer("child2", base)
        graph.pm.hook.barge_graph_apply_diff(layer_id="child2", parent=base, stream=io.BytesIO(child_diff))
        with graph.view(child) as a, graph.view("child2") as b:
            assert snapshot(a) == snapshot(b)

    # -- read-write layers -------------------------------------------------

    def test_rw_layer_changes_and_diff(self, graph, base):
        graph.create_rw(layer_id="rw", parent=base)
        with graph.view("rw") as root:
            (root / "written").write_bytes(b"by a container")
            (root / "changed").write_bytes(b"edited")
            os.unlink(root / "gone")
            (root / "etc/hostname").chmod(0o600)
        kinds = {c.path: c.kind for c in graph.changes(layer_id="rw", parent=base)}
        assert kinds["/written"] == ChangeKind.ADD
        assert kinds["/changed"] == ChangeKind.MODIFY
        assert kinds["/gone"] == ChangeKind.DELETE
        assert kinds["/etc/hostname"] == ChangeKind.MODIFY
        assert "/bin/tool" not in kinds
        tf = tarfile.open(fileobj=io.BytesIO(graph.diff_bytes("rw", base)))
        names = tf.getnames()
        assert "written" in names and ".wh.gone" in names and "bin/tool" not in names
        assert tf.extractfile("changed").read() == b"edited"
        with graph.view(base) as root:
            assert (root / "changed").read_bytes() == b"before"
        graph.remove(layer_id="rw")
        assert not graph.exists(layer_id="rw")

    # -- untrusted input ---------------------------------------------------

    def _apply_untrusted(self, graph, tar: LayerTar):
        graph.layer("evil", None)
        try:
            return graph.apply("evil", None, tar)
        finally:
            assert _sentinel_intact(graph.sentinel)

    def test_dotdot_entry_is_rejected(self, graph):
        with pytest.raises(InvalidParameter):
            self._apply_untrusted(graph, LayerTar().file("../escaped", b"x"))
        with pytest.raises(InvalidParameter):
            self._apply_untrusted_again(graph, LayerTar().file("a/../../../sentinel/secret", b"x"))
        assert not (graph.home.parent / "escaped").exists()

    def _apply_untrusted_again(self, graph, tar):
        graph.remove(layer_id="evil")
        return self._apply_untrusted(graph, tar)

    def test_absolute_entry_lands_inside(self, graph):
        target = str(graph.sentinel / "abs")
        self._apply_untrusted(graph, LayerTar().file(target, b"inside"))
        with graph.view("evil") as root:
            assert (root / target.lstrip("/")).read_bytes() == b"inside"
        assert not os.path.exists(target)

    def test_symlink_directory_escape_stays_inside(self, graph):
        up = "../" * 30
        tar = (LayerTar()
               .symlink("abs", str(graph.sentinel))
               .file("abs/pwned", b"x")
               .symlink("rel", up + str(graph.sentinel).lstrip("/"))
               .file("rel/pwned2", b"y")
               .symlink("dangling", "/nowhere/deeper")
               .file("dangling/pwned3", b"z"))
        self._apply_untrusted(graph, tar)
        inside = str(graph.sentinel).lstrip("/")
        with graph.view("evil") as root:
            assert (root / inside / "pwned").read_bytes() == b"x"
            assert (root / inside / "pwned2").read_bytes() == b"y"
            assert (root / "nowhere/deeper/pwned3").read_bytes() == b"z"

    def test_hardlink_outside_is_rejected(self, graph):
        with pytest.raises(InvalidParameter):
            self._apply_untrusted(graph, LayerTar().hardlink("hl", "../../sentinel/secret"))
        for linkname in (str(graph.sentinel / "secret"), "abs/secret"):
            tar = LayerTar().symlink("abs", str(graph.sentinel)).hardlink("hl", linkname)
            try:
                self._apply_untrusted_again(graph, tar)
            except InvalidParameter:
                pass  # the target does not exist inside the layer: refusing is right
        assert os.stat(graph.sentinel / "secret").st_nlink == 1

    def test_truncated_tar_is_invalid(self, graph):
        data = LayerTar().file("big", b"a" * 10000).file("after", b"b").bytes()
        graph.layer("trunc", None)
        with pytest.raises(InvalidParameter):
            graph.pm.hook.barge_graph_apply_diff(layer_id="trunc", parent=None, stream=io.BytesIO(data[:3000]))
        graph.remove(layer_id="trunc")
        graph.layer("garbage", None)
        with pytest.raises(InvalidParameter):
            graph.pm.hook.barge_graph_apply_diff(layer_id="garbage", parent=None, stream=io.BytesIO(b"not a tar" * 100))


def _sentinel_intact(sentinel: Path) -> bool:
    names = sorted(p.name for p in sentinel.iterdir())
    st = os.lstat(sentinel / "secret")
    return names == ["secret"] and st.st_nlink == 1 and (sentinel / "secret").read_bytes() == b"do not touch"
