#!/usr/bin/env python3
"""Benchmark: the cost of network setup per container, and TCP throughput over the bridge.

Same run, same machine, same busybox image (`barge mkimage busybox`, loaded
into the peer with `docker load`), barge and dockerd each with a default
bridge of its own (see daemons.py):

  1. setup cost: `run --rm busybox true` on the default bridge minus
     `run --rm --network none busybox true`, with the docker CLI against
     barge and against dockerd (and the barge CLI against barge, for
     information). All six commands run in every round, in an order that
     rotates between rounds, so a noisy moment hits every variant alike.
     The added cost is the difference of the medians; the median of the
     per-round differences is printed beside it.
  2. TCP throughput host -> container: a container running a busybox sink
     (`nc -ll -e` forking `dd of=/dev/null` per connection) receives N MB
     that the benchmark sends with python sockets to the container's address
     on the bridge and to its published port on 127.0.0.1 (barge: DNAT in
     its nft table; dockerd: its default userland proxy). The references:
     the same python sender to a python receiver and to the same busybox
     sink (host's busybox) over loopback. One transfer = connect, send,
     half-close, wait for the receiver's close: every byte was consumed.

Run: `.venv/bin/python bench/network.py [--runs 15] [--mb 256] [--rounds 5]`.
Needs root (bridges, namespaces, firewall). dockerd (Debian's docker.io) is
used when installed; podman is not used (not installed on the project's
machine). Traffic goes only to loopback and to the benchmark's containers.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from daemons import Barge, Dockerd, with_busybox  # noqa: E402

SINK_PORT = 5001
#: one dd per connection: reads what arrives, throws it away, exits at EOF (closing the connection)
SINK = ["nc", "-ll", "-p", str(SINK_PORT), "-e", "sh", "-c", "exec dd bs=1M of=/dev/null 2>/dev/null"]
PY_SINK = r"""
import socket, sys
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(4)
print(srv.getsockname()[1], flush=True)
buf = bytearray(1 << 20)
while True:
    conn, _ = srv.accept()
    while conn.recv_into(buf):
        pass
    conn.close()
"""


def stats(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


# ---------------------------------------------------------------------------
# 1. setup cost
# ---------------------------------------------------------------------------


def setup_cost(barge: Barge, peer: Dockerd | None, runs: int) -> None:
    bridge = ("run", "--rm", "busybox", "true")
    none = ("run", "--rm", "--network", "none", "busybox", "true")
    variants = {
        ("docker -> barge", "bridge"): lambda: barge.docker(*bridge),
        ("docker -> barge", "none"): lambda: barge.docker(*none),
        ("barge CLI -> barge", "bridge"): lambda: barge.cli(*bridge),
        ("barge CLI -> barge", "none"): lambda: barge.cli(*none),
    }
    if peer:
        variants[("docker -> dockerd", "bridge")] = lambda: peer.docker(*bridge)
        variants[("docker -> dockerd", "none")] = lambda: peer.docker(*none)
    keys = list(variants)
    for key in keys * 2:  # warm-up: caches, the image's first mount, dockerd's first sandbox
        variants[key]()
    times: dict[tuple[str, str], list[float]] = {k: [] for k in keys}
    for r in range(runs):
        order = keys[r % len(keys):] + keys[:r % len(keys)]
        for key in order:
            start = time.perf_counter()
            variants[key]()
            times[key].append((time.perf_counter() - start) * 1000)

    print(f"run --rm busybox true: default bridge vs --network none ({runs} interleaved rounds, ms)")
    print(f"  {'':<22} {'bridge median':>14} {'none median':>12} {'added':>8} {'added, paired':>14}"
          f"   {'bridge min-max':>15}   {'none min-max':>15}")
    added = {}
    for who in dict.fromkeys(k[0] for k in keys):
        b, n = stats(times[(who, "bridge")]), stats(times[(who, "none")])
        paired = statistics.median(x - y for x, y in zip(times[(who, "bridge")], times[(who, "none")]))
        added[who] = b[0] - n[0]
        print(f"  {who:<22} {b[0]:14.1f} {n[0]:12.1f} {added[who]:8.1f} {paired:14.1f}"
              f"   {b[1]:6.1f}-{b[2]:<8.1f}   {n[1]:6.1f}-{n[2]:<8.1f}")
    if peer:
        ours, theirs = added["docker -> barge"], added["docker -> dockerd"]
        ratio = f"{ours / theirs:.2f}" if theirs > 0 else "n/a (peer adds nothing)"
        verdict = "yes" if ours <= theirs else "NO"
        print(f"  network setup added per container: barge {ours:.1f} ms, dockerd {theirs:.1f} ms;"
              f" ratio barge/dockerd {ratio}; barge <= dockerd: {verdict}")


# ---------------------------------------------------------------------------
# 2. throughput
# ---------------------------------------------------------------------------


def transfer(host: str, port: int, mb: int) -> float:
    """MB/s for sending ``mb`` MiB to host:port and seeing the receiver close."""
    chunk = memoryview(bytes(1 << 20))
    deadline = time.monotonic() + 10
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=30)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    with sock:
        start = time.perf_counter()
        for _ in range(mb):
            sock.sendall(chunk)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass
        return mb / (time.perf_counter() - start)


def wait_port(host: str, port: int, timeout: float = 10) -> None:
    """Until something accepts on host:port (a probe connection closed at once costs the sink one dd)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing answers on {host}:{port}")


