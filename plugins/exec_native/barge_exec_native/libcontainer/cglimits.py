"""Writing :class:`barge.execdriver.Resources` into a container's cgroup files, v1 and v2.

One small writer per controller and cgroup version, each taking the
directory to write in, so each can be tried on a directory of plain files.
The mapping is runc's (``libcontainer/cgroups/fs`` and ``fs2``): v1
``memory.soft_limit_in_bytes``, ``memory.swappiness``, ``memory.oom_control``,
``cpu.rt_*``, ``cpuset.mems``, ``blkio.throttle.*``, ``blkio.weight`` (or
BFQ's ``blkio.bfq.weight``); v2 ``memory.low``, ``io.max``,
``io.bfq.weight`` (else ``io.weight``, rescaled), ``cpuset.mems``. What a
version has no file for is refused with the reason, never skipped: core
discards such values with dockerd's warning before they get here.
"""

from __future__ import annotations

import errno
import os

from barge.errors import InvalidParameter
from barge_exec_native.libcontainer.cgroups import _read, _write, _WriteError
from barge_exec_native.libcontainer.errors import ContainerError

#: v1 throttle files and v2 io.max keys, by Resources field.
THROTTLES = {
    "blkio_throttle_read_bps_device": ("blkio.throttle.read_bps_device", "rbps"),
    "blkio_throttle_write_bps_device": ("blkio.throttle.write_bps_device", "wbps"),
    "blkio_throttle_read_iops_device": ("blkio.throttle.read_iops_device", "riops"),
    "blkio_throttle_write_iops_device": ("blkio.throttle.write_iops_device", "wiops"),
}
#: Resources fields cgroup v2 has no file for, and the v1 file each stands for.
V1_ONLY = {
    "memory_swappiness": "memory.swappiness",
    "oom_kill_disable": "memory.oom_control",
    "kernel_memory": "memory.kmem.limit_in_bytes",
    "kernel_memory_tcp": "memory.kmem.tcp.limit_in_bytes",
    "cpu_rt_period": "cpu.rt_period_us",
    "cpu_rt_runtime": "cpu.rt_runtime_us",
}


def apply_v1(dirs: dict[str, str], r) -> None:
    """``dirs``: controller -> the container's directory in that v1 hierarchy."""
    if "memory" in dirs:
        memory_v1(dirs["memory"], r)
    if "cpu" in dirs:
        cpu_v1(dirs["cpu"], r)
    if "cpuset" in dirs:
        cpuset(dirs["cpuset"], r)
    if "pids" in dirs:
        pids(dirs["pids"], r)
    if "blkio" in dirs:
        blkio_v1(dirs["blkio"], r)


def apply_v2(d: str, r) -> None:
    for name, v1_file in V1_ONLY.items():
        if getattr(r, name) is not None:
            raise ContainerError(f"cgroup v2 has no equivalent of {v1_file} ({name} cannot be applied)")
    memory_v2(d, r)
    cpu_v2(d, r)
    cpuset(d, r)
    pids(d, r)
    io_v2(d, r)


# -- memory ------------------------------------------------------------------------------------


def memory_v1(mem: str, r) -> None:
    writes = []
    if r.memory is not None:
        writes.append(("memory.limit_in_bytes", r.memory if r.memory > 0 else -1))
    if r.memory_swap is not None and os.path.exists(os.path.join(mem, "memory.memsw.limit_in_bytes")):
        writes.append(("memory.memsw.limit_in_bytes", r.memory_swap if r.memory_swap > 0 else -1))
    try:  # memsw must stay >= limit: the right order depends on the direction
        for name, value in writes:
            _write(os.path.join(mem, name), value)
    except _WriteError as exc:
        if exc.errno != errno.EINVAL or len(writes) < 2:
            raise memory_error(exc) from None
        for name, value in reversed(writes):
            _write(os.path.join(mem, name), value)
    if r.memory_reservation is not None:
        _write(os.path.join(mem, "memory.soft_limit_in_bytes"), r.memory_reservation if r.memory_reservation > 0 else -1)
    if r.memory_swappiness is not None:
        _write(os.path.join(mem, "memory.swappiness"), r.memory_swappiness)
    if r.oom_kill_disable is not None:
        _write(os.path.join(mem, "memory.oom_control"), 1 if r.oom_kill_disable else 0)
    if r.kernel_memory is not None:
        _write(os.path.join(mem, "memory.kmem.limit_in_bytes"), r.kernel_memory if r.kernel_memory > 0 else -1)
    if r.kernel_memory_tcp is not None:
        _write(os.path.join(mem, "memory.kmem.tcp.limit_in_bytes"),
               r.kernel_memory_tcp if r.kernel_memory_tcp > 0 else -1)


def memory_v2(d: str, r) -> None:
    if r.memory is not None:
        try:
            _write(os.path.join(d, "memory.max"), r.memory if r.memory > 0 else "max")
        except _WriteError as exc:
            raise memory_error(exc) from None
    if r.memory_swap is not None and os.path.exists(os.path.join(d, "memory.swap.max")):
        if r.memory_swap > 0 and r.memory:
            _write(os.path.join(d, "memory.swap.max"), max(r.memory_swap - r.memory, 0))
        elif r.memory_swap < 0:
            _write(os.path.join(d, "memory.swap.max"), "max")
    if r.memory_reservation is not None:
        _write(os.path.join(d, "memory.low"), r.memory_reservation if r.memory_reservation > 0 else 0)


