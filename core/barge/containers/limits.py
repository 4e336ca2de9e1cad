"""HostConfig resources: checked, completed, or discarded with dockerd's warning.

moby's ``verifyPlatformContainerResources`` and ``validateResources``,
with one rule of barge's on top: a value is applied, refused with a 400
naming it, or discarded with a warning in the create (or update) answer —
never kept and silently ignored. What the machine supports comes from
:class:`barge.containers.sysinfo.SysInfo`; bad values are refused before a
discard is considered, so the same request is a 400 on every machine.
Used by create and by ``update``. Values arrive with Go's types and ranges
already checked (:mod:`barge.api.bodies`): the create and update bodies when
they entered, and the stored HostConfig an update merges into because create
wrote it from such a body.
"""

from __future__ import annotations

from typing import Any

from barge.containers.sysinfo import DEFAULT_RT_PERIOD, SysInfo
from barge.errors import InvalidParameter

MIN_MEMORY = 6 << 20
MIN_CPU_SHARES, MAX_CPU_SHARES = 2, 262144
MIN_BLKIO_WEIGHT, MAX_BLKIO_WEIGHT = 10, 1000

#: The four throttle lists and dockerd's words for each when the kernel lacks it.
THROTTLES = {
    "BlkioDeviceReadBps": ("BPS Block I/O read limit", "Block I/O BPS read limit"),
    "BlkioDeviceWriteBps": ("BPS Block I/O write limit", "Block I/O BPS write limit"),
    "BlkioDeviceReadIOps": ("IOPS Block read limit", "Block I/O IOPS read limit"),
    "BlkioDeviceWriteIOps": ("IOPS Block write limit", "Block I/O IOPS write limit"),
}


def int_field(host: dict, key: str, *, minimum: int | None = None) -> int:
    """An integer field (unset: 0); ``minimum`` refuses smaller values naming the field.

    Type and range are Go's, checked where the body entered (:mod:`barge.api.bodies`);
    what is left is the meaning of the value.
    """
    value = host.get(key) or 0
    if minimum is not None and value < minimum:
        raise InvalidParameter(f"invalid {key}: {value} (must be at least {minimum})")
    return value


#: Past the kernel's largest CPU or node number (NR_CPUS is at most 8192): a bigger
#: range is a typo or an attack on the daemon's memory, never a machine.
MAX_CPUSET_INDEX = 1 << 16


def parse_cpuset(text: str, what: str = "cpus") -> set[int]:
    """``0-2,4`` -> {0, 1, 2, 4}; Docker's message on bad syntax."""
    out: set[int] = set()
    if not text:
        return out
    for part in text.split(","):
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise InvalidParameter(f"Invalid value {text} for cpuset {what}") from None
        if a < 0 or b < a or b >= MAX_CPUSET_INDEX:
            raise InvalidParameter(f"Invalid value {text} for cpuset {what}")
        out.update(range(a, b + 1))
    return out


def normalize_resources(host: dict[str, Any], si: SysInfo, warnings: list[str], *, update: bool = False) -> None:
    """Check and complete every Resources field of ``host``, in place."""
    _memory(host, si, warnings, update)
    _reservation(host, si, warnings)
    _swappiness(host, si, warnings)
    _kernel_memory(host, si, warnings)
    _oom_kill_disable(host, si, warnings)
    _pids(host, si, warnings)
    _cpu(host, si, warnings)
    _realtime(host, si)
    _cpuset(host, si, warnings)
    _blkio(host, si, warnings)
    _windows_only(host, warnings)


def _memory(host: dict, si: SysInfo, warnings: list[str], update: bool) -> None:
    memory = int_field(host, "Memory")
    swap = int_field(host, "MemorySwap")
    if memory and memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if swap > 0 and memory == 0 and not update:
        raise InvalidParameter("You should always set the Memory limit when using Memoryswap limit, see usage")
    if memory > 0 and 0 < swap < memory:
        raise InvalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage")
    if memory > 0 and not si.memory_limit:
        warnings.append("Your kernel does not support memory limit capabilities or the cgroup is not mounted. "
                        "Limitation discarded.")
        memory, swap = 0, -1
    if memory > 0 and swap == 0:
        swap = memory * 2  # moby's default: as much swap as memory
    if memory > 0 and swap > 0 and not si.swap_limit:
        warnings.append("Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
                        "Memory limited without swap.")
        swap = -1
    host["Memory"], host["MemorySwap"] = memory, swap


