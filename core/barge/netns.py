"""Network namespaces as files: a container's *sandbox*, made before it starts.

As libnetwork does, the namespace is created apart from the container's
process and bind-mounted on a file (``<exec_root>/netns/<container id>``):
the network driver configures it before the container runs, the exec driver
joins it by path, the embedded DNS server binds inside it, and it outlives
a daemon restart. Unmounting the file drops the last reference once the
container's processes are gone; the kernel then destroys the namespace and
the links in it.

Entering a namespace uses ``setns(2)`` in a short-lived thread: the call
changes only the calling thread, so the daemon's other threads stay in the
host's namespace and no process is forked. Anything that opens sockets
there (netlink, DNS) must create *and use* them inside :func:`run_in`'s
callable, or keep only the socket objects it made there.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from barge.errors import BargeError

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MNT_DETACH = 0x2

T = TypeVar("T")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]


class NetnsError(BargeError):
    """A namespace call failed; ``errno`` names why."""

    def __init__(self, message: str, err: int = 0):
        super().__init__(message)
        self.errno = err


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise NetnsError(f"{what}: {os.strerror(err)}", err)


def _in_thread(fn: Callable[[], T]) -> T:
    box: dict[str, object] = {}

    def body() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    t = threading.Thread(target=body, name="netns", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def create(path: str | os.PathLike) -> str:
    """A new, empty network namespace (only ``lo``, down) bound on ``path``."""
    path = str(path)
    Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o711)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)

    def body() -> None:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            try:
                _check(_libc.mount(b"/proc/thread-self/ns/net", path.encode(), None, MS_BIND, None),
                       f"bind-mount the network namespace on {path}")
            finally:
                _check(_libc.setns(home, CLONE_NEWNET), "setns back to the host's network namespace")
        finally:
            os.close(home)

    try:
        _in_thread(body)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return path


def remove(path: str | os.PathLike) -> None:
    """Unmount and delete a namespace file; a file already gone is fine."""
    raw = str(path).encode()
    if _libc.umount2(raw, MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):  # EINVAL: not mounted
            raise NetnsError(f"unmount {path}: {os.strerror(err)}", err)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


NSFS_MAGIC = 0x6E736673


def is_netns(path: str | os.PathLike) -> bool:
    """True when ``path`` is a mounted namespace file (nsfs), not just a placeholder."""
    buf = (ctypes.c_long * 16)()
    _libc.statfs.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    if _libc.statfs(str(path).encode(), buf) != 0:
        return False
    return buf[0] == NSFS_MAGIC


def run_in(path: str | os.PathLike, fn: Callable[[], T]) -> T:
    """Call ``fn()`` in a thread that has entered the namespace at ``path``.

    The thread checks it really is inside (by inode) before calling ``fn``,
    so a mistake can never configure the host's own interfaces.
    """
    path = str(path)

    def body() -> T:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(_libc.setns(target, CLONE_NEWNET), f"setns({path})")
            try:
                if os.stat("/proc/thread-self/ns/net").st_ino != os.fstat(target).st_ino:
                    raise NetnsError(f"setns({path}) did not enter the namespace")
                return fn()
            finally:
                _check(_libc.setns(home, CLONE_NEWNET), "setns back to the host's network namespace")
        finally:
            os.close(target)
            os.close(home)

    return _in_thread(body)