def memory_error(exc: _WriteError) -> ContainerError:
    if exc.errno in (errno.EBUSY, errno.EINVAL):
        return InvalidParameter(f"cannot set memory limit: {exc} (the container uses more than the new limit?)")
    return exc


# -- cpu -----------------------------------------------------------------------------------------


def cpu_v1(cpu: str, r) -> None:
    if r.cpu_shares:
        _write(os.path.join(cpu, "cpu.shares"), r.cpu_shares)
    if r.cpu_period:
        _write(os.path.join(cpu, "cpu.cfs_period_us"), r.cpu_period)
    if r.cpu_quota:
        _write(os.path.join(cpu, "cpu.cfs_quota_us"), r.cpu_quota if r.cpu_quota > 0 else -1)
    realtime_v1(cpu, r)


def realtime_v1(cpu: str, r) -> None:
    """cpu.rt_period_us and cpu.rt_runtime_us: the kernel checks each write against the other and
    the parent's budget, so one order fits raising and the other lowering (runc retries likewise)."""
    writes = [(name, value) for name, value in (("cpu.rt_period_us", r.cpu_rt_period),
                                                ("cpu.rt_runtime_us", r.cpu_rt_runtime)) if value]
    try:
        for name, value in writes:
            _write(os.path.join(cpu, name), value)
    except _WriteError as exc:
        if exc.errno != errno.EINVAL:
            raise
        try:
            for name, value in reversed(writes):
                _write(os.path.join(cpu, name), value)
        except _WriteError as again:
            if again.errno != errno.EINVAL:
                raise
            parent = os.path.dirname(cpu)
            budget = _read_or(os.path.join(parent, "cpu.rt_runtime_us"), "?")
            raise InvalidParameter(f"cannot set the real-time runtime {r.cpu_rt_runtime} (period {r.cpu_rt_period}): "
                                   f"the parent cgroup's budget (cpu.rt_runtime_us {budget}) does not allow it") from None


def cpu_v2(d: str, r) -> None:
    if r.cpu_shares:
        weight = 1 + ((r.cpu_shares - 2) * 9999) // 262142
        _write(os.path.join(d, "cpu.weight"), min(max(weight, 1), 10000))
    if r.cpu_quota or r.cpu_period:
        quota = r.cpu_quota if r.cpu_quota and r.cpu_quota > 0 else "max"
        _write(os.path.join(d, "cpu.max"), f"{quota} {r.cpu_period or 100000}")


# -- cpuset, pids --------------------------------------------------------------------------------


def cpuset(d: str, r) -> None:
    """cpuset.cpus and cpuset.mems: the same names in v1 and v2."""
    if r.cpuset_cpus:
        _set_set(os.path.join(d, "cpuset.cpus"), r.cpuset_cpus, "Requested CPUs are not available")
    if r.cpuset_mems:
        _set_set(os.path.join(d, "cpuset.mems"), r.cpuset_mems, "Requested memory nodes are not available")


def _set_set(path: str, wanted: str, message: str) -> None:
    try:
        _write(path, wanted)
    except _WriteError as exc:
        if exc.errno not in (errno.EINVAL, errno.ERANGE):
            raise
        parent = os.path.join(os.path.dirname(os.path.dirname(path)), os.path.basename(path))
        raise InvalidParameter(f"{message} - requested {wanted}, available: {_read_or(parent, '?')}") from None


def pids(d: str, r) -> None:
    if r.pids_limit is not None:
        _write(os.path.join(d, "pids.max"), r.pids_limit if r.pids_limit > 0 else "max")


# -- block I/O -----------------------------------------------------------------------------------


def blkio_v1(d: str, r) -> None:
    if r.blkio_weight:
        _write(_first(d, "blkio.weight", "blkio.bfq.weight"), r.blkio_weight)
    if r.blkio_weight_device:
        path = _first(d, "blkio.weight_device", "blkio.bfq.weight_device")
        for dev in r.blkio_weight_device:
            _write(path, f"{dev.major}:{dev.minor} {dev.weight}")
    for name, (filename, _key) in THROTTLES.items():
        for dev in getattr(r, name) or []:
            _write(os.path.join(d, filename), f"{dev.major}:{dev.minor} {dev.rate}")


def io_v2(d: str, r) -> None:
    bfq = os.path.join(d, "io.bfq.weight")
    if r.blkio_weight:
        if os.path.exists(bfq):
            _write(bfq, r.blkio_weight)
        else:  # runc's rescaling of blkio's 10-1000 onto io.weight's 1-10000
            _write(os.path.join(d, "io.weight"), 1 + (r.blkio_weight - 10) * 9999 // 990)
    if r.blkio_weight_device:
        if not os.path.exists(bfq):
            raise ContainerError("cgroup: per-device weights need the BFQ scheduler (io.bfq.weight)")
        for dev in r.blkio_weight_device:
            _write(bfq, f"{dev.major}:{dev.minor} {dev.weight}")
    for name, (_filename, key) in THROTTLES.items():
        for dev in getattr(r, name) or []:
            _write(os.path.join(d, "io.max"), f"{dev.major}:{dev.minor} {key}={dev.rate or 'max'}")


def _first(d: str, *names: str) -> str:
    for name in names:
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    raise ContainerError(f"cgroup: this kernel has none of {', '.join(names)} in {d}")


def _read_or(path: str, default: str) -> str:
    try:
        return _read(path)
    except OSError:
        return default
