"""The kernel calls only a container needs, beside :mod:`barge.libc`'s.

The libc calls (mount, umount2, setns, unshare, pivot_root, prctl,
capget/capset, openat2...) and their errors are :mod:`barge.libc`'s; this
module adds the container's own: namespace kinds, mknod, prlimit, the
seccomp filter, the loopback link, the terminal ioctls. Each raises the
:class:`~barge.libc.SyscallError` subclass named after the errno
(``EPERM`` -> :class:`~barge.libc.PermissionDenied`), carrying ``errno``
and the call, so callers can tell "not allowed here" from "not there".
"""

from __future__ import annotations

import errno
import fcntl
import os
import resource as _resource_mod
import socket
import struct

from barge import libc
from barge.libc import CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS
from barge_exec_native.libcontainer.errors import ContainerError

#: Namespace kinds as the spec names them, with their clone flag and /proc/<pid>/ns name.
NAMESPACES = {
    "mount": (CLONE_NEWNS, "mnt"),
    "uts": (CLONE_NEWUTS, "uts"),
    "ipc": (CLONE_NEWIPC, "ipc"),
    "net": (CLONE_NEWNET, "net"),
    "pid": (CLONE_NEWPID, "pid"),
    "cgroup": (CLONE_NEWCGROUP, "cgroup"),
}


def _raise(call: str, detail: str, err: int):
    raise libc.error(call, err, detail)


def mknod(path, mode: int, device: int, dir_fd: int | None = None) -> None:
    try:
        os.mknod(path, mode, device, dir_fd=dir_fd)
    except OSError as exc:
        _raise("mknod", str(path), exc.errno)


def prlimit(pid: int, resource: int, limits: tuple[int, int] | None = None) -> tuple[int, int]:
    """Set (when ``limits`` is given) and return the previous rlimit of ``pid``."""
    try:
        if limits is None:
            return _resource_mod.prlimit(pid, resource)
        return _resource_mod.prlimit(pid, resource, limits)
    except OSError as exc:
        _raise("prlimit", f"resource {resource} to {limits}", exc.errno)
    except ValueError as exc:  # soft above hard
        raise libc.InvalidArgument("prlimit", errno.EINVAL, f"resource {resource} to {limits} ({exc})") from None


def seccomp_filter(program: bytes, flags: int = 0) -> None:
    """Install a BPF program as the calling thread's filter (:func:`barge.libc.seccomp_filter`)."""
    if flags and not libc.HAVE_SECCOMP_SYSCALL:
        raise ContainerError(f"seccomp filter flags are not supported on {os.uname().machine}")
    libc.seccomp_filter(program, flags)


SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def link_up(name: str = "lo") -> None:
    """Bring a network interface up (SIOCSIFFLAGS), without the ``ip`` binary."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        req = struct.pack("16sh22x", name.encode(), 0)
        try:
            flags = struct.unpack("16sh22x", fcntl.ioctl(sock, SIOCGIFFLAGS, req))[1]
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh22x", name.encode(), flags | IFF_UP))
        except OSError as exc:
            _raise("ioctl SIOCSIFFLAGS", name, exc.errno)


TIOCSCTTY = 0x540E


def set_controlling_tty(fd: int) -> None:
    try:
        fcntl.ioctl(fd, TIOCSCTTY, 0)
    except OSError as exc:
        _raise("ioctl TIOCSCTTY", str(fd), exc.errno)


# asm-generic ioctls (x86_64, aarch64): Python's termios lacks the pty ones.
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441
TIOCSWINSZ = 0x5414


def open_pty(ptmx: str = "/dev/ptmx") -> tuple[int, int, str]:
    """A new pty from ``ptmx`` (the devpts instance this mount namespace sees):
    (master, slave, slave path), both CLOEXEC and O_NOCTTY.

    The slave is opened through the master (TIOCGPTPEER), so it is the pty
    of this very devpts even if a path lookup would find another one.
    """
    try:
        master = os.open(ptmx, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        _raise("open", ptmx, exc.errno)
    try:
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))  # unlockpt
        number = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0" * 4))[0]
        slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        os.close(master)
        _raise("ioctl (pty set-up)", ptmx, exc.errno)
    return master, slave, f"/dev/pts/{number}"


def set_winsize(fd: int, height: int, width: int) -> None:
    fcntl.ioctl(fd, TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def reset_reserved_signals() -> None:
    """Set signals 32 and 33 to their default action with the raw syscall.

    libc keeps them for itself and refuses sigaction(2) on them, so Python
    cannot touch them; but an ignored one (a parent may ignore it) survives
    execve into the container. Best effort on architectures not listed.
    """
    for sig in (32, 33):
        libc.default_signal_action(sig)
