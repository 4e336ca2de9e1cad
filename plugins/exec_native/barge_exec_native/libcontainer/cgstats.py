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


def stats_v1(dirs: dict[str, str]) -> dict:
    out: dict = {"memory_stats": {}, "cpu_stats": {}, "pids_stats": {}}
    mem = dirs.get("memory")
    if mem:
        limit = _read_int(os.path.join(mem, "memory.limit_in_bytes"))
        out["memory_stats"] = {
            "usage": _read_int(os.path.join(mem, "memory.usage_in_bytes")) or 0,
            "max_usage": _read_int(os.path.join(mem, "memory.max_usage_in_bytes")) or 0,
            "failcnt": _read_int(os.path.join(mem, "memory.failcnt")) or 0,
            "limit": _host_memory() if limit is None or limit >= _UNLIMITED_V1 else limit,
            "stats": _read_kv(os.path.join(mem, "memory.stat")),
        }
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
    """Docker's ``blkio_stats`` from v1 throttle counters (``8:0 Read 4096`` lines)."""
    out = {"io_service_bytes_recursive": [], "io_serviced_recursive": []}
    if not d:
        return out
    for key, name in (("io_service_bytes_recursive", "blkio.throttle.io_service_bytes_recursive"),
                      ("io_serviced_recursive", "blkio.throttle.io_serviced_recursive")):
        try:
            with open(os.path.join(d, name)) as fh:
                for line in fh:
                    parts = line.split()
                    if len(parts) == 3 and ":" in parts[0]:
                        major, minor = parts[0].split(":")
                        out[key].append({"major": int(major), "minor": int(minor), "op": parts[1],
                                         "value": int(parts[2])})
        except OSError:
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
