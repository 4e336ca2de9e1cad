"""``barge mkimage busybox``: the rootfs tar, built from the host's binary."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from barge.client import mkimage

BUSYBOX = mkimage.find_busybox()
needs_busybox = pytest.mark.skipif(BUSYBOX is None, reason="busybox-static is not installed (apt-get install busybox-static)")


@needs_busybox
def test_rootfs_is_reproducible_and_complete():
    names = mkimage.applets(BUSYBOX)
    assert "sh" in names and "ls" in names and "busybox" not in names
    first = mkimage.build_rootfs(BUSYBOX, names)
    assert hashlib.sha256(first).digest() == hashlib.sha256(mkimage.build_rootfs(BUSYBOX, names)).digest()
    tar = tarfile.open(fileobj=io.BytesIO(first))
    members = {m.name.rstrip("/"): m for m in tar.getmembers()}
    regular = [m for m in members.values() if m.isreg() and m.name.startswith("bin/")]
    assert len(regular) == 1 and regular[0].size == BUSYBOX.stat().st_size
    links = [m for m in members.values() if m.islnk()]
    assert {m.linkname for m in links} == {regular[0].name}
    assert {m.name for m in links} | {regular[0].name} == {f"bin/{n}" for n in [*names, "busybox"]}
    assert members["tmp"].mode == 0o1777 and members["root"].mode == 0o700
    for d in ("etc", "home", "proc", "sys", "dev", "var", "usr/bin", "usr/sbin", "sbin"):
        assert members[d].isdir()
    passwd = tar.extractfile("etc/passwd").read().decode()
    assert passwd.splitlines()[0] == "root:x:0:0:root:/root:/bin/sh" and "nobody:x:65534" in passwd
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == int(BUSYBOX.stat().st_mtime) for m in members.values())
    # depth-first, sorted: how barge's layer packer walks a tree
    names_in_order = [m.name for m in tar.getmembers()]
    assert names_in_order.index("bin/[") < names_in_order.index("bin/busybox") < names_in_order.index("dev")


def test_changes_set_cmd_and_path():
    assert mkimage.CHANGES == ['CMD ["sh"]', "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


def test_header_checksum_is_valid():
    block = mkimage._header("etc/x", b"0", 0o644, 123, 5)
    info = tarfile.TarInfo.frombuf(block, "utf-8", "strict")
    assert (info.name, info.size, info.mtime, info.mode) == ("etc/x", 5, 123, 0o644)
