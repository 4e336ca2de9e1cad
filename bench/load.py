#!/usr/bin/env python3
"""Benchmark: the daemon under load (issue 13), against dockerd.

Phases, each printing its figures, on a private barge daemon and, when
Debian's docker.io is installed, a private dockerd (the peer):

  (a) ``--clients`` (200) concurrent ``docker run --rm --network none
      busybox true`` (the docker CLI: create, attach, wait, start): wall
      time, p50/p99 per run, failures;
  (b) ``--containers`` (1,000) containers running ``sleep`` at once, with
      ``--network none`` (no address to allocate, as the peer has no
      bridge): daemon RSS and PSS, the monitors' (peer: shims') total PSS,
      measured at five points and fitted with a line (growth per
      container); ``GET /containers/json`` p50/p99, the docker CLI's
      ``docker ps`` wall time, ``GET /containers/{id}/json`` p50/p99;
  (c) one events subscriber (and one that reads slowly) through (a) and
      (b): every container's create, start, die, destroy seen exactly once
      and in that order;
  (d) ``--followers`` (100) clients following the logs
      (``/logs?follow=1``) of containers that print a numbered line every
      100 ms: each follower must get every line;
  (e) a restart storm: a container ``--restart always`` that exits at once;
      restarts over time against moby's backoff (100 ms doubling to a
      minute), and the daemon's CPU during the storm.

A thread pings ``/_ping`` every 20 ms through every phase; its p99 is
printed per phase. The peer runs (a), (c), (d), (e) and (b) with
``--peer-containers`` (200).

Run: ``.venv/bin/python bench/load.py [--clients 200] [--containers 1000]``
(``--containers 200 --clients 50`` for a quick run).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import random
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apiclient import Api, ApiError, event_lines, log_frames, stream  # noqa: E402
from daemons import DOCKER, descendants, pids_by_name, pss_uss_kib, rss_kib, with_busybox  # noqa: E402

#: The lifecycle every container of (a) and (b) must show, once each, in this order.
LIFECYCLE = ("create", "start", "die", "destroy")
#: moby restartmanager: the first delay, its cap; doubling in between.
BACKOFF_START, BACKOFF_MAX = 0.1, 60.0
TICK = os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def ratio(value: float, peer: float | None) -> str:
    return f"   {value / peer:6.2f}x peer" if peer else ""


class Engine:
    """One daemon under test, as the phases see it."""

    def __init__(self, name: str, daemon, monitor_marker: str):
        self.name = name
        self.daemon = daemon
        self.socket = str(daemon.socket)
        self.monitor_marker = monitor_marker

    def api(self) -> Api:
        return Api(self.socket)

    def engine_pids(self) -> tuple[list[int], list[int]]:
        """(the daemon and its descendants, the per-container monitors/shims)."""
        own = [self.daemon.proc.pid] + descendants(self.daemon.proc.pid)
        monitors = [p for p in pids_by_name(self.monitor_marker) if p not in own]
        return own, monitors

    def cpu_ticks(self) -> int:
        own, monitors = self.engine_pids()
        total = 0
        for pid in own + monitors:
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except OSError:
                continue
        return total


# ---------------------------------------------------------------------------
# the pinger and the event subscribers, running through the phases
# ---------------------------------------------------------------------------


class Pinger(threading.Thread):
    def __init__(self, engine: Engine, interval: float = 0.02):
        super().__init__(daemon=True)
        self.engine = engine
        self.interval = interval
        self.phase = "idle"
        self.samples: dict[str, list[float]] = collections.defaultdict(list)
        self.failures = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        api = self.engine.api()
        while not self.stopping.is_set():
            start = time.perf_counter()
            try:
                api.ping()
                self.samples[self.phase].append((time.perf_counter() - start) * 1000)
            except (OSError, ApiError):
                self.failures += 1
                api = self.engine.api()
            self.stopping.wait(self.interval)
        api.close()

    def report(self, phase: str) -> str:
        s = self.samples.get(phase, [])
        if not s:
            return "no samples"
        return f"_ping p50 {pct(s, 50):.1f} ms, p99 {pct(s, 99):.1f} ms, max {max(s):.1f} ms ({len(s)} pings)"


class EventWatcher(threading.Thread):
    """Records every container event; ``slow`` sleeps a little after each (a subscriber that falls behind)."""

    def __init__(self, engine: Engine, slow: float = 0.0):
        super().__init__(daemon=True)
        self.engine = engine
        self.slow = slow
        self.events: dict[str, list[tuple[str, int]]] = collections.defaultdict(list)
        self.count = 0
        self.since = time.time()
        self.ready = threading.Event()
        self.error: str = ""
        self.conn = None

    def run(self) -> None:
        try:
            self.conn, resp = stream(self.engine.socket, '/events?filters={"type":["container"]}')
            self.ready.set()
            for msg in event_lines(resp):
                self.count += 1
                self.events[msg["Actor"]["ID"]].append((msg["Action"], msg["timeNano"]))
                if self.slow:
                    time.sleep(self.slow)
        except (OSError, ValueError, AttributeError) as exc:  # closed by stop(): http.client's own ways
            if not self.error:
                self.error = repr(exc)
        finally:
            self.ready.set()

    def wait_for(self, cids: list[str], action: str, timeout: float = 120) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if all(any(a == action for a, _ in self.events.get(c, ())) for c in cids):
                return
            time.sleep(0.2)

    def stop(self) -> None:
        """Shut the socket down (a close would wait for the reader's buffer lock: a reader blocked for ever)."""
        if self.conn is not None and self.conn.sock is not None:
            with contextlib.suppress(OSError):
                self.conn.sock.shutdown(socket.SHUT_RDWR)

    def check(self, cids: list[str]) -> tuple[int, int, int, list[str]]:
        """(lost, duplicated, out of order, examples) over the lifecycle of ``cids``."""
        lost = dup = disorder = 0
        bad: list[str] = []
        for cid in cids:
            seen = [a for a, _ in self.events.get(cid, ()) if a in LIFECYCLE]
            counts = collections.Counter(seen)
            lost += sum(1 for a in LIFECYCLE if counts[a] == 0)
            dup += sum(counts[a] - 1 for a in LIFECYCLE if counts[a] > 1)
            deduped = list(dict.fromkeys(seen))
            if deduped != [a for a in LIFECYCLE if counts[a]]:
                disorder += 1
            if (seen != list(LIFECYCLE)) and len(bad) < 3:
                bad.append(f"{cid[:12]}: {seen}")
        return lost, dup, disorder, bad


# ---------------------------------------------------------------------------
# (a) concurrent run --rm
# ---------------------------------------------------------------------------


def phase_runs(engine: Engine, clients: int) -> dict:
    barrier = threading.Barrier(clients)
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one(_: int) -> None:
        barrier.wait()
        start = time.perf_counter()
        p = engine.daemon.docker("run", "--rm", "--network", "none", "busybox", "true", check=False)
        took = (time.perf_counter() - start) * 1000
        with lock:
            times.append(took)
            if p.returncode != 0:
                errors.append(p.stderr.decode(errors="replace").strip()[-200:])

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(clients)))
    wall = time.perf_counter() - start
    left = engine.api().ps(all_=True)
    return {"wall": wall, "p50": pct(times, 50), "p99": pct(times, 99), "failures": len(errors),
            "errors": collections.Counter(errors).most_common(3), "left": len(left)}


