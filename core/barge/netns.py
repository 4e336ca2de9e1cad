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
import errno
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from barge import libc
from barge.libc import CLONE_NEWNET, MNT_DETACH, MS_BIND, SyscallError

T = TypeVar("T")


class NetnsError(SyscallError):
    """A namespace call failed; ``errno`` names why, the message what was being done."""

    def __init__(self, message: str, err: int = 0):
        super().__init__("netns", err)
        self.message_text = message

    def __str__(self) -> str:
        return self.message_text


@contextlib.contextmanager
def _doing(what: str) -> Iterator[None]:
    """Turn a failed libc call into a :class:`NetnsError` saying ``what`` failed."""
    try:
        yield
    except SyscallError as exc:
        raise NetnsError(f"{what}: {exc.strerror}", exc.errno) from None


def _in_thread(fn: Callable[[], T]) -> T:
    box: dict[str, object] = {}

    def body() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which raises it
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
            with _doing("unshare(CLONE_NEWNET)"):
                libc.unshare(CLONE_NEWNET)
            try:
                with _doing(f"bind-mount the network namespace on {path}"):
                    libc.mount("/proc/thread-self/ns/net", path, None, MS_BIND)
            finally:
                with _doing("setns back to the host's network namespace"):
                    libc.setns(home, CLONE_NEWNET)
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
    try:
        libc.umount2(str(path), MNT_DETACH)
    except SyscallError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOENT):  # EINVAL: not mounted
            raise NetnsError(f"unmount {path}: {exc.strerror}", exc.errno) from None
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


NSFS_MAGIC = 0x6E736673


def is_netns(path: str | os.PathLike) -> bool:
    """True when ``path`` is a mounted namespace file (nsfs), not just a placeholder."""
    try:
        return libc.statfs_type(str(path)) == NSFS_MAGIC
    except SyscallError:
        return False


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
            with _doing(f"setns({path})"):
                libc.setns(target, CLONE_NEWNET)
            try:
                if os.stat("/proc/thread-self/ns/net").st_ino != os.fstat(target).st_ino:
                    raise NetnsError(f"setns({path}) did not enter the namespace")
                return fn()
            finally:
                with _doing("setns back to the host's network namespace"):
                    libc.setns(home, CLONE_NEWNET)
        finally:
            os.close(target)
            os.close(home)

    return _in_thread(body)

