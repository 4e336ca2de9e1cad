"""What this machine can apply to a container, read once (moby's ``pkg/sysinfo``).

Whether a HostConfig resource is applied or discarded with dockerd's
warning depends on the kernel and on which cgroup files exist; this module
is the one place that looks. v1 (and hybrid, where the controllers are v1):
the files in each controller hierarchy's root, as moby's ``cgroupEnabled``;
v2: the controllers the root's ``cgroup.controllers`` offers. It also
answers the few questions that need the machine at create time: a block
device's numbers, the real-time budget of a parent cgroup, how low this
daemon may set an ``oom_score_adj``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Callable

from barge.mount import mountinfo

#: Linux 5.16 stopped honouring memory.kmem.limit_in_bytes (and later kernels accept and ignore it).
KMEM_LAST_KERNEL = (5, 15)
CAP_SYS_RESOURCE = 24
#: cpu.rt_period_us of a new v1 cgroup (the kernel's sched_rt_period_us default).
DEFAULT_RT_PERIOD = 1_000_000


def block_device(path: str) -> tuple[int, int]:
    """``(major, minor)`` of the block device at ``path``; ValueError when it is none."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror.lower()}") from None
    if not stat.S_ISBLK(st.st_mode):
        raise ValueError(f"{path} is not a block device")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


@dataclass(frozen=True)
class SysInfo:
    """Capabilities of the machine and daemon (defaults: a full cgroup v1 machine, for tests)."""

    ncpu: int = 2
    cgroup_v2: bool = False
    memory_limit: bool = True
    swap_limit: bool = True
    memory_reservation: bool = True
    memory_swappiness: bool = True
    oom_kill_disable: bool = True
    kernel_memory: bool = False
    kernel_memory_tcp: bool = True
    cpu_shares: bool = True
    cpu_cfs: bool = True
    cpu_realtime: bool = True
    cpuset: bool = True
    cpus: str = ""  # the root cpuset's cpus ("" : 0..ncpu-1)
    mems: str = "0"
    blkio_weight: bool = False
    blkio_weight_device: bool = False
    blkio_throttle: bool = True
    pids_limit: bool = True
    #: this daemon's own oom_score_adj, and whether it may go below it (CAP_SYS_RESOURCE)
    oom_score_adj: int = 0
    sys_resource: bool = True
    #: the v1 cpu hierarchy's mount point (real-time budgets of parent cgroups)
    cpu_root: str | None = None
    #: the exec driver (the only runtime) and the graph driver
    runtime: str = "native"
    graph_driver: str = ""
    block_device: Callable[[str], tuple[int, int]] = field(default=block_device, compare=False, repr=False)

    @property
    def available_cpus(self) -> str:
        return self.cpus or f"0-{self.ncpu - 1}"

    def rt_budget(self, parent: str) -> tuple[int, int]:
        """``(cpu.rt_runtime_us, cpu.rt_period_us)`` the cgroup ``parent`` gives its children.

        A parent that does not exist yet is made with no real-time runtime.
        A runtime of -1 means no limit (only the root may have it).
        """
        if self.cpu_root is None:
            return 0, DEFAULT_RT_PERIOD
        d = os.path.join(self.cpu_root, parent.strip("/"))
        try:
            return int(_read(os.path.join(d, "cpu.rt_runtime_us"))), int(_read(os.path.join(d, "cpu.rt_period_us")))
        except (OSError, ValueError):
            return 0, DEFAULT_RT_PERIOD


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read().strip()


def _read_or(path: str, default: str = "") -> str:
    try:
        return _read(path)
    except OSError:
        return default


def _cgroup_mounts() -> tuple[dict[str, str], str | None]:
    """({v1 controller: mount point} for controllers the kernel has enabled, cgroup2 mount point)."""
    enabled = set()
    for line in _read_or("/proc/cgroups").splitlines():
        parts = line.split()
        if len(parts) >= 4 and not line.startswith("#") and parts[1] != "0" and parts[3] == "1":
            enabled.add(parts[0])
    v1: dict[str, str] = {}
    v2 = None
    for m in mountinfo():
        if m.fstype == "cgroup2" and v2 is None:
            v2 = m.point
        elif m.fstype == "cgroup":
            for opt in m.super_options:
                if opt in enabled:
                    v1.setdefault(opt, m.point)
    return v1, v2


def _kernel() -> tuple[int, int]:
    parts = os.uname().release.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError):
        return 0, 0


