#!/usr/bin/env python3
"""Benchmark: importing a ~200 MB multi-file layer tar, against GNU tar -x.

Prints, for the same file in the same run:
  * GNU `tar -xf` into an empty directory (the peer);
  * barge's layer apply in-process (`barge.archive.apply_layer`, what the
    graph driver runs for every layer);
  * `barge import` end to end: the CLI streams the file to a daemon started
    here (its own data root and socket), which hashes, unpacks into the graph
    driver and records the image.
Each figure is the median of --runs rounds, with MB/s and the ratio to tar.
The three are run in turn within each round (after a sync and a pause), so
that the disk's writeback state - which on this VM swings a run between 0.5
and 2 s - weighs on all of them alike.
Run: `make bench` or `.venv/bin/python bench/import_layer.py [--driver vfs]`.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from daemons import Barge  # noqa: E402


def make_layer(path: Path, total_mb: int = 200, seed: int = 42) -> Path:
    """A deterministic layer: ~60% of the bytes in a few big files, the rest in
    thousands of small ones spread over nested directories, plus symlinks."""
    if path.exists():
        return path
    rng = random.Random(seed)
    tmp = path.with_suffix(".part")
    block = rng.randbytes(1 << 20)
    total = total_mb << 20
    written = 0
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tf:
        def add_dir(name):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            tf.addfile(info)

        def add_file(name, size):
            nonlocal written
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = size, 0o644, 1_700_000_000
            reps, rest = divmod(size, len(block))
            data = block * reps + block[:rest]
            tf.addfile(info, _Bytes(data))
            written += size

        for d in range(40):
            add_dir(f"usr/lib/pkg{d:02d}")
            for s in range(5):
                add_dir(f"usr/lib/pkg{d:02d}/sub{s}")
        n = 0
        while written < total * 0.4:
            size = int(rng.lognormvariate(9.0, 1.2))  # ~8 KiB median
            add_file(f"usr/lib/pkg{n % 40:02d}/sub{n % 5}/file{n:05d}.so", min(size, 2 << 20))
            n += 1
        big = 0
        while written < total:
            add_file(f"usr/share/data/blob{big:02d}.bin", min(16 << 20, total - written))
            big += 1
        for i in range(200):
            info = tarfile.TarInfo(f"usr/lib/link{i:03d}.so")
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, f"pkg{i % 40:02d}/sub0", 1_700_000_000
            tf.addfile(info)
    tmp.rename(path)
    return path


class _Bytes:
    def __init__(self, data: bytes):
        self.data, self.pos = memoryview(data), 0

    def read(self, n=-1):
        end = len(self.data) if n is None or n < 0 else self.pos + n
        out = self.data[self.pos:end]
        self.pos += len(out)
        return bytes(out)


def settle() -> None:
    subprocess.run(["sync"], check=False)
    time.sleep(0.5)


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    return path


def run_gnu_tar(layer: Path, work: Path) -> float:
    target = fresh(work / "tar-x")
    settle()
    start = time.perf_counter()
    subprocess.run(["tar", "-xf", str(layer), "-C", str(target)], check=True)
    elapsed = time.perf_counter() - start
    shutil.rmtree(target)
    return elapsed


def run_apply(layer: Path, work: Path) -> float:
    from barge.archive import apply_layer

    target = fresh(work / "apply")
    settle()
    start = time.perf_counter()
    with open(layer, "rb") as fh:
        apply_layer(fh, target)
    elapsed = time.perf_counter() - start
    shutil.rmtree(target)
    return elapsed


def run_import(layer: Path, daemon: Barge) -> float:
    settle()
    start = time.perf_counter()
    daemon.cli("import", str(layer), "bench:latest")
    elapsed = time.perf_counter() - start
    daemon.cli("rmi", "bench:latest")
    return elapsed


def sha256_mbps() -> float:
    import hashlib

    data = bytes(64 << 20)
    start = time.perf_counter()
    hashlib.sha256(data).digest()
    return len(data) / (time.perf_counter() - start) / 1e6


def report(name: str, times: list[float], size: int, peer: float | None) -> None:
    med = statistics.median(times)
    mbps = size / med / 1e6
    ratio = f"{med / peer:5.2f}x tar" if peer else "   (peer)"
    print(f"  {name:<34} {med * 1000:8.1f} ms  {mbps:8.1f} MB/s  {ratio}   (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--driver", default=None, help="graph driver for the daemon (default: automatic)")
    parser.add_argument("--cache", type=Path, default=Path("/var/tmp/barge-bench"))
    parser.add_argument("--tmpfs", action="store_true",
                        help="unpack onto a tmpfs instead of the disk: leaves out the disk, shows the CPU cost")
    opts = parser.parse_args()

    opts.cache.mkdir(parents=True, exist_ok=True)
    layer = make_layer(opts.cache / f"layer-{opts.size_mb}mb.tar", opts.size_mb)
    size = layer.stat().st_size
    with tarfile.open(layer) as tf:
        members = sum(1 for _ in tf)
    print(f"layer: {layer} ({size / 1e6:.1f} MB, {members} entries), {opts.runs} runs each, median")
    print(f"sha256 on this CPU: {sha256_mbps():.0f} MB/s (an import must hash the layer for its diff ID; tar does not)")
    with tempfile.TemporaryDirectory(prefix="barge-bench-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        where = "a tmpfs" if opts.tmpfs else "the disk (/var/tmp)"
        if opts.tmpfs:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4g", "barge-bench", str(work)], check=True)
        print(f"unpacking onto {where}")
        try:
            times, driver = rounds(layer, work, opts)
        finally:
            if opts.tmpfs:
                subprocess.run(["umount", str(work)], check=True)
    peer = statistics.median(times["tar"])
    report("GNU tar -xf", times["tar"], size, None)
    report("barge apply_layer (in-process)", times["apply"], size, peer)
    report(f"barge import via daemon ({driver})", times["import"], size, peer)
    return 0


def rounds(layer: Path, work: Path, opts) -> tuple[dict[str, list[float]], str]:
    """Run tar, apply and import in turn, ``opts.runs`` times."""
    daemon = Barge(work / "daemon", opts.driver)
    times: dict[str, list[float]] = {"tar": [], "apply": [], "import": []}
    try:
        for _ in range(opts.runs):
            times["tar"].append(run_gnu_tar(layer, work))
            times["apply"].append(run_apply(layer, work))
            times["import"].append(run_import(layer, daemon))
        driver = daemon.cli("info", "--format", "{{.Driver}}").stdout.decode().strip()
    finally:
        daemon.stop()
    return times, driver


if __name__ == "__main__":
    sys.exit(main())