def _reservation(host: dict, si: SysInfo, warnings: list[str]) -> None:
    memory = host["Memory"]
    reservation = int_field(host, "MemoryReservation", minimum=0)
    if reservation and reservation < MIN_MEMORY:
        raise InvalidParameter("Minimum memory reservation allowed is 6MB")
    if memory > 0 and reservation > memory:
        raise InvalidParameter("Minimum memory limit can not be less than memory reservation limit, see usage")
    if reservation and not si.memory_reservation:
        warnings.append("Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. "
                        "Limitation discarded.")
        reservation = 0
    host["MemoryReservation"] = reservation


def _swappiness(host: dict, si: SysInfo, warnings: list[str]) -> None:
    swappiness = host.get("MemorySwappiness")
    if swappiness is not None:
        swappiness = int_field(host, "MemorySwappiness")
        if swappiness == -1:
            swappiness = None  # moby's fixMemorySwappiness: -1 is "not set"
        elif not 0 <= swappiness <= 100:
            raise InvalidParameter(f"Invalid value: {swappiness}, valid memory swappiness range is 0-100")
        elif not si.memory_swappiness:
            warnings.append("Your kernel does not support memory swappiness capabilities or the cgroup is not "
                            "mounted. Memory swappiness discarded.")
            swappiness = None
    host["MemorySwappiness"] = swappiness


def _kernel_memory(host: dict, si: SysInfo, warnings: list[str]) -> None:
    """Deprecated by dockerd, and ignored by kernels from 5.16 on; its TCP half still works on v1."""
    kernel = int_field(host, "KernelMemory", minimum=0)
    if kernel:
        warnings.append("Specifying a kernel memory limit is deprecated and will be removed in a future release.")
        if not si.kernel_memory:
            warnings.append("Your kernel does not support kernel memory limit capabilities or the cgroup is not "
                            "mounted. Limitation discarded.")
            kernel = 0
        elif kernel < MIN_MEMORY:
            raise InvalidParameter("Minimum kernel memory limit allowed is 6MB")
    host["KernelMemory"] = kernel

    tcp = int_field(host, "KernelMemoryTCP", minimum=0)
    if tcp and not si.kernel_memory_tcp:
        warnings.append("Your kernel does not support kernel memory TCP limit capabilities or the cgroup is not "
                        "mounted. Limitation discarded.")
        tcp = 0
    host["KernelMemoryTCP"] = tcp


def _oom_kill_disable(host: dict, si: SysInfo, warnings: list[str]) -> None:
    oom_kill_disable = bool(host.get("OomKillDisable"))
    if oom_kill_disable and not si.oom_kill_disable:
        warnings.append("Your kernel does not support OomKillDisable. OomKillDisable discarded.")
        oom_kill_disable = False
    if oom_kill_disable and host["Memory"] == 0:
        warnings.append("OOM killer is disabled for the container, but no memory limit is set, this can result in "
                        "the system running out of resources.")
    host["OomKillDisable"] = oom_kill_disable


def _pids(host: dict, si: SysInfo, warnings: list[str]) -> None:
    pids = host.get("PidsLimit")
    if pids is not None:
        pids = int_field(host, "PidsLimit")
        if pids > 0 and not si.pids_limit:
            warnings.append("Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. "
                            "PIDs limit discarded.")
            pids = 0
    host["PidsLimit"] = pids if pids and pids > 0 else None