def _has_cap(bit: int) -> bool:
    for line in _read_or("/proc/self/status").splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> bit & 1)
    return False


def _bfq() -> bool:
    """The BFQ scheduler is registered (it brings the per-device weight files)."""
    if os.path.isdir("/sys/module/bfq"):
        return True
    try:
        names = os.listdir("/sys/block")
    except OSError:
        return False
    return any("bfq" in _read_or(f"/sys/block/{n}/queue/scheduler") for n in names)


def _v1(v1: dict[str, str]) -> dict:
    def has(ctrl: str, name: str) -> bool:
        return ctrl in v1 and os.path.exists(os.path.join(v1[ctrl], name))

    cpuset = v1.get("cpuset")
    return dict(
        cgroup_v2=False,
        memory_limit="memory" in v1,
        swap_limit=has("memory", "memory.memsw.limit_in_bytes"),
        memory_reservation=has("memory", "memory.soft_limit_in_bytes"),
        memory_swappiness=has("memory", "memory.swappiness"),
        oom_kill_disable=has("memory", "memory.oom_control"),
        kernel_memory=has("memory", "memory.kmem.limit_in_bytes") and _kernel() <= KMEM_LAST_KERNEL,
        kernel_memory_tcp=has("memory", "memory.kmem.tcp.limit_in_bytes"),
        cpu_shares=has("cpu", "cpu.shares"),
        cpu_cfs=has("cpu", "cpu.cfs_quota_us"),
        cpu_realtime=has("cpu", "cpu.rt_period_us"),
        cpuset=cpuset is not None,
        cpus=_read_or(os.path.join(cpuset, "cpuset.cpus")) if cpuset else "",
        mems=_read_or(os.path.join(cpuset, "cpuset.mems")) if cpuset else "",
        blkio_weight=has("blkio", "blkio.weight") or has("blkio", "blkio.bfq.weight"),
        blkio_weight_device=has("blkio", "blkio.weight_device") or has("blkio", "blkio.bfq.weight_device"),
        blkio_throttle=has("blkio", "blkio.throttle.read_bps_device"),
        pids_limit="pids" in v1,
        cpu_root=v1.get("cpu"),
    )


def _v2(root: str) -> dict:
    ctrls = set(_read_or(os.path.join(root, "cgroup.controllers")).split())
    own = next((line[3:] for line in _read_or("/proc/self/cgroup").splitlines() if line.startswith("0::")), "/")
    swap = os.path.exists(os.path.join(root, own.lstrip("/"), "memory.swap.max")) if own.strip("/") else True
    io = "io" in ctrls
    bfq = io and _bfq()
    return dict(
        cgroup_v2=True,
        memory_limit="memory" in ctrls,
        swap_limit="memory" in ctrls and swap,
        memory_reservation="memory" in ctrls,
        memory_swappiness=False, oom_kill_disable=False, kernel_memory=False, kernel_memory_tcp=False,
        cpu_shares="cpu" in ctrls, cpu_cfs="cpu" in ctrls, cpu_realtime=False,
        cpuset="cpuset" in ctrls,
        cpus=_read_or(os.path.join(root, "cpuset.cpus.effective")),
        mems=_read_or(os.path.join(root, "cpuset.mems.effective")),
        blkio_weight=io and (bfq or os.path.exists(os.path.join(root, "io.cost.qos"))),
        blkio_weight_device=bfq,
        blkio_throttle=io,
        pids_limit="pids" in ctrls,
        cpu_root=None,
    )


def detect(*, runtime: str = "native", graph_driver: str = "", ncpu: int | None = None) -> SysInfo:
    """Read this machine's SysInfo (a few dozen stats: call once per daemon)."""
    v1, v2 = _cgroup_mounts()
    if v1:
        found = _v1(v1)
    elif v2:
        found = _v2(v2)
    else:
        found = dict(memory_limit=False, swap_limit=False, memory_reservation=False, memory_swappiness=False,
                     oom_kill_disable=False, kernel_memory_tcp=False, cpu_shares=False, cpu_cfs=False,
                     cpu_realtime=False, cpuset=False, blkio_throttle=False, pids_limit=False)
    try:
        own = int(_read_or("/proc/self/oom_score_adj", "0"))
    except ValueError:
        own = 0
    return SysInfo(ncpu=ncpu or os.cpu_count() or 1, oom_score_adj=own, sys_resource=_has_cap(CAP_SYS_RESOURCE),
                   runtime=runtime, graph_driver=graph_driver, **found)
