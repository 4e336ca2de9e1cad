"""Reading a container's cgroup back in the shape of Docker's ``stats``
(``memory_stats``, ``cpu_stats``, ``pids_stats``, ``blkio_stats``), from v1
controller files or the v2 unified ones."""

from __future__ import annotations

import os

from barge_exec_native.libcontainer.cgroups import _UNLIMITED_V1, _read, _read_int, _read_kv

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_NS = 1_000_000_000


def _system_cpu_usage() -> int:
    with open("/proc/stat") as fh:
        fields = fh.readline().split()[1:8]
    return sum(int(x) for x in fields) * _NS // _CLK_TCK


def _online_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1


def _host_memory() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


#: The memory.stat keys dockerd reports on cgroup v1 (moby's statsV1), each always present.
_MEMORY_V1_KEYS = tuple(prefix + key for prefix in ("", "total_") for key in (
    "cache", "rss", "rss_huge", "mapped_file", "dirty", "writeback", "pgpgin", "pgpgout", "pgfault", "pgmajfault",
    "inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable")) + (
    "hierarchical_memory_limit", "hierarchical_memsw_limit")

#: Docker's v1 ``blkio_stats`` keys and the blkio files they come from (moby's statsV1, all eight always there).
_BLKIO_V1 = (("io_service_bytes_recursive", "blkio.throttle.io_service_bytes_recursive"),
             ("io_serviced_recursive", "blkio.throttle.io_serviced_recursive"),
             ("io_queue_recursive", "blkio.io_queued_recursive"),
             ("io_service_time_recursive", "blkio.io_service_time_recursive"),
             ("io_wait_time_recursive", "blkio.io_wait_time_recursive"),
             ("io_merged_recursive", "blkio.io_merged_recursive"),
             ("io_time_recursive", "blkio.time_recursive"),
             ("sectors_recursive", "blkio.sectors_recursive"))


def stats_v1(dirs: dict[str, str]) -> dict:
    out: dict = {"memory_stats": {}, "cpu_stats": {}, "pids_stats": {}}
    mem = dirs.get("memory")
    if mem:
        limit = _read_int(os.path.join(mem, "memory.limit_in_bytes"))
        stat = _read_kv(os.path.join(mem, "memory.stat"))
        out["memory_stats"] = {
            "usage": _read_int(os.path.join(mem, "memory.usage_in_bytes")) or 0,
            "max_usage": _read_int(os.path.join(mem, "memory.max_usage_in_bytes")) or 0,
            "limit": _host_memory() if limit is None or limit >= _UNLIMITED_V1 else limit,
            "stats": {key: stat.get(key, 0) for key in _MEMORY_V1_KEYS},
        }
        failcnt = _read_int(os.path.join(mem, "memory.failcnt"))
        if failcnt:  # ``omitempty`` in Docker's MemoryStats
            out["memory_stats"]["failcnt"] = failcnt
    acct = dirs.get("cpuacct")
    cpu_usage: dict = {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0}
    if acct:
        cpu_usage["total_usage"] = _read_int(os.path.join(acct, "cpuacct.usage")) or 0
        try:
            cpu_usage["percpu_usage"] = [int(x) for x in _read(os.path.join(acct, "cpuacct.usage_percpu")).split()]
        except OSError:
            pass
        ticks = _read_kv(os.path.join(acct, "cpuacct.stat"))
        cpu_usage["usage_in_usermode"] = ticks.get("user", 0) * _NS // _CLK_TCK
        cpu_usage["usage_in_kernelmode"] = ticks.get("system", 0) * _NS // _CLK_TCK
    throttling = {"periods": 0, "throttled_periods": 0, "throttled_time": 0}
    if dirs.get("cpu"):
        st = _read_kv(os.path.join(dirs["cpu"], "cpu.stat"))
        throttling = {"periods": st.get("nr_periods", 0), "throttled_periods": st.get("nr_throttled", 0),
                      "throttled_time": st.get("throttled_time", 0)}
    out["cpu_stats"] = {"cpu_usage": cpu_usage, "system_cpu_usage": _system_cpu_usage(),
                        "online_cpus": _online_cpus(), "throttling_data": throttling}
    out["blkio_stats"] = _blkio_v1(dirs.get("blkio"))
    if dirs.get("pids"):
        out["pids_stats"] = {"current": _read_int(os.path.join(dirs["pids"], "pids.current")) or 0}
        limit = _read_int(os.path.join(dirs["pids"], "pids.max"))
        if limit is not None:
            out["pids_stats"]["limit"] = limit
    return out


def stats_v2(d: str) -> dict:
    limit = _read_int(os.path.join(d, "memory.max"))
    out: dict = {
        "memory_stats": {
            "usage": _read_int(os.path.join(d, "memory.current")) or 0,
            "limit": _host_memory() if limit is None else limit,
            "stats": _read_kv(os.path.join(d, "memory.stat")),
        }
    }
    peak = _read_int(os.path.join(d, "memory.peak"))
    if peak is not None:
        out["memory_stats"]["max_usage"] = peak
    st = _read_kv(os.path.join(d, "cpu.stat"))
    out["cpu_stats"] = {
        "cpu_usage": {
            "total_usage": st.get("usage_usec", 0) * 1000,
            "usage_in_usermode": st.get("user_usec", 0) * 1000,
            "usage_in_kernelmode": st.get("system_usec", 0) * 1000,
        },
        "system_cpu_usage": _system_cpu_usage(),
        "online_cpus": _online_cpus(),
        "throttling_data": {"periods": st.get("nr_periods", 0), "throttled_periods": st.get("nr_throttled", 0),
                            "throttled_time": st.get("throttled_usec", 0) * 1000},
    }
    out["pids_stats"] = {"current": _read_int(os.path.join(d, "pids.current")) or 0}
    limit = _read_int(os.path.join(d, "pids.max"))
    if limit is not None:
        out["pids_stats"]["limit"] = limit
    out["blkio_stats"] = _io_v2(d)
    return out


def _blkio_v1(d: str | None) -> dict:
    """Docker's ``blkio_stats`` from v1 counters (``8:0 Read 4096`` lines; ``8:0 4096`` where there is no op)."""
    out: dict[str, list] = {key: [] for key, _ in _BLKIO_V1}
    if not d:
        return out
    for key, name in _BLKIO_V1:
        try:
            with open(os.path.join(d, name)) as fh:
                for line in fh:
                    parts = line.split()
                    if len(parts) in (2, 3) and ":" in parts[0]:
                        major, minor = parts[0].split(":")
                        out[key].append({"major": int(major), "minor": int(minor),
                                         "op": parts[1] if len(parts) == 3 else "", "value": int(parts[-1])})
        except (OSError, ValueError):
            pass
    return out


def _io_v2(d: str) -> dict:
    """``blkio_stats`` from v2 ``io.stat`` (Docker reports ops in lower case there)."""
    out = {"io_service_bytes_recursive": [], "io_serviced_recursive": []}
    try:
        with open(os.path.join(d, "io.stat")) as fh:
            lines = fh.readlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, minor = (int(x) for x in parts[0].split(":"))
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for key, prefix in (("io_service_bytes_recursive", "bytes"), ("io_serviced_recursive", "ios")):
            for op, field in (("read", "r" + prefix), ("write", "w" + prefix)):
                if field in kv:
                    out[key].append({"major": major, "minor": minor, "op": op, "value": int(kv[field])})
    return out
