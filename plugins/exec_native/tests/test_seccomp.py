"""The seccomp compiler (libseccomp through ctypes) and the filter's install, in forked children."""

from __future__ import annotations

import ctypes
import errno
import json
import os

import pytest

from barge.execdriver import DEFAULT_CAPABILITIES, Seccomp, SeccompArg, SeccompRule
from barge.security.default_seccomp import default_profile
from barge.security.seccomp import resolve
from barge_exec_native.driver import FilterCache
from barge_exec_native.libcontainer import seccomp

pytestmark = pytest.mark.skipif(seccomp.available() is not None, reason=str(seccomp.available()))

#: x86_64 numbers of the calls the tests make raw (other machines skip).
NR = {"keyctl": 250, "add_key": 248, "unshare": 272, "personality": 135, "clone3": 435, "mkdir": 83,
      "getpid": 39, "socket": 41, "perf_event_open": 298}
x86_64_only = pytest.mark.skipif(os.uname().machine != "x86_64", reason="raw syscall numbers are x86_64's")


def in_child(program: bytes, calls: list[tuple], flags: int = 0) -> list[tuple[int, int]]:
    """Install ``program`` in a forked child, make the raw ``calls`` [(name, args...)]
    there; [(return value, errno)] of each."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
            seccomp.install(program, flags)
            out = []
            for name, *args in calls:
                ctypes.set_errno(0)
                rc = libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_long(a) for a in args])
                out.append((rc, ctypes.get_errno() if rc < 0 else 0))
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return [tuple(x) for x in json.loads(data)]


def default_filter(caps=DEFAULT_CAPABILITIES) -> bytes:
    return seccomp.compile_filter(resolve(default_profile(), caps))


@x86_64_only
def test_dockers_default_denies_the_escapes():
    got = in_child(default_filter(), [("keyctl", 0, 0), ("add_key", 0, 0, 0, 0, 0), ("unshare", 0x10000000),
                                      ("personality", 0x40000), ("perf_event_open", 0, 0, 0, 0, 0),
                                      ("clone3", 0, 0), ("socket", 40, 1, 0), ("socket", 38, 5, 0),
                                      ("personality", 0xFFFFFFFF), ("getpid",)])
    assert got[:5] == [(-1, errno.EPERM)] * 5
    assert got[5] == (-1, errno.ENOSYS)  # clone3: libc falls back to clone
    assert got[6] == got[7] == (-1, errno.EPERM)  # AF_VSOCK, AF_ALG
    assert got[8][0] >= 0 and got[9][0] > 0  # the personality query and everyday calls work


@x86_64_only
def test_capabilities_widen_the_filter():
    got = in_child(default_filter([*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"]), [("clone3", 0, 0)])
    assert got[0][1] != errno.ENOSYS  # allowed now: the kernel itself answers (EINVAL for a null args)


@x86_64_only
def test_a_custom_profile_with_arguments_and_errno():
    f = Seccomp(default_action="SCMP_ACT_ALLOW", syscalls=[
        SeccompRule(["mkdir"], "SCMP_ACT_ERRNO", errno_ret=errno.EACCES),
        # two comparisons of one argument: libseccomp wants them as two rules (either denies)
        SeccompRule(["personality"], "SCMP_ACT_ERRNO", errno_ret=errno.EROFS,
                    args=[SeccompArg(0, 8, "SCMP_CMP_EQ"), SeccompArg(0, 0x20000, "SCMP_CMP_EQ")]),
        SeccompRule(["definitely_not_a_syscall"], "SCMP_ACT_ERRNO"),  # unknown names are skipped
        SeccompRule(["getpid"], "SCMP_ACT_ALLOW"),  # the default's own action: skipped, as runc does
    ])
    got = in_child(seccomp.compile_filter(f), [("mkdir", 0, 0), ("personality", 8), ("personality", 0x20000),
                                               ("personality", 0xFFFFFFFF)])
    assert got[0] == (-1, errno.EACCES) and got[1] == got[2] == (-1, errno.EROFS) and got[3][0] >= 0


@x86_64_only
def test_filter_flags_go_through_seccomp2():
    f = Seccomp(default_action="SCMP_ACT_ALLOW", flags=["SECCOMP_FILTER_FLAG_LOG"],
                syscalls=[SeccompRule(["mkdir"], "SCMP_ACT_ERRNO")])
    got = in_child(seccomp.compile_filter(f), [("mkdir", 0, 0)], seccomp.flag_bits(f.flags))
    assert got == [(-1, errno.EPERM)]


def test_bad_filters_are_refused():
    with pytest.raises(seccomp.SeccompError, match="unknown action"):
        seccomp.compile_filter(Seccomp(default_action="SCMP_ACT_MAYBE"))
    with pytest.raises(seccomp.SeccompError, match="unknown architecture"):
        seccomp.compile_filter(Seccomp(default_action="SCMP_ACT_ALLOW", architectures=["SCMP_ARCH_PDP11"]))
    with pytest.raises(seccomp.SeccompError, match="unknown flag"):
        seccomp.flag_bits(["SECCOMP_FILTER_FLAG_NOPE"])
    with pytest.raises(seccomp.SeccompError, match="empty or truncated"):
        seccomp.install(b"\0" * 7)


def test_programs_are_compiled_once_per_filter():
    cache = FilterCache()
    f = resolve(default_profile(), DEFAULT_CAPABILITIES)
    first = cache.program(f)
    assert cache.program(resolve(default_profile(), DEFAULT_CAPABILITIES)) is first
    assert cache.program(resolve(default_profile(), [*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"])) is not first
    for n in range(FilterCache.SIZE + 1):
        cache.program(Seccomp(default_action="SCMP_ACT_ALLOW", syscalls=[SeccompRule(["mkdir"], "SCMP_ACT_ERRNO",
                                                                                      errno_ret=n + 1)]))
    assert len(cache._programs) == FilterCache.SIZE
