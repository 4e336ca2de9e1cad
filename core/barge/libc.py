"""The one binding of libc: typed wrappers around the kernel calls barge makes.

Python 3.11 has no ``os.mount``, ``os.unshare``, ``os.setns``,
``pivot_root``, ``prctl``, ``openat2``... so core and plugins call them
through ctypes, and only here: one ``CDLL`` handle, one declaration of each
function's argument types, one errno -> error mapping. Everything runs
in-process (no ``mount`` or ``ip`` binaries: fork+exec costs 0.5 ms each).

Every wrapper raises a :class:`SyscallError` carrying ``errno``,
``strerror`` and ``call``, with a subclass named after the errno where
callers tell cases apart (``EPERM`` -> :class:`PermissionDenied`, ``ENOENT``
-> :class:`NotFound`, ...). The error is an ``OSError`` (``except
FileNotFoundError`` works as it does for ``os.*``) and a
:class:`~barge.errors.BargeError` (its message reaches the user as is).
Its message reads ``"<call> <detail>: <strerror>"``.

The exec driver's container init and the per-container monitor import this
module too (through the monitor spawner, shared copy-on-write): it imports
nothing heavier than ctypes.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterator

from barge.errors import BargeError

# -- constants ----------------------------------------------------------------------------------

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 0x2
UMOUNT_NOFOLLOW = 0x8

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_SET_SECCOMP = 22
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

SECCOMP_MODE_FILTER = 2
SECCOMP_SET_MODE_FILTER = 1

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10

_MACHINE = os.uname().machine
#: Numbers of the calls libc has no wrapper for, by machine (None: not known here).
_NR_PIVOT_ROOT = {"x86_64": 155, "i686": 217}.get(_MACHINE, 41)  # the newer arches share the generic table
_NR_OPENAT2 = 437 if _MACHINE in ("x86_64", "i686", "i386", "aarch64", "armv7l", "riscv64", "ppc64le", "s390x",
                                  "loongarch64") else None
_NR_SECCOMP = {"x86_64": 317, "aarch64": 277, "riscv64": 277, "loongarch64": 277, "i686": 354, "i386": 354,
               "armv7l": 383, "ppc64le": 358, "s390x": 348}.get(_MACHINE)
_NR_RT_SIGACTION = {"x86_64": 13, "aarch64": 134}.get(_MACHINE)
_NR_BPF = {"x86_64": 321, "i686": 357}.get(_MACHINE, 280)
#: Whether ``seccomp(2)`` (needed for filter flags) is known on this machine.
HAVE_SECCOMP_SYSCALL = _NR_SECCOMP is not None

# -- errors -------------------------------------------------------------------------------------


class SyscallError(BargeError, OSError):
    """A libc call failed; ``call``, ``errno`` and ``strerror`` say which and why."""

    def __init__(self, call: str, err: int, detail: str = "", filename: str | None = None):
        super().__init__(err, os.strerror(err))
        self.call = call
        self.detail = detail
        if filename is not None:
            self.filename = filename

    def __str__(self) -> str:
        where = f" {self.detail}" if self.detail else ""
        return f"{self.call}{where}: {self.strerror}"


class PermissionDenied(SyscallError, PermissionError):
    """EPERM / EACCES: not allowed here (a capability or a limit is missing)."""


class NotFound(SyscallError, FileNotFoundError):
    """ENOENT: the path or object does not exist."""


class NotADirectory(SyscallError, NotADirectoryError):
    """ENOTDIR: a component of the path is not a directory."""


class Busy(SyscallError):
    """EBUSY: the object is in use."""


class InvalidArgument(SyscallError):
    """EINVAL: the kernel refused the arguments (or nothing is mounted there)."""


_BY_ERRNO: dict[int, type[SyscallError]] = {
    errno.EPERM: PermissionDenied, errno.EACCES: PermissionDenied, errno.ENOENT: NotFound,
    errno.ENOTDIR: NotADirectory, errno.EBUSY: Busy, errno.EINVAL: InvalidArgument,
}


def error(call: str, err: int, detail: str = "", filename: str | None = None) -> SyscallError:
    """The :class:`SyscallError` (subclass) for ``err``; for wrappers of calls made without ctypes too."""
    return _BY_ERRNO.get(err, SyscallError)(call, err, detail, filename)


def _fail(call: str, detail: str = "", filename: str | None = None) -> SyscallError:
    return error(call, ctypes.get_errno(), detail, filename)


# -- the binding --------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.statfs.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
_libc.syscall.restype = ctypes.c_long
_libc.opendir.restype = ctypes.c_void_p
_libc.opendir.argtypes = [ctypes.c_char_p]
_libc.closedir.argtypes = [ctypes.c_void_p]


def _enc(value) -> bytes | None:
    return None if value is None else os.fsencode(value)


# -- mounts and namespaces ----------------------------------------------------------------------


def mount(source, target, fstype, flags: int = 0, data: str | None = None) -> None:
    if _libc.mount(_enc(source), _enc(target), _enc(fstype), flags, _enc(data)) != 0:
        raise _fail("mount", f"{target} (type {fstype or 'bind'}, source {source})")


def umount2(target, flags: int = 0) -> None:
    if _libc.umount2(_enc(target), flags) != 0:
        raise _fail("umount", str(target))


def pivot_root(new_root, put_old) -> None:
    if _libc.syscall(_NR_PIVOT_ROOT, _enc(new_root), _enc(put_old)) != 0:
        raise _fail("pivot_root", str(new_root))


def unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        raise _fail("unshare", hex(flags))


def setns(fd: int, nstype: int = 0) -> None:
    if _libc.setns(fd, nstype) != 0:
        raise _fail("setns", hex(nstype))


def sethostname(name: str) -> None:
    raw = name.encode()
    if _libc.sethostname(raw, len(raw)) != 0:
        raise _fail("sethostname", repr(name))


# -- files --------------------------------------------------------------------------------------


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2(2), always ``O_CLOEXEC``; ``ENOSYS`` where the kernel or this module does not know it."""
    if _NR_OPENAT2 is None:
        raise error("openat2", errno.ENOSYS, path, path)
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    fd = _libc.syscall(_NR_OPENAT2, dirfd, os.fsencode(path), ctypes.byref(how), ctypes.sizeof(how))
    if fd < 0:
        raise _fail("openat2", path, path)
    return fd