# ---------------------------------------------------------------------------
# (b) many running containers
# ---------------------------------------------------------------------------


def memory(engine: Engine) -> dict:
    own, monitors = engine.engine_pids()
    main = engine.daemon.proc.pid
    pss = lambda pids: sum(_pss(p) for p in pids)  # noqa: E731
    return {"daemon_rss": rss_kib(main), "daemon_pss": _pss(main), "engine_pss": pss(own),
            "monitors_pss": pss(monitors), "monitors": len(monitors), "threads": _threads(main),
            "fds": len(os.listdir(f"/proc/{main}/fd"))}


def _pss(pid: int) -> int:
    try:
        return pss_uss_kib(pid)[0]
    except OSError:
        return 0


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def fit(points: list[tuple[int, float]]) -> tuple[float, float, float]:
    """Least squares: (slope, intercept, r^2)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    slope = sxy / sxx if sxx else 0.0
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys))
    return slope, intercept, (1 - ss_res / ss_tot) if ss_tot else 1.0


def start_containers(engine: Engine, ids: list[str], count: int, workers: int = 4) -> list[str]:
    failures: list[str] = []

    def one(_: int) -> None:
        api = local.__dict__.setdefault("api", engine.api())
        try:
            cid = api.create(["sleep", "100000"])
            api.start(cid)
            ids.append(cid)
        except (ApiError, OSError) as exc:
            failures.append(str(exc))

    local = threading.local()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(count)))
    return failures


def remove_containers(engine: Engine, ids: list[str], workers: int = 4) -> tuple[float, int]:
    local = threading.local()
    failed = []

    def one(cid: str) -> None:
        api = local.__dict__.setdefault("api", engine.api())
        try:
            api.remove(cid)
        except (ApiError, OSError) as exc:
            failed.append(str(exc))

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, ids))
    return time.perf_counter() - start, len(failed)


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def phase_many(engine: Engine, count: int, steps: int = 4) -> dict:
    ids: list[str] = []
    points = [(0, memory(engine))]
    failures: list[str] = []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        target = count * step // steps
        failures += start_containers(engine, ids, target - len(ids))
        time.sleep(2)  # monitors settle (their first pages touched)
        points.append((len(ids), memory(engine)))
    started = time.perf_counter() - start
    api = engine.api()
    running = len(api.ps())
    ps_api = timed(api.ps, 50)
    ps_cli = timed(lambda: engine.daemon.docker("ps", "-q"), 10)
    sample = random.sample(ids, min(200, len(ids)))
    inspect = []
    for cid in sample:
        t0 = time.perf_counter()
        api.inspect(cid)
        inspect.append((time.perf_counter() - t0) * 1000)
    api.close()
    removed, rm_failed = remove_containers(engine, ids)
    for _, m in points:
        m["total_pss"] = m["engine_pss"] + m["monitors_pss"]
    # the loaded points only: the idle one follows whatever (a) left in the heap (dockerd's GC)
    fits = {key: fit([(n, m[key]) for n, m in points[1:]])
            for key in ("daemon_rss", "daemon_pss", "engine_pss", "monitors_pss", "total_pss")}
    return {"ids": ids, "points": points, "fits": fits, "failures": failures, "running": running,
            "start_rate": len(ids) / started, "ps_api": ps_api, "ps_cli": ps_cli, "inspect": inspect,
            "remove": removed, "rm_failed": rm_failed}


# ---------------------------------------------------------------------------
# (d) log followers
# ---------------------------------------------------------------------------


def phase_followers(engine: Engine, followers: int, containers: int, lines: int) -> dict:
    api = engine.api()
    script = f"sleep 3; i=1; while [ $i -le {lines} ]; do echo line $i; i=$((i+1)); sleep 0.1; done"
    ids = [api.create(["sh", "-c", script]) for _ in range(containers)]
    got: list[list[bytes]] = [[] for _ in range(followers)]
    errors: list[str] = []
    ready = threading.Barrier(followers + 1)

    def follow(i: int) -> None:
        cid = ids[i % containers]
        try:
            conn, resp = stream(engine.socket, f"/containers/{cid}/logs?follow=1&stdout=1&stderr=1")
        except (OSError, ApiError) as exc:
            errors.append(str(exc))
            ready.wait()
            return
        ready.wait()
        try:
            for payload in log_frames(resp):
                got[i].append(payload)
        except OSError as exc:
            errors.append(str(exc))
        finally:
            conn.close()

    start = time.perf_counter()
    for cid in ids:  # a follower of a container not running returns at once (moby's too): start first
        api.start(cid)
    threads = [threading.Thread(target=follow, args=(i,), daemon=True) for i in range(followers)]
    for t in threads:
        t.start()
    ready.wait()
    for t in threads:
        t.join(60 + lines * 0.5)
    took = time.perf_counter() - start
    expected = b"".join(b"line %d\n" % n for n in range(1, lines + 1))
    complete = sum(1 for chunks in got if b"".join(chunks) == expected)
    hung = sum(1 for t in threads if t.is_alive())
    for cid in ids:
        api.remove(cid)
    api.close()
    return {"complete": complete, "followers": followers, "errors": len(errors), "hung": hung, "took": took,
            "example": errors[:2]}


# ---------------------------------------------------------------------------
# (e) restart storm
# ---------------------------------------------------------------------------


def expected_starts(duration: float, run_cost: float) -> int:
    """Starts moby's backoff allows in ``duration`` s, each run (exit + restart work) costing ``run_cost`` s."""
    t, delay, starts = run_cost, BACKOFF_START, 1
    while True:
        t += delay + run_cost
        if t > duration:
            return starts
        starts += 1
        delay = min(delay * 2, BACKOFF_MAX)


