"""A container's system call filter: compiled by libseccomp, installed by its init.

:func:`compile_filter` turns a :class:`barge.execdriver.Seccomp` into a BPF
program with the system's libseccomp (``libseccomp.so.2``, the library runc
uses, through ctypes): it knows every architecture's system call numbers,
pseudo-numbers for calls one architecture lacks, 64-bit argument
comparisons on 32-bit ABIs, and the kernel's action codes. The driver
compiles each distinct filter once (every container with the default
profile and the default capabilities shares one) and hands the program's
bytes to the init, which installs them with one ``prctl(PR_SET_SECCOMP)``
as its last step (:func:`install`): a start pays the kernel's 2 ms of
checking, JIT-compiling and caching the program, not libseccomp's 15 ms on
top. ``docs/architecture.md`` has the figures.

Names libseccomp does not know (system calls newer than it) are skipped, as
runc skips them: the default action answers for them.
"""

from __future__ import annotations

import ctypes
import errno
import os

from barge import libc
from barge_exec_native.libcontainer import syscalls as sc
from barge_exec_native.libcontainer.errors import ContainerError

_ACT_KILL_PROCESS = 0x80000000
_ACT_KILL_THREAD = 0x00000000
_ACT_TRAP = 0x00030000
_ACT_ERRNO = 0x00050000
_ACT_TRACE = 0x7FF00000
_ACT_LOG = 0x7FFC0000
_ACT_ALLOW = 0x7FFF0000
_OPERATORS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
              "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
#: ``seccomp(2)`` flags by the names profiles use.
FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
         "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32}
_NR_SCMP_ERROR = -1
_FLTATR_CTL_OPTIMIZE, _BINARY_TREE = 8, 2


class SeccompError(ContainerError):
    """The filter could not be built or installed; the message says why."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


_lib = None


def _libseccomp():
    """libseccomp, loaded on first use (the init never needs it)."""
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        except OSError as exc:
            raise SeccompError(f"seccomp: libseccomp.so.2 is not installed ({exc}); "
                               "install libseccomp2, or run with --security-opt seccomp=unconfined") from None
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_release.restype = None
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(_ArgCmp)]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        _lib = lib
    return _lib


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


def version() -> str:
    lib = _libseccomp()
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    v = lib.seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


def available() -> str | None:
    """None when filters can be compiled here, else why not."""
    try:
        _libseccomp()
    except SeccompError as exc:
        return str(exc)
    return None


def _action(name: str, errno_ret: int | None) -> int:
    ret = (errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF
    actions = {"SCMP_ACT_KILL": _ACT_KILL_THREAD, "SCMP_ACT_KILL_THREAD": _ACT_KILL_THREAD,
               "SCMP_ACT_KILL_PROCESS": _ACT_KILL_PROCESS, "SCMP_ACT_TRAP": _ACT_TRAP,
               "SCMP_ACT_ERRNO": _ACT_ERRNO | ret, "SCMP_ACT_TRACE": _ACT_TRACE | ret,
               "SCMP_ACT_LOG": _ACT_LOG, "SCMP_ACT_ALLOW": _ACT_ALLOW}
    try:
        return actions[name]
    except KeyError:
        raise SeccompError(f"seccomp: unknown action {name!r}") from None


def _conditions(args) -> list[list]:
    """The rule's comparisons as libseccomp takes them: one rule, or, when an
    argument is compared twice (libseccomp refuses that in one rule), one
    rule per comparison, as runc does."""
    cmps = []
    for a in args:
        if a.op not in _OPERATORS:
            raise SeccompError(f"seccomp: unknown operator {a.op!r}")
        cmps.append(_ArgCmp(a.index, _OPERATORS[a.op], a.value, a.value_two))
    indexes = [a.index for a in args]
    if len(set(indexes)) < len(indexes):
        return [[c] for c in cmps]
    return [cmps]


def compile_filter(seccomp) -> bytes:
    """The BPF program (``struct sock_filter`` array) of a resolved filter."""
    lib = _libseccomp()
    default = _action(seccomp.default_action, seccomp.default_errno_ret)
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise SeccompError(f"seccomp: cannot initialise a filter with default action {seccomp.default_action}")
    try:
        # A binary search over system call numbers instead of a list: the same
        # verdicts, fewer instructions run per call, and a cheaper install (the
        # kernel runs the filter for every call number to cache constant verdicts).
        # libseccomp before 2.5 lacks it and keeps the list.
        lib.seccomp_attr_set(ctx, _FLTATR_CTL_OPTIMIZE, _BINARY_TREE)
        for arch in seccomp.architectures:
            token = lib.seccomp_arch_resolve_name(arch.lower().removeprefix("scmp_arch_").encode())
            if not token:
                raise SeccompError(f"seccomp: unknown architecture {arch!r}")
            rc = lib.seccomp_arch_add(ctx, token)
            if rc < 0 and -rc != errno.EEXIST:
                raise SeccompError(f"seccomp: adding architecture {arch}: {os.strerror(-rc)}")
        for rule in seccomp.syscalls:
            action = _action(rule.action, rule.errno_ret)
            if action == default:
                continue  # libseccomp refuses a rule that repeats the default (runc skips it too)
            for name in rule.names:
                number = lib.seccomp_syscall_resolve_name(name.encode())
                if number == _NR_SCMP_ERROR:
                    continue
                for conds in _conditions(rule.args):
                    array = (_ArgCmp * len(conds))(*conds)
                    rc = lib.seccomp_rule_add_array(ctx, action, number, len(conds), array)
                    if rc < 0:
                        raise SeccompError(f"seccomp: rule for {name}: {os.strerror(-rc)}")
        return _export(lib, ctx)
    finally:
        lib.seccomp_release(ctx)


def _export(lib, ctx) -> bytes:
    fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
    try:
        rc = lib.seccomp_export_bpf(ctx, fd)
        if rc < 0:
            raise SeccompError(f"seccomp: exporting the filter: {os.strerror(-rc)}")
        size = os.lseek(fd, 0, os.SEEK_CUR)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


def flag_bits(names) -> int:
    bits = 0
    for name in names or []:
        if name not in FLAGS:
            raise SeccompError(f"seccomp: unknown flag {name!r}")
        bits |= FLAGS[name]
    return bits


def install(program: bytes, flags: int = 0) -> None:
    """Install ``program`` on the calling process (and its future children).

    Needs CAP_SYS_ADMIN or no_new_privs set first. Runs in the container's
    init as late as that allows, right before it waits to exec.
    """
    if not program or len(program) % 8:
        raise SeccompError("seccomp: the compiled filter is empty or truncated")
    try:
        sc.seccomp_filter(program, flags)
    except libc.SyscallError as exc:
        raise SeccompError(f"seccomp: installing the filter: {os.strerror(exc.errno)}") from None