def statfs_type(path) -> int:
    """statfs(2)'s ``f_type``: the file system's magic number (``0x794c7630`` is overlayfs)."""
    buf = ctypes.create_string_buffer(256)  # struct statfs; f_type is its first word
    if _libc.statfs(os.fsencode(os.fspath(path)), buf) != 0:
        raise _fail("statfs", str(path), str(path))
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF


class _Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64), ("d_reclen", ctypes.c_ushort),
                ("d_type", ctypes.c_ubyte), ("d_name", ctypes.c_char * 256)]


_libc.readdir.restype = ctypes.POINTER(_Dirent)
_libc.readdir.argtypes = [ctypes.c_void_p]
DT_UNKNOWN = 0


def dirent_types(directory) -> Iterator[tuple[bytes, int]]:
    """``(name, d_type)`` of each entry as readdir(3) reports it: ``os.scandir`` hides a
    ``DT_UNKNOWN`` behind a stat, and whether the file system fills it in is the question."""
    handle = _libc.opendir(os.fsencode(os.fspath(directory)))
    if not handle:
        raise _fail("opendir", str(directory), str(directory))
    try:
        while True:
            ent = _libc.readdir(handle)
            if not ent:
                return
            yield ent.contents.d_name, ent.contents.d_type
    finally:
        _libc.closedir(handle)


# -- process attributes -------------------------------------------------------------------------


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    res = _libc.prctl(option, arg2, arg3, arg4, arg5)
    if res < 0:
        raise _fail("prctl", str(option))
    return res


#: A thread's comm: 15 bytes and the NUL. Made here, once (a ctypes array type costs each monitor a page).
_Comm = ctypes.c_char * 16


def set_name(name: bytes) -> None:
    """PR_SET_NAME: the thread's comm (what ``ps -o comm`` and ``top`` show), 15 bytes at most."""
    buf = _Comm.from_buffer_copy(name[:15].ljust(16, b"\0"))
    prctl(PR_SET_NAME, ctypes.addressof(buf))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) as 64-bit masks."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, pid)
    data = (_CapData * 2)()
    if _libc.capget(ctypes.byref(hdr), data) != 0:
        raise _fail("capget")

    def join(field: str) -> int:
        return getattr(data[0], field) | (getattr(data[1], field) << 32)

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
        raise _fail("capset")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def seccomp_filter(program: bytes, flags: int = 0) -> None:
    """Install a BPF program (``struct sock_filter`` array) as the calling thread's filter.

    Without flags through ``prctl(PR_SET_SECCOMP)``, which every architecture
    has; with flags through ``seccomp(2)`` (see :data:`HAVE_SECCOMP_SYSCALL`).
    """
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.addressof(buf))
    if not flags:
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog))
        return
    if _NR_SECCOMP is None:
        raise error("seccomp", errno.ENOSYS, hex(flags))
    if _libc.syscall(_NR_SECCOMP, SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(prog)) != 0:
        raise _fail("seccomp", hex(flags))


class _KernelSigaction(ctypes.Structure):
    # struct kernel_sigaction on x86_64 and arm64: handler, flags, restorer, mask
    _fields_ = [("handler", ctypes.c_ulong), ("flags", ctypes.c_ulong),
                ("restorer", ctypes.c_ulong), ("mask", ctypes.c_ulong)]


def default_signal_action(sig: int) -> bool:
    """Set ``sig`` to its default action with the raw rt_sigaction(2), past libc.

    For the signals libc keeps for itself (32, 33), which sigaction(3) and so
    Python refuse. Best effort: False on machines not known here or on error.
    """
    if _NR_RT_SIGACTION is None:
        return False
    act = _KernelSigaction(0, 0, 0, 0)  # SIG_DFL
    return _libc.syscall(_NR_RT_SIGACTION, sig, ctypes.byref(act), None, 8) == 0


def bpf(cmd: int, attr: bytes, size: int = 128) -> int:
    """bpf(2) with ``attr`` (a ``union bpf_attr``, zero-padded to ``size``); returns its result (an fd)."""
    buf = ctypes.create_string_buffer(attr, size)
    res = _libc.syscall(_NR_BPF, cmd, buf, size)
    if res < 0:
        raise _fail("bpf", f"command {cmd}")
    return res
