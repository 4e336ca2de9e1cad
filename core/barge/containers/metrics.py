"""``top`` and ``stats``: Docker's answers from the driver's pids and cgroup figures."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from barge.containers.store import Container
from barge.errors import BargeError, InvalidParameter
from barge.timefmt import rfc3339_nano


def top_table(pids: set[int], ps_args: str) -> dict[str, Any]:
    """Docker's ``top``: ``ps <ps_args>`` on the host, rows kept by the PID column."""
    args = ps_args.split()
    try:
        out = subprocess.run(["ps", *args], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise BargeError("top: the ps command is not installed on this machine") from None
    if out.returncode != 0:
        # dockerd's words: "ps: " and the first line of what ps said
        said = (out.stderr.strip() or out.stdout.strip()).splitlines()
        raise InvalidParameter(f"ps: {said[0] if said else f'exit status {out.returncode}'}")
    lines = out.stdout.splitlines()
    if not lines:
        return {"Titles": [], "Processes": []}
    titles = lines[0].split()
    if "PID" not in titles:
        raise InvalidParameter("Couldn't find PID field in ps output")
    pid_index = titles.index("PID")
    processes = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) <= pid_index:
            continue
        try:
            pid = int(fields[pid_index])
        except ValueError:
            continue
        if pid in pids:
            processes.append(fields)
    return {"Titles": titles, "Processes": processes}


def _system_cpu_ns() -> int:
    """Host CPU time in ns from /proc/stat, as Docker's ``system_cpu_usage``."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()[1:8]
        ticks = sum(int(f) for f in fields)
        return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return 0


_NET_FIELDS = (("rx_bytes", 0), ("rx_packets", 1), ("rx_errors", 2), ("rx_dropped", 3), ("tx_bytes", 8),
               ("tx_packets", 9), ("tx_errors", 10), ("tx_dropped", 11))


def network_stats(pid: int, path: str | None = None) -> dict[str, dict[str, int]]:
    """Counters of each interface in the network namespace of ``pid`` (its ``/proc/<pid>/net/dev``),
    loopback left out, as dockerd reports a sandbox's interfaces."""
    out: dict[str, dict[str, int]] = {}
    try:
        with open(path or f"/proc/{pid}/net/dev") as fh:
            lines = fh.read().splitlines()[2:]
    except OSError:
        return out
    for line in lines:
        name, _, rest = line.partition(":")
        name = name.strip()
        values = rest.split()
        if not name or name == "lo" or len(values) < 12:
            continue
        out[name] = {key: int(values[i]) for key, i in _NET_FIELDS}
    return out


def stats_document(c: Container, raw: dict[str, Any], ncpu: int) -> dict[str, Any]:
    cpu = dict(raw.get("cpu_stats") or {})
    usage = dict(cpu.get("cpu_usage") or {})
    usage.setdefault("total_usage", 0)
    usage.setdefault("usage_in_kernelmode", 0)
    usage.setdefault("usage_in_usermode", 0)
    cpu["cpu_usage"] = usage
    if raw:  # a stopped container's have neither (``omitempty`` zeros in dockerd's)
        if not cpu.get("system_cpu_usage"):
            cpu["system_cpu_usage"] = _system_cpu_ns()
        cpu.setdefault("online_cpus", ncpu)
    cpu.setdefault("throttling_data", {"periods": 0, "throttled_periods": 0, "throttled_time": 0})
    memory = dict(raw.get("memory_stats") or {})
    pids = dict(raw.get("pids_stats") or {})
    return {
        "name": c.name,
        "id": c.id,
        "read": rfc3339_nano() if raw else "0001-01-01T00:00:00Z",
        "preread": "0001-01-01T00:00:00Z",
        "pids_stats": pids,
        "blkio_stats": raw.get("blkio_stats") or {
            "io_service_bytes_recursive": None, "io_serviced_recursive": None, "io_queue_recursive": None,
            "io_service_time_recursive": None, "io_wait_time_recursive": None, "io_merged_recursive": None,
            "io_time_recursive": None, "sectors_recursive": None,
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu,
        "precpu_stats": {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                         "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
        "memory_stats": memory,
        **_networks(c, raw),
    }


def _networks(c: Container, raw: dict[str, Any]) -> dict[str, Any]:
    """``networks`` for a running container with a network namespace of its own (not host's)."""
    mode = (c.host_config or {}).get("NetworkMode") or ""
    if not raw or not c.state.Running or not c.state.Pid or mode == "host":
        return {}
    nets = network_stats(c.state.Pid)
    return {"networks": nets} if nets else {}
