#!/usr/bin/env python3
"""Benchmark: container start latency, memory, and `ps` with 50 running.

Same run, same machine, same busybox image (made by `barge mkimage busybox`,
loaded into the peer with `docker load`):

  1. `run --rm --network none busybox true`: the barge CLI against barge,
     the docker CLI against barge, the docker CLI against dockerd (peer);
     then what the seccomp filter costs a start: the same run with the
     default profile and with `--security-opt seccomp=unconfined`,
     alternated, on both engines; and, in isolation, what libseccomp takes
     to compile Docker's default profile (once per daemon) and the kernel
     to install the program (once per start).
  2. daemon memory idle (RSS), then with 50 running containers (`sleep`):
     per container the monitor's PSS and USS (peer: containerd-shim), and
     the total PSS added per container by everything the engine runs
     (daemon, helpers, monitors; peer: dockerd, containerd, shims) - the
     containers' own processes are left out on both sides.
  3. time to start 50 containers with `docker run -d` one after another,
     and `docker ps` latency with them running.

Run: `.venv/bin/python bench/containers.py [--runs 20] [--count 50]`.
dockerd (Debian's docker.io) is used when installed; barge never needs it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from daemons import descendants, pss_uss_kib, rss_kib, with_busybox  # noqa: E402


def median_ms(fn, runs: int) -> tuple[float, float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times), max(times)


def line(label: str, figure: tuple[float, float, float], peer: float | None = None, unit: str = "ms") -> None:
    med, lo, hi = figure
    ratio = f"  {med / peer:5.2f}x peer" if peer else ""
    print(f"  {label:<52} {med:8.1f} {unit}  (min {lo:.1f}, max {hi:.1f}){ratio}")


def seccomp_cost(daemon, runs: int) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(with the default profile, unconfined): runs alternate, so drift hits both alike."""
    base = ("run", "--rm", "--network", "none")
    timed = {True: [], False: []}
    for _ in range(runs):
        for confined in (True, False):
            opts = () if confined else ("--security-opt", "seccomp=unconfined")
            start = time.perf_counter()
            daemon.docker(*base, *opts, "busybox", "true")
            timed[confined].append((time.perf_counter() - start) * 1000)
    figure = {k: (statistics.median(v), min(v), max(v)) for k, v in timed.items()}
    return figure[True], figure[False]


