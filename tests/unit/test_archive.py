"""barge.archive: unpacking untrusted layer tars and producing them."""

from __future__ import annotations

import io
import os
import stat
import tarfile

import pytest

from barge.archive import ArchiveError, apply_layer, changes_dirs, overlay_changes, tar_changes, tar_directory
from barge.archive.apply import clean_name
from barge.archive.reader import TarReader
from barge.archive.stream import IterReader
from barge.archive.walk import TarWalker
from barge.errors import InvalidParameter
from barge.graphdriver import ChangeKind
from barge.testing.conformance import LayerTar, snapshot

IS_ROOT = os.geteuid() == 0


@pytest.fixture
def target(tmp_path):
    t = tmp_path / "target"
    t.mkdir()
    return t


def test_archive_error_is_invalid_parameter():
    assert issubclass(ArchiveError, InvalidParameter)


@pytest.mark.parametrize(
    "name, expected",
    [("a/b", "a/b"), ("./a//b/", "a/b"), ("/abs/x", "abs/x"), ("a/../b", "b"), ("/../x", "x"), (".", ""), ("/", "")],
)
def test_clean_name(name, expected):
    assert clean_name(name) == expected


@pytest.mark.parametrize("name", ["..", "../x", "a/../../x", "../../etc/passwd"])
def test_clean_name_rejects_climbing_out(name):
    with pytest.raises(ArchiveError, match="escapes the target"):
        clean_name(name)