def phase_storm(engine: Engine, watcher: EventWatcher, duration: float) -> dict:
    api = engine.api()
    cid = api.create(["false"], restart="always")
    ticks0, t0 = engine.cpu_ticks(), time.monotonic()
    api.start(cid)
    time.sleep(duration)
    cpu = (engine.cpu_ticks() - ticks0) / TICK / (time.monotonic() - t0) * 100
    restarts = api.inspect(cid)["RestartCount"]
    api.remove(cid)
    api.close()
    seen = watcher.events.get(cid, [])
    starts = [t for a, t in seen if a == "start"]
    dies = [t for a, t in seen if a == "die"]
    gaps = [(s - d) / 1e9 for d, s in zip(dies, starts[1:])]
    runs = [(d - s) / 1e9 for s, d in zip(starts, dies)]
    run_cost = statistics.median(runs) if runs else 0.05
    backoff = [min(BACKOFF_START * 2 ** k, BACKOFF_MAX) for k in range(len(gaps))]
    early = sum(1 for g, b in zip(gaps, backoff) if g < b * 0.95)
    return {"restarts": restarts, "starts": len(starts), "gaps": gaps, "early": early, "cpu": cpu,
            "expected": expected_starts(duration, run_cost) - 1}


# ---------------------------------------------------------------------------
# reporting
# ---------------------------------------------------------------------------