def _cpu(host: dict, si: SysInfo, warnings: list[str]) -> None:
    nano = int_field(host, "NanoCpus")
    period, quota = int_field(host, "CpuPeriod"), int_field(host, "CpuQuota")
    if nano and period:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano and quota:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if nano < 0 or nano > si.ncpu * 1_000_000_000:
        raise InvalidParameter(f"Range of CPUs is from 0.01 to {si.ncpu}.00, as there are only {si.ncpu} CPUs available")
    if nano and not si.cpu_cfs:
        raise InvalidParameter("NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the "
                               "cgroup is not mounted")
    if period and (period < 1000 or period > 1_000_000):
        raise InvalidParameter("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if quota and 0 < quota < 1000:
        raise InvalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if (period or quota) and not si.cpu_cfs:
        warnings.append("Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.")
        period = quota = 0
    host["NanoCpus"], host["CpuPeriod"], host["CpuQuota"] = nano, period, quota

    shares = int_field(host, "CpuShares")
    if shares and not si.cpu_shares:
        warnings.append("Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.")
        shares = 0
    if shares and shares < MIN_CPU_SHARES:
        warnings.append(f"Your kernel does not support CPU shares lower than {MIN_CPU_SHARES}: shares set to {MIN_CPU_SHARES}")
        shares = MIN_CPU_SHARES
    if shares > MAX_CPU_SHARES:
        warnings.append(f"Your kernel does not support CPU shares higher than {MAX_CPU_SHARES}: shares set to {MAX_CPU_SHARES}")
        shares = MAX_CPU_SHARES
    host["CpuShares"] = shares


def _realtime(host: dict, si: SysInfo) -> None:
    """moby's validateResources, plus the parent's real-time budget, which dockerd only meets at start."""
    period = int_field(host, "CpuRealtimePeriod", minimum=0)
    runtime = int_field(host, "CpuRealtimeRuntime", minimum=0)
    host["CpuRealtimePeriod"], host["CpuRealtimeRuntime"] = period, runtime
    if not (period or runtime):
        return
    if not si.cpu_realtime:
        raise InvalidParameter("Your kernel does not support CPU real-time scheduler")
    if period and runtime > period:
        raise InvalidParameter("cpu real-time runtime cannot be higher than cpu real-time period")
    if not runtime:
        return
    parent = (host.get("CgroupParent") or "barge").strip("/")
    budget, budget_period = si.rt_budget(parent)
    if budget != -1 and runtime * budget_period > budget * (period or DEFAULT_RT_PERIOD):
        raise InvalidParameter(
            f"CpuRealtimeRuntime {runtime} exceeds the real-time budget of the parent cgroup {parent} "
            f"(cpu.rt_runtime_us {budget} per cpu.rt_period_us {budget_period}): give that cgroup a budget first, "
            "or set CgroupParent to one that has it")


def _cpuset(host: dict, si: SysInfo, warnings: list[str]) -> None:
    cpus, mems = host.get("CpusetCpus") or "", host.get("CpusetMems") or ""
    if (cpus or mems) and not si.cpuset:
        warnings.append("Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.")
        cpus = mems = ""
    wanted = parse_cpuset(cpus, "cpus")
    if wanted and not wanted <= parse_cpuset(si.available_cpus, "cpus"):
        raise InvalidParameter(f"Requested CPUs are not available - requested {cpus}, available: {si.available_cpus}")
    wanted = parse_cpuset(mems, "mems")
    if wanted and not wanted <= parse_cpuset(si.mems, "mems"):
        raise InvalidParameter(f"Requested memory nodes are not available - requested {mems}, available: {si.mems}")
    host["CpusetCpus"], host["CpusetMems"] = cpus, mems


def _blkio(host: dict, si: SysInfo, warnings: list[str]) -> None:
    weight = int_field(host, "BlkioWeight")
    if weight and not MIN_BLKIO_WEIGHT <= weight <= MAX_BLKIO_WEIGHT:
        raise InvalidParameter("Range of blkio weight is from 10 to 1000")
    if weight and not si.blkio_weight:
        warnings.append("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.")
        weight = 0
    host["BlkioWeight"] = weight
    if int_field(host, "IOMaximumBandwidth"):
        raise InvalidParameter("Invalid QoS settings: linux does not support configuration of maximum bandwidth")
    if int_field(host, "IOMaximumIOps"):
        raise InvalidParameter("Invalid QoS settings: linux does not support configuration of maximum IOPs")

    devices = _device_list(host, "BlkioWeightDevice", "Weight", si)
    for d in devices:
        if not MIN_BLKIO_WEIGHT <= d["Weight"] <= MAX_BLKIO_WEIGHT:
            raise InvalidParameter(f"invalid BlkioWeightDevice: weight {d['Weight']} for {d['Path']} "
                                   "(range is from 10 to 1000)")
    if devices and not si.blkio_weight_device:
        warnings.append("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. "
                        "Weight-device discarded.")
        devices = []
    if host.get("BlkioWeightDevice") is not None:  # null stays null, as dockerd stores it
        host["BlkioWeightDevice"] = devices
    for key, (what, discarded) in THROTTLES.items():
        devices = _device_list(host, key, "Rate", si)
        if devices and not si.blkio_throttle:
            warnings.append(f"Your kernel does not support {what} or the cgroup is not mounted. {discarded} discarded.")
            devices = []
        if host.get(key) is not None:
            host[key] = devices


def _device_list(host: dict, key: str, value_key: str, si: SysInfo) -> list[dict[str, Any]]:
    """``[{"Path": block device, value_key: int}]``; each path must be a block device here."""
    out = []
    for entry in host.get(key) or []:
        path = entry.get("Path", "")
        if not path:
            raise InvalidParameter(f"invalid {key}: a device needs a Path")
        try:
            si.block_device(path)
        except ValueError as exc:
            raise InvalidParameter(f"invalid {key}: {exc}") from None
        out.append({"Path": path, value_key: entry.get(value_key, 0)})
    return out


def _windows_only(host: dict, warnings: list[str]) -> None:
    """CpuCount and CpuPercent are Windows' (dockerd drops CpuCount silently; barge says so)."""
    if int_field(host, "CpuCount"):
        warnings.append("linux does not support CPU count. Count discarded.")
    if int_field(host, "CpuPercent"):
        warnings.append("linux does not support CPU percent. Percent discarded.")
    host["CpuCount"] = host["CpuPercent"] = 0


#: What ``docker update`` changes (moby's ``UpdateContainer``), and the cgroup files barge also
#: rewrites on a running container where dockerd would ignore them.
UPDATABLE = (
    "Memory", "MemorySwap", "MemoryReservation", "KernelMemory", "NanoCpus", "CpuPeriod", "CpuQuota", "CpuShares",
    "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems", "PidsLimit", "BlkioWeight",
    "MemorySwappiness", "OomKillDisable", "KernelMemoryTCP", "BlkioWeightDevice", *THROTTLES,
    "CpuCount", "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth",  # warned or refused as on create
)
#: Resources a running container cannot take (dockerd ignores them on update; barge refuses).
NOT_UPDATABLE = ("CgroupParent", "Devices", "DeviceCgroupRules", "DeviceRequests", "Ulimits")


def _given(body: dict[str, Any], key: str) -> bool:
    """Go's zero values mean "not changed" in an update body (the docker CLI sends all of them);
    a swappiness of 0 is a value, -1 is not."""
    value = body.get(key)
    if key == "MemorySwappiness":
        return value is not None and value != -1
    return value is not None and value is not False and value not in (0, "", [], {})


def merge_update(host: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The HostConfig after ``POST /containers/{id}/update`` (``host`` untouched); check it with
    :func:`normalize_resources` (``update=True``)."""
    for key in NOT_UPDATABLE:
        if _given(body, key):
            raise InvalidParameter(f"{key} cannot be updated on an existing container")
    merged = dict(host)
    for key in UPDATABLE:
        if _given(body, key):
            merged[key] = body[key]
    if body.get("PidsLimit") is not None:
        merged["PidsLimit"] = body["PidsLimit"]  # 0 and -1: unlimited, as dockerd reads a non-null pointer
    if _given(body, "Memory") and not _given(body, "MemorySwap"):
        old_swap = host.get("MemorySwap") or 0
        if "MemorySwap" not in body:
            merged["MemorySwap"] = 0  # recomputed as twice the memory, as on create
        elif old_swap > 0 and body["Memory"] > old_swap:
            raise InvalidParameter("Memory limit should be smaller than already set memoryswap limit, "
                                   "update the memoryswap at the same time")
    return merged