def start_sink(daemon, name: str) -> tuple[str, int]:
    """A sink container publishing its port on 127.0.0.1 (random port): (its bridge address, the host port)."""
    daemon.docker("run", "-d", "--name", name, "-p", f"127.0.0.1::{SINK_PORT}", "busybox", *SINK)
    address = daemon.docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", name).stdout.decode().strip()
    mapping = daemon.docker("port", name, f"{SINK_PORT}/tcp").stdout.decode().split()[0]
    return address, int(mapping.rsplit(":", 1)[1])


def throughput(barge: Barge, peer: Dockerd | None, rounds: int, mb: int) -> None:
    targets: dict[str, tuple[str, int]] = {}
    procs = []
    try:
        py = subprocess.Popen([sys.executable, "-c", PY_SINK], stdout=subprocess.PIPE, text=True)
        procs.append(py)
        targets["loopback, python receiver"] = ("127.0.0.1", int(py.stdout.readline()))
        if shutil.which("busybox"):
            with socket.socket() as probe:  # a free port for the host's busybox sink
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            sink = [str(port) if a == str(SINK_PORT) else a for a in SINK]
            procs.append(subprocess.Popen(["busybox", *sink]))
            targets["loopback, busybox sink"] = ("127.0.0.1", port)
        address, port = start_sink(barge, "bench-sink")
        targets["barge: container IP"] = (address, SINK_PORT)
        targets["barge: 127.0.0.1 published"] = ("127.0.0.1", port)
        if peer:
            address, port = start_sink(peer, "bench-sink")
            targets["dockerd: container IP"] = (address, SINK_PORT)
            targets["dockerd: 127.0.0.1 published (proxy)"] = ("127.0.0.1", port)
        for host, port in targets.values():
            wait_port(host, port)
        keys = list(targets)
        for key in keys:  # warm-up
            transfer(*targets[key], max(8, mb // 8))
        rates: dict[str, list[float]] = {k: [] for k in keys}
        for r in range(rounds):
            for key in keys[r % len(keys):] + keys[:r % len(keys)]:
                rates[key].append(transfer(*targets[key], mb))
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        barge.docker("rm", "-f", "bench-sink", check=False)
        if peer:
            peer.docker("rm", "-f", "bench-sink", check=False)

    print(f"\nTCP host -> container, {mb} MiB per transfer ({rounds} interleaved rounds, MB/s, median)")
    ref = statistics.median(rates["loopback, python receiver"])
    bb = statistics.median(rates["loopback, busybox sink"]) if "loopback, busybox sink" in rates else None
    for key in keys:
        med, lo, hi = stats(rates[key])
        vs = f"  {med / ref:5.2f}x loopback(py)" + (f"  {med / bb:5.2f}x loopback(busybox)" if bb else "")
        print(f"  {key:<38} {med:8.0f} MB/s  (min {lo:.0f}, max {hi:.0f}){vs}")
    if peer:
        for what in ("container IP", "127.0.0.1 published"):
            ours = statistics.median(rates[f"barge: {what}"])
            theirs_key = next(k for k in keys if k.startswith(f"dockerd: {what}"))
            print(f"  ratio barge/dockerd, {what}: {ours / statistics.median(rates[theirs_key]):.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="rounds of the setup-cost commands")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of transfers")
    parser.add_argument("--mb", type=int, default=256, help="MiB per transfer")
    parser.add_argument("--driver", default=None)
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="barge-bench-", dir="/var/tmp") as tmp:
        root = Path(tmp)
        barge, peer = with_busybox(root, opts.driver, networking=True)
        try:
            if shutil.which("podman") is None:
                print("podman: not installed; left out")
            setup_cost(barge, peer, opts.runs)
            throughput(barge, peer, opts.rounds, opts.mb)
        finally:
            if peer:
                peer.stop()
            barge.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
