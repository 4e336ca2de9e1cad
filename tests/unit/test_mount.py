"""barge.mount: mount(2) wrappers and the mounted() context manager."""

from __future__ import annotations

import os

import pytest

from barge.graphdriver import Mount
from barge.mount import MountError, NotMounted, mount_all, mounted, parse_options, unmount, unmount_strict

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")


def test_parse_options_splits_flags_and_data():
    flags, prop, data = parse_options(["ro", "nosuid", "lowerdir=/a:/b", "rprivate", "index=off"])
    assert flags == 0x1 | 0x2 and prop and data == "lowerdir=/a:/b,index=off"


def test_single_bind_is_yielded_without_mounting(tmp_path):
    with mounted([Mount("bind", str(tmp_path), ("rbind", "ro"))]) as root:
        assert root == tmp_path


def test_unmount_of_unmounted_is_idempotent(tmp_path):
    assert unmount(tmp_path) is False
    with pytest.raises(NotMounted):
        unmount_strict(tmp_path)


@needs_root
def test_bind_ro_and_tmpfs(tmp_path):
    src, target = tmp_path / "src", tmp_path / "target"
    src.mkdir()
    target.mkdir()
    mount_all([Mount("bind", str(src), ("rbind", "ro"))], target)
    try:
        with pytest.raises(OSError):
            (target / "x").write_bytes(b"")
    finally:
        assert unmount(target) is True
    with mounted([Mount("tmpfs", "tmpfs", ("size=1m",))], tmp_dir=tmp_path) as root:
        assert os.path.ismount(root)
        (root / "f").write_bytes(b"in tmpfs")
    assert not root.exists()


@needs_root
def test_overlay_mount_and_cleanup_on_error(tmp_path):
    for d in ("l1", "l2", "u", "w"):
        (tmp_path / d).mkdir()
    (tmp_path / "l2/f").write_bytes(b"low")
    m = Mount("overlay", "overlay", (f"lowerdir={tmp_path}/l1:{tmp_path}/l2", f"upperdir={tmp_path}/u", f"workdir={tmp_path}/w"))
    with pytest.raises(RuntimeError):
        with mounted([m], tmp_dir=tmp_path) as root:
            assert (root / "f").read_bytes() == b"low"
            (root / "g").write_bytes(b"up")
            raise RuntimeError("boom")
    assert not root.exists()
    assert (tmp_path / "u/g").read_bytes() == b"up"


@needs_root
def test_mount_error_names_errno_and_target(tmp_path):
    with pytest.raises(MountError) as info:
        with mounted([Mount("overlay", "overlay", ("lowerdir=/nonexistent-barge",))], tmp_dir=tmp_path):
            pass
    assert info.value.errno and "barge-mnt-" in info.value.target
    assert [p for p in tmp_path.iterdir()] == []


def test_mountinfo_and_the_mount_holding_a_path(tmp_path):
    from barge.mount import MountInfo, mount_of, mountinfo

    table = mountinfo()
    assert any(m.point == "/" for m in table) and all(isinstance(m, MountInfo) for m in table)
    proc = next(m for m in table if m.point == "/proc")
    assert proc.fstype == "proc" and ":" in proc.device
    assert mount_of("/proc/self/status").point == "/proc"
    (tmp_path / "a b").mkdir()
    stacked = [MountInfo("/", "0:1", "ext4", ("rw",), frozenset()),
               MountInfo(str(tmp_path), "0:2", "tmpfs", ("rw",), frozenset({"shared:7"})),
               MountInfo(str(tmp_path), "0:3", "tmpfs", ("rw",), frozenset({"master:7"}))]
    holder = mount_of(str(tmp_path / "a b"), stacked)
    assert holder.device == "0:3" and holder.propagation() == {"master"}  # the one on top
    assert mount_of(str(tmp_path) + "x", stacked).point == "/"
