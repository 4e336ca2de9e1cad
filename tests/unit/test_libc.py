"""barge.libc: the one libc binding, and its errno -> named error mapping."""

from __future__ import annotations

import errno
import os

import pytest

from barge import libc
from barge.errors import BargeError
from barge.mount import MountError, MountPermissionDenied, NotMounted
from barge.netns import NetnsError


@pytest.mark.parametrize("err, cls, builtin", [
    (errno.EPERM, libc.PermissionDenied, PermissionError),
    (errno.EACCES, libc.PermissionDenied, PermissionError),
    (errno.ENOENT, libc.NotFound, FileNotFoundError),
    (errno.ENOTDIR, libc.NotADirectory, NotADirectoryError),
    (errno.EBUSY, libc.Busy, OSError),
    (errno.EINVAL, libc.InvalidArgument, OSError),
    (errno.EBADF, libc.SyscallError, OSError),
])
def test_errno_names_the_error_and_the_message_names_the_call(err, cls, builtin):
    exc = libc.error("umount", err, "/some/where")
    assert type(exc) is cls
    assert isinstance(exc, builtin) and isinstance(exc, BargeError) and exc.status == 500
    assert exc.errno == err and exc.strerror == os.strerror(err) and exc.call == "umount"
    assert str(exc) == exc.message == f"umount /some/where: {os.strerror(err)}"
    assert str(libc.error("capget", err)) == f"capget: {os.strerror(err)}"


def test_a_failed_call_raises_its_named_error(tmp_path):
    with pytest.raises(libc.NotFound) as info:
        libc.statfs_type(tmp_path / "missing")
    assert str(info.value) == f"statfs {tmp_path / 'missing'}: No such file or directory"
    assert info.value.filename == str(tmp_path / "missing")
    with pytest.raises(libc.SyscallError) as info:
        libc.setns(-1, 0)
    assert info.value.errno == errno.EBADF and str(info.value) == "setns 0x0: Bad file descriptor"
    root = os.open("/", os.O_PATH)
    try:
        with pytest.raises(FileNotFoundError):  # caught as os.* errors are
            libc.openat2(root, "no/such/dir", os.O_PATH, libc.RESOLVE_IN_ROOT)
    finally:
        os.close(root)


def test_statfs_and_readdir():
    assert libc.statfs_type("/proc") == 0x9FA0  # PROC_SUPER_MAGIC
    names = dict(libc.dirent_types("/proc/self"))
    assert b"status" in names and b"." in names


def test_mount_and_netns_errors_are_syscall_errors_with_their_own_messages():
    exc = MountPermissionDenied("mount", "/mnt/x", errno.EPERM, "type overlay, source overlay")
    assert str(exc) == "mount /mnt/x: Operation not permitted (type overlay, source overlay)"
    assert isinstance(exc, libc.PermissionDenied) and exc.target == "/mnt/x" and exc.errno == errno.EPERM
    assert isinstance(NotMounted("umount", "/mnt/x", errno.EINVAL), libc.InvalidArgument)
    assert str(MountError("umount", "/mnt/x", errno.EBUSY)) == "umount /mnt/x: Device or resource busy"
    netns_error = NetnsError("unshare(CLONE_NEWNET): Operation not permitted", errno.EPERM)
    assert isinstance(netns_error, libc.SyscallError) and str(netns_error) == netns_error.message
    assert netns_error.errno == errno.EPERM