def seccomp_parts(runs: int) -> tuple[tuple[float, float, float], tuple[float, float, float], int]:
    """(libseccomp's compile, the kernel's install in a fresh child, program length) of the default filter."""
    import os

    from barge.execdriver import DEFAULT_CAPABILITIES
    from barge.security.default_seccomp import default_profile
    from barge.security.seccomp import resolve
    from barge_exec_native.libcontainer import seccomp

    spec = resolve(default_profile(), DEFAULT_CAPABILITIES)
    compiled = median_ms(lambda: seccomp.compile_filter(spec), max(3, runs // 4))
    program = seccomp.compile_filter(spec)
    installs = []
    for _ in range(runs):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            start = time.perf_counter()
            seccomp.install(program)
            os.write(w, str((time.perf_counter() - start) * 1000).encode())
            os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        installs.append(float(os.read(r, 64)))
        os.close(r)
    return compiled, (statistics.median(installs), min(installs), max(installs)), len(program) // 8


def engine_pids(daemon, monitor_marker: str | None) -> tuple[list[int], list[int]]:
    """(every engine process, the per-container monitors) - not the containers."""
    pids = [daemon.proc.pid] + descendants(daemon.proc.pid)
    monitors = []
    from daemons import pids_by_name

    if monitor_marker:
        monitors = [p for p in pids_by_name(monitor_marker) if p not in pids]
    return pids + monitors, monitors


def memory_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += pss_uss_kib(pid)[0]
        except OSError:
            pass
    return total


def start_many(daemon, count: int) -> tuple[float, float, float]:
    times = []
    for i in range(count):
        start = time.perf_counter()
        daemon.docker("run", "-d", "--network", "none", "--name", f"bench{i}", "busybox", "sleep", "1000")
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times), max(times)


def remove_many(daemon, count: int) -> None:
    names = [f"bench{i}" for i in range(count)]
    daemon.docker("rm", "-f", *names, check=False)


def memory_report(name: str, daemon, idle_pids: list[int], monitor_marker: str, count: int) -> dict:
    idle = memory_kib(idle_pids)
    started = start_many(daemon, count)
    time.sleep(1.0)
    everything, monitors = engine_pids(daemon, monitor_marker)
    loaded = memory_kib(everything)
    per_monitor = [pss_uss_kib(p) for p in monitors]
    ps = median_ms(lambda: daemon.docker("ps"), 20)
    remove_many(daemon, count)
    return {
        "idle_rss": rss_kib(daemon.proc.pid),
        "start": started,
        "ps": ps,
        "monitor_pss": statistics.median(p for p, _ in per_monitor) if per_monitor else 0,
        "monitor_uss": statistics.median(u for _, u in per_monitor) if per_monitor else 0,
        "monitors": len(per_monitor),
        "added_per_container": (loaded - idle) / count,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--driver", default=None)
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="barge-bench-", dir="/var/tmp") as tmp:
        root = Path(tmp)
        barge, peer = with_busybox(root, opts.driver)
        try:

            print(f"run --rm --network none busybox true ({opts.runs} runs, median):")
            cmd = ("run", "--rm", "--network", "none", "busybox", "true")
            for _ in range(3):  # warm both
                barge.docker(*cmd)
                if peer:
                    peer.docker(*cmd)
            ref = median_ms(lambda: peer.docker(*cmd), opts.runs) if peer else None
            line("barge CLI -> barge", median_ms(lambda: barge.cli(*cmd), opts.runs), ref and ref[0])
            line("docker CLI -> barge", median_ms(lambda: barge.docker(*cmd), opts.runs), ref and ref[0])
            if ref:
                line("docker CLI -> dockerd (peer)", ref)

            print(f"seccomp: docker run --rm --network none busybox true ({opts.runs} runs each, alternated):")
            engines = [("barge", barge)] + ([("dockerd (peer)", peer)] if peer else [])
            added = {}
            for name, daemon in engines:
                confined, unconfined = seccomp_cost(daemon, opts.runs)
                added[name] = confined[0] - unconfined[0]
                line(f"{name}: default profile", confined)
                line(f"{name}: seccomp=unconfined", unconfined)
                print(f"  {name + ': added by the filter':<52} {added[name]:8.1f} ms")
            compiled, installed, length = seccomp_parts(opts.runs)
            line(f"barge: libseccomp compiles the default ({length} insns)", compiled)
            line("barge: the kernel installs it (per start)", installed)

            print(f"memory and ps with {opts.count} running containers:")
            b = memory_report("barge", barge, [barge.proc.pid] + descendants(barge.proc.pid), "barge_exec_native", opts.count)
            p = None
            if peer:
                p = memory_report("dockerd", peer, [peer.proc.pid] + descendants(peer.proc.pid), "containerd-shim", opts.count)
            for key, label, unit in (
                ("idle_rss", "daemon RSS idle", "KiB"),
                ("monitor_pss", "per-container monitor PSS (peer: shim)", "KiB"),
                ("monitor_uss", "per-container monitor USS (peer: shim)", "KiB"),
                ("added_per_container", "total PSS added per container", "KiB"),
            ):
                peer_value = f"   peer {p[key]:8.0f} {unit}  ratio {b[key] / p[key]:.2f}" if p and p[key] else ""
                print(f"  {label:<52} {b[key]:8.0f} {unit}{peer_value}")
            line(f"start {opts.count} with docker run -d (each)", b["start"], p and p["start"][0])
            if p:
                line(f"peer: start {opts.count} with docker run -d (each)", p["start"])
            line(f"docker ps with {opts.count} running", b["ps"], p and p["ps"][0])
            if p:
                line(f"peer: docker ps with {opts.count} running", p["ps"])
        finally:
            if peer:
                peer.stop()
            barge.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
