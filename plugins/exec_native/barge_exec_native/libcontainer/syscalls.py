"""Small wrappers around the kernel calls a container needs, via ctypes.

Each raises a :class:`SyscallError` subclass named after the errno
(``EPERM`` -> :class:`PermissionDenied`), carrying ``errno`` and the call,
so callers can tell "not allowed here" from "not there". Python 3.11 has no
``os.unshare``/``os.setns``; everything runs in-process (no ``mount`` or
``ip`` binaries: fork+exec costs 0.5 ms each on this machine).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import resource as _resource_mod
import socket
import struct

from barge_exec_native.libcontainer.errors import ContainerError

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.syscall.restype = ctypes.c_long

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
#: Namespace kinds as the spec names them, with their clone flag and /proc/<pid>/ns name.
NAMESPACES = {
    "mount": (CLONE_NEWNS, "mnt"),
    "uts": (CLONE_NEWUTS, "uts"),
    "ipc": (CLONE_NEWIPC, "ipc"),
    "net": (CLONE_NEWNET, "net"),
    "pid": (CLONE_NEWPID, "pid"),
    "cgroup": (CLONE_NEWCGROUP, "cgroup"),
}

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_STRICTATIME = 1 << 24
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

#: pivot_root's number: x86_64 has its own table, the newer arches share the generic one.
_SYS_PIVOT_ROOT = {"x86_64": 155, "i686": 217}.get(os.uname().machine, 41)
_SYS_OPENAT2 = 437  # the same on every architecture
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class SyscallError(ContainerError):
    """A kernel call failed; ``errno`` and ``call`` say which and why."""

    def __init__(self, call: str, err: int, detail: str = ""):
        where = f" {detail}" if detail else ""
        super().__init__(f"{call}{where}: {os.strerror(err)}")
        self.errno = err
        self.call = call


class PermissionDenied(SyscallError):
    """EPERM / EACCES: not allowed here (a capability or a limit is missing)."""


class NotFound(SyscallError):
    """ENOENT: the path or object does not exist."""


class Busy(SyscallError):
    """EBUSY: the object is in use."""


class InvalidArgument(SyscallError):
    """EINVAL: the kernel refused the arguments (or nothing is mounted there)."""


_BY_ERRNO = {
    errno.EPERM: PermissionDenied, errno.EACCES: PermissionDenied, errno.ENOENT: NotFound,
    errno.EBUSY: Busy, errno.EINVAL: InvalidArgument,
}


def _raise(call: str, detail: str = "", err: int | None = None):
    err = ctypes.get_errno() if err is None else err
    raise _BY_ERRNO.get(err, SyscallError)(call, err, detail)


def _enc(value) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        _raise("unshare", hex(flags))


def setns(fd: int, nstype: int = 0) -> None:
    if _libc.setns(fd, nstype) != 0:
        _raise("setns", hex(nstype))


def mount(source, target, fstype, flags: int = 0, data: str | None = None) -> None:
    if _libc.mount(_enc(source), _enc(target), _enc(fstype), flags, _enc(data)) != 0:
        _raise("mount", f"{target} (type {fstype or 'bind'}, source {source})")


def umount2(target, flags: int = 0) -> None:
    if _libc.umount2(_enc(target), flags) != 0:
        _raise("umount", str(target))


def pivot_root(new_root, put_old) -> None:
    if _libc.syscall(_SYS_PIVOT_ROOT, _enc(new_root), _enc(put_old)) != 0:
        _raise("pivot_root", str(new_root))


def sethostname(name: str) -> None:
    raw = name.encode()
    if _libc.sethostname(raw, len(raw)) != 0:
        _raise("sethostname", repr(name))


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    res = _libc.prctl(option, arg2, arg3, arg4, arg5)
    if res < 0:
        _raise("prctl", str(option))
    return res


def set_name(name: bytes) -> None:
    """PR_SET_NAME: the thread's comm (what ``ps -o comm`` and ``top`` show), 15 bytes at most."""
    buf = ctypes.create_string_buffer(name[:15])
    prctl(PR_SET_NAME, ctypes.addressof(buf))


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
        raise InvalidArgument("prlimit", errno.EINVAL, f"resource {resource} to {limits} ({exc})") from None


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) as 64-bit masks."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, pid)
    data = (_CapData * 2)()
    if _libc.capget(ctypes.byref(hdr), data) != 0:
        _raise("capget")
    join = lambda f: getattr(data[0], f) | (getattr(data[1], f) << 32)  # noqa: E731
    return join("effective"), join("permitted"), join("inheritable")


def capset(effective: int, permitted: int, inheritable: int) -> None:
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in (0, 1):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    if _libc.capset(ctypes.byref(hdr), data) != 0:
        _raise("capset")


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2(2); raises ``OSError`` (callers fall back on ENOSYS)."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    fd = _libc.syscall(_SYS_OPENAT2, dirfd, os.fsencode(path), ctypes.byref(how), ctypes.sizeof(how))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return fd


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_SET_MODE_FILTER = 1
#: ``seccomp(2)``'s number by machine (no libc wrapper); needed only for filter flags.
_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277, "riscv64": 277, "loongarch64": 277, "i686": 354, "i386": 354,
                "armv7l": 383, "ppc64le": 358, "s390x": 348}


def seccomp_filter(program: bytes, flags: int = 0) -> None:
    """Install a BPF program (``struct sock_filter`` array) as the calling thread's filter.

    Without flags through ``prctl(PR_SET_SECCOMP)``, which every architecture
    has; with flags through ``seccomp(2)``.
    """
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.addressof(buf))
    if not flags:
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog))
        return
    number = _SYS_SECCOMP.get(os.uname().machine)
    if number is None:
        raise ContainerError(f"seccomp filter flags are not supported on {os.uname().machine}")
    if _libc.syscall(number, SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(prog)) != 0:
        _raise("seccomp", hex(flags))


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


_SYS_RT_SIGACTION = {"x86_64": 13, "aarch64": 134}.get(os.uname().machine)


class _KernelSigaction(ctypes.Structure):
    # struct kernel_sigaction on x86_64 and arm64: handler, flags, restorer, mask
    _fields_ = [("handler", ctypes.c_ulong), ("flags", ctypes.c_ulong),
                ("restorer", ctypes.c_ulong), ("mask", ctypes.c_ulong)]


def reset_reserved_signals() -> None:
    """Set signals 32 and 33 to their default action with the raw syscall.

    libc keeps them for itself and refuses sigaction(2) on them, so Python
    cannot touch them; but an ignored one (a parent may ignore it) survives
    execve into the container. Best effort on architectures not listed.
    """
    if _SYS_RT_SIGACTION is None:
        return
    act = _KernelSigaction(0, 0, 0, 0)  # SIG_DFL
    for sig in (32, 33):
        _libc.syscall(_SYS_RT_SIGACTION, sig, ctypes.byref(act), None, 8)