def test_reader_handles_gnu_long_names_and_base256(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        ti = tarfile.TarInfo("d/" + "n" * 200)
        ti.size, ti.uid = 3, 0o7777777 + 5  # uid too big for octal: base-256
        tf.addfile(ti, io.BytesIO(b"abc"))
        ti = tarfile.TarInfo("l")
        ti.type, ti.linkname = tarfile.SYMTYPE, "t" * 150
        tf.addfile(ti)
    buf.seek(0)
    r = TarReader(buf)
    first = next(r)
    assert (first.name, first.size, first.uid) == ("d/" + "n" * 200, 3, 0o7777777 + 5)
    second = next(r)
    assert second.linkname == "t" * 150
    assert list(r) == []


def test_apply_preserves_metadata(target):
    tar = (LayerTar()
           .dir("d", 0o750, mtime=1000)
           .file("d/f", b"data", 0o640, mtime=2000, xattrs={"user.k": "v"})
           .hardlink("d/h", "d/f")
           .symlink("d/s", "f", mtime=3000)
           .fifo("p", 0o600))
    assert apply_layer(tar.stream(), target) == 4
    f = os.lstat(target / "d/f")
    assert stat.S_IMODE(f.st_mode) == 0o640 and f.st_mtime == 2000 and f.st_nlink == 2
    assert os.lstat(target / "d/h").st_ino == f.st_ino
    assert os.readlink(target / "d/s") == "f" and os.lstat(target / "d/s").st_mtime == 3000
    assert os.lstat(target / "d").st_mtime == 1000 and stat.S_IMODE(os.lstat(target / "d").st_mode) == 0o750
    assert stat.S_ISFIFO(os.lstat(target / "p").st_mode)
    assert os.getxattr(target / "d/f", "user.k") == b"v"


def test_apply_replaces_entries_and_merges_dirs(target):
    (target / "d").mkdir()
    (target / "d/keep").write_bytes(b"k")
    (target / "f").mkdir()
    (target / "f/x").write_bytes(b"x")
    os.symlink("/etc", target / "link")
    apply_layer(LayerTar().dir("d").file("f", b"now a file").file("link", b"not followed").stream(), target)
    assert (target / "d/keep").read_bytes() == b"k"
    assert (target / "f").read_bytes() == b"now a file"
    assert not os.path.islink(target / "link") and (target / "link").read_bytes() == b"not followed"


def test_symlink_parent_is_resolved_inside_the_target(target, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    tar = (LayerTar()
           .symlink("evil", str(outside))
           .file("evil/pwned", b"x")
           .symlink("up", "../../../../../../..")
           .file("up/etc/pwned", b"y")
           .symlink("loop", "loop")
           )
    apply_layer(tar.stream(), target)
    assert os.listdir(outside) == []
    assert (target / str(outside).lstrip("/") / "pwned").read_bytes() == b"x"
    assert (target / "etc/pwned").read_bytes() == b"y"
    with pytest.raises(ArchiveError):
        apply_layer(LayerTar().file("loop/x", b"").stream(), target)


def test_hardlink_outside_is_an_error(target, tmp_path):
    (tmp_path / "secret").write_bytes(b"s")
    with pytest.raises(ArchiveError):
        apply_layer(LayerTar().hardlink("h", "../secret").stream(), target)
    with pytest.raises(ArchiveError):
        apply_layer(LayerTar().hardlink("h", str(tmp_path / "secret")).stream(), target)
    assert os.stat(tmp_path / "secret").st_nlink == 1


def test_a_node_swapped_for_a_symlink_before_its_chmod_is_refused(target, tmp_path, monkeypatch):
    """CVE-2018-15664 class: a running container replaces the FIFO just made by a symlink to a
    host file; the mode meant for the FIFO must not land on that file (chmod follows links)."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"secret")
    victim.chmod(0o600)
    real_mknod = os.mknod

    def mknod_then_swap(name, mode, device=0, *, dir_fd=None):
        real_mknod(name, mode, device, dir_fd=dir_fd)
        os.unlink(name, dir_fd=dir_fd)  # what the racing container does
        os.symlink(str(victim), name, dir_fd=dir_fd)

    monkeypatch.setattr(os, "mknod", mknod_then_swap)
    with pytest.raises(ArchiveError, match="replaced while it was unpacked"):
        apply_layer(LayerTar().fifo("p", mode=0o666).stream(), target)
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600


@pytest.mark.parametrize("cut", [100, 512 + 100, 1024 + 5000])
def test_truncated_tar_is_an_error(target, cut):
    data = LayerTar().file("big", b"a" * 10000).bytes()
    with pytest.raises(ArchiveError, match="unexpected end|checksum"):
        apply_layer(io.BytesIO(data[:cut]), target)


def test_garbage_is_an_error(target):
    with pytest.raises(ArchiveError, match="checksum"):
        apply_layer(io.BytesIO(b"x" * 2048), target)


def test_empty_stream_is_an_empty_layer(target):
    assert apply_layer(io.BytesIO(b""), target) == 0
    assert os.listdir(target) == []


def test_delete_whiteouts(target):
    (target / "gone").write_bytes(b"")
    (target / "d").mkdir()
    (target / "d/old").write_bytes(b"")
    (target / "d/sub").mkdir()
    (target / "d/sub/older").write_bytes(b"")
    tar = LayerTar().whiteout("gone").dir("d").opaque("d").file("d/new", b"n").whiteout("missing")
    apply_layer(tar.stream(), target, whiteouts="delete")
    assert sorted(os.listdir(target)) == ["d"]
    assert os.listdir(target / "d") == ["new"]


@pytest.mark.skipif(not IS_ROOT, reason="whiteout devices and trusted.* xattrs need root")
def test_overlay_whiteouts_and_tar_round_trip(target, tmp_path):
    tar = LayerTar().whiteout("gone").dir("d", 0o711).opaque("d").file("d/new", b"n")
    apply_layer(tar.stream(), target, whiteouts="overlay")
    wh = os.lstat(target / "gone")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
    assert os.getxattr(target / "d", "trusted.overlay.opaque") == b"y"
    assert not (target / "d/.wh..wh..opq").exists()
    data = b"".join(tar_directory(target, whiteouts="overlay"))
    names = tarfile.open(fileobj=io.BytesIO(data)).getnames()
    assert names == ["d", "d/.wh..wh..opq", "d/new", ".wh.gone"]
    again = tmp_path / "again"
    again.mkdir()
    apply_layer(io.BytesIO(data), again, whiteouts="overlay")
    assert snapshot(again, xattr_prefix="trusted.overlay") == snapshot(target, xattr_prefix="trusted.overlay")


def test_tar_directory_is_deterministic_and_round_trips(target, tmp_path):
    (target / "b").mkdir()
    (target / "b/f").write_bytes(b"x" * 1000)
    os.link(target / "b/f", target / "a-link")
    os.symlink("b/f", target / "s")
    (target / ("long" * 40)).write_bytes(b"long name")
    os.setxattr(target / "b/f", "user.k", b"\x00binary\xff")
    one = b"".join(tar_directory(target))
    assert one == b"".join(tar_directory(target))
    out = tmp_path / "out"
    out.mkdir()
    apply_layer(io.BytesIO(one), out)
    assert snapshot(out) == snapshot(target)
    members = {m.name: m for m in tarfile.open(fileobj=io.BytesIO(one))}
    assert members["b/f"].islnk() or members["a-link"].islnk()


def test_changes_dirs_and_tar_changes(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    for root in (old, new):
        (root / "d").mkdir(parents=True)
        (root / "same").write_bytes(b"s")
        os.utime(root / "same", (1, 1))
        (root / "d/edit").write_bytes(b"1")
        os.utime(root / "d/edit", (1, 1))
    (old / "gone").write_bytes(b"")
    (new / "d/edit").write_bytes(b"22")
    (new / "added").mkdir()
    (new / "added/x").write_bytes(b"")
    changes = changes_dirs(old, new)
    assert [(c.path, c.kind) for c in changes] == [
        ("/added", ChangeKind.ADD), ("/added/x", ChangeKind.ADD), ("/d", ChangeKind.MODIFY),
        ("/d/edit", ChangeKind.MODIFY), ("/gone", ChangeKind.DELETE),
    ]
    names = tarfile.open(fileobj=io.BytesIO(b"".join(tar_changes(new, changes)))).getnames()
    assert names == ["added", "added/x", "d", "d/edit", ".wh.gone"]
    assert {c.kind for c in changes_dirs(None, new)} == {ChangeKind.ADD}


@pytest.mark.skipif(not IS_ROOT, reason="whiteout devices need root")
def test_overlay_changes(tmp_path):
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "d").mkdir(parents=True)
    (lower / "d/a").write_bytes(b"")
    (lower / "f").write_bytes(b"")
    (upper / "d").mkdir(parents=True)
    os.setxattr(upper / "d", "trusted.overlay.opaque", b"y")
    (upper / "d/b").write_bytes(b"")
    os.mknod(upper / "f", stat.S_IFCHR, 0)
    kinds = {c.path: c.kind for c in overlay_changes([str(lower)], upper)}
    assert kinds == {"/d": ChangeKind.MODIFY, "/d/a": ChangeKind.DELETE, "/d/b": ChangeKind.ADD, "/f": ChangeKind.DELETE}


def test_plain_tars_keep_whiteout_names_as_files(tmp_path):
    """cp copies files: a file named .wh.x is a file there, not a deletion."""
    import io as _io
    import tarfile as _tarfile

    from barge.archive import apply_layer as _apply

    (tmp_path / "x").write_text("keep me")
    buf = _io.BytesIO()
    with _tarfile.open(fileobj=buf, mode="w") as tf:
        for name in (".wh.x", ".wh..wh..opq"):
            info = _tarfile.TarInfo(name)
            info.size = 2
            tf.addfile(info, _io.BytesIO(b"hi"))
    _apply(_io.BytesIO(buf.getvalue()), tmp_path, whiteouts=None)
    assert (tmp_path / "x").read_text() == "keep me"
    assert (tmp_path / ".wh.x").read_bytes() == b"hi"
    assert (tmp_path / ".wh..wh..opq").read_bytes() == b"hi"


def test_copy_out_keeps_the_callers_owner(tmp_path):
    """docker cp's copy-out does not chown (moby's CopyTo sets NoLchown)."""
    import io as _io
    import os as _os
    import tarfile as _tarfile

    import pytest as _pytest

    from barge.archive import apply_layer as _apply

    if _os.geteuid() != 0:
        _pytest.skip("chown of unpacked files happens only as root")
    buf = _io.BytesIO()
    with _tarfile.open(fileobj=buf, mode="w") as tf:
        info = _tarfile.TarInfo("owned")
        info.size, info.uid, info.gid = 1, 7, 8
        tf.addfile(info, _io.BytesIO(b"x"))
    _apply(_io.BytesIO(buf.getvalue()), tmp_path / "", whiteouts=None, chown=False)
    st = (tmp_path / "owned").stat()
    assert (st.st_uid, st.st_gid) == (0, 0)
    _apply(_io.BytesIO(buf.getvalue()), tmp_path / "", whiteouts=None)
    st = (tmp_path / "owned").stat()
    assert (st.st_uid, st.st_gid) == (7, 8)


def test_drivers_see_the_archive_change_types():
    import barge.archive
    import barge.graphdriver

    assert barge.graphdriver.Change is barge.archive.Change
    assert barge.graphdriver.ChangeKind is barge.archive.ChangeKind
    assert barge.archive.Change("/x", ChangeKind.ADD).to_dict() == {"Path": "/x", "Kind": 1}


def test_iter_reader_reads_across_chunks_and_closes_its_generator():
    closed = []

    def chunks():
        try:
            yield b"ab"
            yield b""
            yield b"cde"
        finally:
            closed.append(True)

    reader = io.BufferedReader(IterReader(chunks()), buffer_size=2)
    assert reader.read(4) == b"abcd"
    reader.close()
    assert closed == [True]


def test_tar_walker_emits_a_tree_without_following_symlinks(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"data")
    os.link(tmp_path / "d" / "f", tmp_path / "d" / "g")
    os.symlink("/etc/passwd", tmp_path / "d" / "link")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        raw = b"".join(TarWalker().tree(fd, "d", "d")) + b"\0" * 1024
    finally:
        os.close(fd)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        members = {m.name: m for m in tf.getmembers()}
        assert sorted(members) == ["d", "d/f", "d/g", "d/link"]
        assert tf.extractfile("d/f").read() == b"data"
        assert members["d/g"].islnk() and members["d/g"].linkname == "d/f"
        assert members["d/link"].issym() and members["d/link"].linkname == "/etc/passwd"
