#!/usr/bin/env python3
"""Benchmark: `docker build` with the classic builder, barge against dockerd's legacy builder.

Same run, same machine, same busybox image (`barge mkimage busybox`, loaded
into the peer with `docker load`), the same docker CLI (`DOCKER_BUILDKIT=0`)
driving both daemons, every RUN step with `--network none` (the peer runs
without a bridge):

  (a) cold: a 10-step Dockerfile - a first stage that generates files, then
      FROM busybox, ENV, RUN, a COPY of 2,000 small files, a multi-stage
      COPY --from, WORKDIR, a last COPY and a RUN that reads it - built with
      no image of it on the daemon (each run starts from busybox alone, after
      one untimed build per engine);
  (b) cached: the same build again, every step from the cache;
  (c) last COPY changed: a new file in the last COPY's sources, so only the
      last two steps run;
  (d) big context: a 100 MB, 10,000-file context sent by the docker CLI to a
      Dockerfile that does only FROM busybox and a LABEL: the context's
      sending, receiving, unpacking and hashing are the whole cost.

Each figure is the median of `--runs` timed builds per engine (after a
`sync`, engines alternating, the first one swapping each round), printed
with the ratio barge/dockerd and the issue's target for it: (a) <= 1.0,
(b) <= 0.5, (c) <= 0.5, (d) <= 1.0. Every build's output is checked (steps
from the cache, steps run), so a builder that skipped work cannot look fast.

Run: `.venv/bin/python bench/build.py [--runs 5] [--driver overlay]`.
dockerd (Debian's docker.io) is used when installed; barge never needs it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from daemons import Daemon, with_busybox  # noqa: E402

TAG = "bench-build:latest"
#: The figures, their targets (ratio barge/dockerd) and how many steps each build takes from the cache.
FIGURES = (
    ("a", "cold: 10 steps, 2,000-file COPY, multi-stage COPY --from", 1.0),
    ("b", "rebuild, every step cached", 0.5),
    ("c", "last COPY's sources changed (its step and the last re-run)", 0.5),
    ("d", "100 MB, 10,000-file context sent by the CLI, FROM + LABEL", 1.0),
)
TEN_STEPS = """FROM busybox AS gen
RUN mkdir /gen && for i in $(seq 1 200); do echo "generated $i" > /gen/g$i; done
FROM busybox
ENV APP=/app
RUN mkdir -p $APP && echo ready > $APP/status
COPY files/ /app/files/
COPY --from=gen /gen /app/gen
WORKDIR /app
COPY last/ /app/last/
RUN cat last/* > summary && ls files | wc -l >> summary
"""
#: Steps that are not FROM: all of them come from the cache in (b), all but the last two in (c).
CACHEABLE = 8
BIG_CONTEXT = "FROM busybox\nLABEL purpose=context-bench\n"


def small_files_context(root: Path) -> Path:
    """(a)'s context: the Dockerfile, 2,000 files of 100-600 bytes in 20 directories, and `last/`."""
    ctx = root / "ten-steps"
    for d in range(20):
        sub = ctx / "files" / f"d{d:02}"
        sub.mkdir(parents=True)
        for f in range(100):
            (sub / f"f{f:03}.txt").write_bytes(os.urandom(50 + (d * 100 + f) % 250).hex().encode())
    (ctx / "last").mkdir()
    (ctx / "last" / "a.txt").write_text("the last copy\n")
    (ctx / "Dockerfile").write_text(TEN_STEPS)
    return ctx


def big_context(root: Path) -> Path:
    """(d)'s context: 10,000 files of 10,000 random bytes (100 MB) in 100 directories."""
    ctx = root / "big"
    for d in range(100):
        sub = ctx / f"d{d:02}"
        sub.mkdir(parents=True)
        for f in range(100):
            (sub / f"f{f:02}.bin").write_bytes(os.urandom(10_000))
    (ctx / "Dockerfile").write_text(BIG_CONTEXT)
    return ctx


def docker_build(daemon: Daemon, ctx: Path, *args: str) -> str:
    """`docker build` with the classic builder; its stdout. A failed build stops the benchmark."""
    env = dict(daemon.docker_env, DOCKER_BUILDKIT="0")
    proc = subprocess.run(["docker", "build", "--network", "none", *args, str(ctx)], env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0 or "Successfully built " not in proc.stdout:
        raise SystemExit(f"{daemon.name}: docker build {' '.join(args)} failed ({proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout


def expect_cached(daemon: Daemon, out: str, cached: int, what: str) -> None:
    found = out.count(" ---> Using cache\n")
    if found != cached:
        raise SystemExit(f"{daemon.name}: {what}: {found} steps from the cache, expected {cached}:\n{out}")


def reset(daemon: Daemon) -> None:
    """Back to busybox alone: the tag, its parents, and the other stage's images go."""
    daemon.docker("rmi", "-f", TAG, check=False)
    keep = daemon.docker("images", "-q", "--no-trunc", "busybox").stdout.split()
    for _ in range(5):
        left = [i for i in daemon.docker("images", "-aq", "--no-trunc").stdout.split() if i not in keep]
        if not left:
            return
        daemon.docker("image", "prune", "-f", check=False)
        for image in left:
            daemon.docker("rmi", "-f", image, check=False)
    raise SystemExit(f"{daemon.name}: images left after clean-up: {left}")


def timed(fn: Callable[[], object]) -> float:
    subprocess.run(["sync"], check=False)
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def rounds(engines: list[Daemon], runs: int, one: Callable[[Daemon, int], float]) -> dict[str, list[float]]:
    """``runs`` rounds of ``one(daemon, round)`` for every engine, the first engine swapping each round."""
    times: dict[str, list[float]] = {d.name: [] for d in engines}
    for n in range(runs):
        for daemon in engines[n % len(engines):] + engines[:n % len(engines)]:
            times[daemon.name].append(one(daemon, n))
    return times


def measure(engines: list[Daemon], runs: int, work: Path) -> dict[str, dict[str, list[float]]]:
    """The four figures in order, each build's output checked as it goes: (name -> times) per figure."""
    ctx = small_files_context(work)
    results: dict[str, dict[str, list[float]]] = {}

    def cold(daemon: Daemon, n: int) -> float:
        reset(daemon)
        return timed(lambda: expect_cached(daemon, docker_build(daemon, ctx, "-t", TAG), 0, "(a) cold"))

    for daemon in engines:  # once untimed: the daemons' own first-build costs are not the figure
        docker_build(daemon, ctx, "-t", TAG)
    results["a"] = rounds(engines, runs, cold)

    def cached(daemon: Daemon, n: int) -> float:
        return timed(lambda: expect_cached(daemon, docker_build(daemon, ctx, "-t", TAG), CACHEABLE, "(b) cached"))

    results["b"] = rounds(engines, runs, cached)

    def changed(daemon: Daemon, n: int) -> float:
        # the same new file for both engines in a round; new to each engine's cache every round
        (ctx / "last" / "version.txt").write_text(f"round {n}\n")
        return timed(lambda: expect_cached(daemon, docker_build(daemon, ctx, "-t", TAG), CACHEABLE - 2,
                                           "(c) last COPY changed"))

    results["c"] = rounds(engines, runs, changed)

    big = big_context(work)
    for daemon in engines:  # once untimed: FROM and LABEL in the cache, as in every timed run
        docker_build(daemon, big, "-t", "bench-context")

    def context(daemon: Daemon, n: int) -> float:
        return timed(lambda: expect_cached(daemon, docker_build(daemon, big, "-t", "bench-context"), 1, "(d)"))

    results["d"] = rounds(engines, runs, context)
    return results


def report(results: dict[str, dict[str, list[float]]], runs: int, drivers: str) -> None:
    print(f"docker build, classic builder (DOCKER_BUILDKIT=0), --network none; median of {runs} runs; {drivers}")
    for key, title, target in FIGURES:
        print(f"({key}) {title}")
        medians = {}
        for name, values in results[key].items():
            medians[name] = statistics.median(values)
            peer = "  (peer)" if name == "dockerd" else ""
            print(f"      {name:<8} {medians[name]:9.1f} ms  (min {min(values):.1f}, max {max(values):.1f}){peer}")
        if "dockerd" in medians:
            ratio = medians["barge"] / medians["dockerd"]
            verdict = "met" if ratio <= target else "NOT met"
            print(f"      ratio barge/dockerd {ratio:.2f}   target <= {target:.1f}: {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed builds per figure and engine (median)")
    parser.add_argument("--driver", default=None, help="barge's graph driver (default: the daemon's choice)")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="barge-bench-", dir="/var/tmp") as tmp:
        root = Path(tmp)
        barge, peer = with_busybox(root / "daemons", opts.driver)
        try:
            engines: list[Daemon] = [barge] + ([peer] if peer else [])
            (root / "work").mkdir()
            drivers = ", ".join(f"{d.name} on {d.docker('info', '--format', '{{.Driver}}').stdout.decode().strip()}"
                                for d in engines)
            report(measure(engines, opts.runs, root / "work"), opts.runs, drivers)
        finally:
            if peer:
                peer.stop()
            barge.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