def run_engine(engine: Engine, opts, count: int) -> dict:
    print(f"== {engine.name}", flush=True)
    pinger = Pinger(engine)
    watcher = EventWatcher(engine)
    slow = EventWatcher(engine, slow=0.002)
    for t in (pinger, watcher, slow):
        t.start()
    watcher.ready.wait(30)
    slow.ready.wait(30)
    res: dict = {}

    pinger.phase = "a"
    a = res["a"] = phase_runs(engine, opts.clients)
    print(f"(a) {opts.clients} concurrent docker run --rm: wall {a['wall']:.1f} s, per run p50 {a['p50']:.0f} ms, "
          f"p99 {a['p99']:.0f} ms, failures {a['failures']}, containers left {a['left']}")
    for text, n in a["errors"]:
        print(f"    {n}x {text}")
    print(f"    {pinger.report('a')}", flush=True)

    pinger.phase = "b"
    b = res["b"] = phase_many(engine, count)
    print(f"(b) {count} running (--network none): started {len(b['ids'])} at {b['start_rate']:.1f}/s, "
          f"failures {len(b['failures'])}, ps listed {b['running']}")
    for text, n in collections.Counter(b["failures"]).most_common(3):
        print(f"    {n}x {text[:200]}")
    print("    running   daemon RSS   daemon PSS   engine PSS  monitors PSS  threads   fds  (KiB)")
    for n, m in b["points"]:
        print(f"    {n:7d} {m['daemon_rss']:12d} {m['daemon_pss']:12d} {m['engine_pss']:12d} "
              f"{m['monitors_pss']:13d} {m['threads']:8d} {m['fds']:5d}")
    for key, label in (("daemon_rss", "daemon RSS"), ("daemon_pss", "daemon PSS"),
                       ("engine_pss", "daemon+helpers PSS"), ("monitors_pss", "monitors' PSS"),
                       ("total_pss", "all of the engine PSS")):
        slope, icpt, r2 = b["fits"][key]
        print(f"    {label:<20} {slope:8.1f} KiB per container (intercept {icpt:.0f} KiB, r^2 {r2:.3f})")
    print(f"    GET /containers/json   p50 {pct(b['ps_api'], 50):6.1f} ms  p99 {pct(b['ps_api'], 99):6.1f} ms")
    print(f"    docker ps -q (CLI)     p50 {pct(b['ps_cli'], 50):6.1f} ms  max {max(b['ps_cli']):6.1f} ms")
    print(f"    GET /containers/{{id}}/json p50 {pct(b['inspect'], 50):6.1f} ms  p99 {pct(b['inspect'], 99):6.1f} ms")
    print(f"    rm -f of all: {b['remove']:.1f} s, failures {b['rm_failed']}")
    print(f"    {pinger.report('b')}", flush=True)

    pinger.phase = "c"
    cids = b["ids"] + []
    # (a)'s containers: every id the watcher saw created during (a) that is not (b)'s
    runs_ids = [c for c in watcher.events if c not in set(b["ids"])]
    cids = runs_ids + b["ids"]
    watcher.wait_for(cids, "destroy", 60)
    slow.wait_for(cids, "destroy", 120)
    res["c"] = {}
    for name, w in (("subscriber", watcher), ("slow subscriber", slow)):
        lost, dup, disorder, bad = w.check(cids)
        res["c"][name] = (lost, dup, disorder)
        print(f"(c) events, {name}: {len(cids)} containers ({len(runs_ids)} of (a)), {w.count} events: "
              f"lost {lost}, duplicated {dup}, out of order {disorder}{'; ' + w.error if w.error else ''}")
        for text in bad:
            print(f"    {text}")

    pinger.phase = "d"
    d = res["d"] = phase_followers(engine, opts.followers, max(1, opts.followers // 5), opts.lines)
    print(f"(d) {d['followers']} log followers of {max(1, opts.followers // 5)} containers, {opts.lines} lines each: "
          f"{d['complete']} got every line, errors {d['errors']}, hung {d['hung']}, {d['took']:.1f} s")
    for text in d["example"]:
        print(f"    {text}")
    print(f"    {pinger.report('d')}", flush=True)

    pinger.phase = "e"
    e = res["e"] = phase_storm(engine, watcher, opts.storm)
    gaps = ", ".join(f"{g:.2f}" for g in e["gaps"][:10])
    print(f"(e) restart storm, --restart always of `false`, {opts.storm:.0f} s: {e['restarts']} restarts "
          f"(moby's backoff allows about {e['expected']}), daemon CPU {e['cpu']:.1f}% of a core")
    print(f"    gaps die -> start (s): {gaps}; shorter than the backoff: {e['early']}")
    print(f"    {pinger.report('e')}", flush=True)

    for t in (watcher, slow):
        t.stop()
    pinger.stopping.set()
    pinger.join()
    res["ping"] = {k: pct(v, 99) for k, v in pinger.samples.items()}
    res["ping_failures"] = pinger.failures
    return res


def compare(b: dict, p: dict, opts) -> None:
    print("== barge / dockerd")
    print(f"(a) wall {b['a']['wall']:.1f} s vs {p['a']['wall']:.1f} s{ratio(b['a']['wall'], p['a']['wall'])}; "
          f"p50 {b['a']['p50']:.0f} vs {p['a']['p50']:.0f} ms{ratio(b['a']['p50'], p['a']['p50'])}")
    bb, pb = b["b"], p["b"]
    print(f"(b) at {len(bb['ids'])} (barge) and {len(pb['ids'])} (dockerd) running:")
    for key, label in (("daemon_rss", "daemon RSS per container"), ("monitors_pss", "monitor/shim PSS per container"),
                       ("total_pss", "engine PSS per container")):
        print(f"    {label:<32} {bb['fits'][key][0]:8.1f} vs {pb['fits'][key][0]:8.1f} KiB"
              f"{ratio(bb['fits'][key][0], pb['fits'][key][0])}")
    print(f"    GET /containers/json p50     {pct(bb['ps_api'], 50):8.1f} vs {pct(pb['ps_api'], 50):8.1f} ms"
          f"  (different counts: barge {len(bb['ids'])}, peer {len(pb['ids'])})")
    print(f"    docker ps p50                {pct(bb['ps_cli'], 50):8.1f} vs {pct(pb['ps_cli'], 50):8.1f} ms")
    print(f"    inspect p50                  {pct(bb['inspect'], 50):8.1f} vs {pct(pb['inspect'], 50):8.1f} ms"
          f"{ratio(pct(bb['inspect'], 50), pct(pb['inspect'], 50))}")
    print(f"(e) restarts in {opts.storm:.0f} s: {b['e']['restarts']} vs {p['e']['restarts']}; "
          f"CPU {b['e']['cpu']:.1f}% vs {p['e']['cpu']:.1f}%")
    print("_ping p99 per phase (ms): " + ", ".join(
        f"{k} {b['ping'].get(k, 0):.1f} vs {p['ping'].get(k, 0):.1f}" for k in "abde"))


def targets(b: dict) -> None:
    bb = b["b"]
    ps = pct(bb["ps_cli"], 50)
    ping = max(b["ping"].get(k, 0) for k in "abde")
    c = b["c"]["subscriber"]
    slow = b["c"]["slow subscriber"]
    print("== targets (issue 13)")
    print(f"  docker ps with {len(bb['ids'])} running <= 50 ms: {ps:.1f} ms, {'met' if ps <= 50 else 'NOT met'}")
    print(f"  _ping p99 <= 50 ms in every phase: worst {ping:.1f} ms, {'met' if ping <= 50 else 'NOT met'}"
          f" (failed pings {b['ping_failures']})")
    print(f"  events: lost {c[0]}, duplicated {c[1]}, out of order {c[2]} (slow subscriber: {slow[0]}, {slow[1]}, "
          f"{slow[2]}): {'met' if not any(c + slow) else 'NOT met'}")
    print(f"  daemon RSS per container: {bb['fits']['daemon_rss'][0]:.1f} KiB (r^2 {bb['fits']['daemon_rss'][2]:.3f}); "
          f"monitors {bb['fits']['monitors_pss'][0]:.0f} KiB PSS each")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200, help="(a) concurrent docker run --rm")
    parser.add_argument("--containers", type=int, default=1000, help="(b) containers running at once")
    parser.add_argument("--peer-containers", type=int, default=200, help="(b) on dockerd")
    parser.add_argument("--followers", type=int, default=100, help="(d) log followers (5 per container)")
    parser.add_argument("--lines", type=int, default=30, help="(d) lines each container prints")
    parser.add_argument("--storm", type=float, default=20.0, help="(e) seconds of restart storm")
    parser.add_argument("--no-peer", action="store_true", help="barge only")
    parser.add_argument("--driver", default=None)
    opts = parser.parse_args()
    if DOCKER is None:
        print("the docker CLI is needed (phase (a), docker ps)")
        return 2

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the daemons are stopped and cleaned up on the way out
    with tempfile.TemporaryDirectory(prefix="barge-bench-", dir="/var/tmp") as tmp:
        barge, peer = with_busybox(Path(tmp), opts.driver)
        if opts.no_peer and peer:
            peer.stop()
            peer = None
        try:
            b = run_engine(Engine("barge", barge, "barge_exec_native"), opts, opts.containers)
            p = run_engine(Engine("dockerd (peer)", peer, "containerd-shim"), opts,
                           min(opts.containers, opts.peer_containers)) if peer else None
        finally:
            if peer:
                peer.stop()
            barge.stop()
        if p:
            compare(b, p, opts)
        targets(b)
    return 0


if __name__ == "__main__":
    sys.exit(main())
