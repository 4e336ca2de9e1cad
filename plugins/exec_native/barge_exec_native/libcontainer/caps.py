"""Capabilities by name, and dropping a process to a set of them.

Docker's rule (runc's ``finalizeNamespace``): the listed capabilities form
the bounding, permitted and effective sets; the inheritable set is empty
(moby dropped it after CVE-2022-24769) and no ambient set is given, so a
non-root user ends up with no effective capabilities after execve, as in
Docker.
"""

from __future__ import annotations

from barge import libc
from barge.errors import InvalidParameter

#: Linux capability numbers (include/uapi/linux/capability.h).
CAPABILITIES = {
    name: number for number, name in enumerate((
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ))
}


def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as fh:
            return int(fh.read())
    except OSError:
        return max(CAPABILITIES.values())


def mask(names) -> int:
    """Bit mask of capability names (``CAP_`` prefix optional, ``ALL`` allowed)."""
    bits = 0
    for name in names:
        key = name.upper()
        if key in ("ALL", "CAP_ALL"):
            return (1 << (last_cap() + 1)) - 1
        if not key.startswith("CAP_"):
            key = "CAP_" + key
        if key not in CAPABILITIES:
            raise InvalidParameter(f'unknown capability: "{name}"')
        bits |= 1 << CAPABILITIES[key]
    return bits


def names(bits: int) -> list[str]:
    return [n for n, i in CAPABILITIES.items() if bits >> i & 1]


def drop_bounding(keep: int) -> None:
    """PR_CAPBSET_DROP every capability not in ``keep`` (needs CAP_SETPCAP)."""
    for cap in range(last_cap() + 1):
        if not keep >> cap & 1 and libc.prctl(libc.PR_CAPBSET_READ, cap):
            libc.prctl(libc.PR_CAPBSET_DROP, cap)


def apply(keep: int) -> None:
    """Make ``keep`` the effective and permitted sets, inheritable and ambient empty.

    Capabilities this process does not hold itself (no CAP_SYS_RESOURCE on
    this machine) are left out rather than failing: nobody can grant them.
    """
    _eff, permitted, _inh = libc.capget()
    keep &= permitted
    try:
        libc.prctl(libc.PR_CAP_AMBIENT, libc.PR_CAP_AMBIENT_CLEAR_ALL)
    except libc.SyscallError:
        pass  # kernels before 4.3 have no ambient set
    libc.capset(keep, keep, 0)
