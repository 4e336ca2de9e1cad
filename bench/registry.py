#!/usr/bin/env python3
"""Benchmark: pull and push of a ~200 MB, 4-layer image over loopback, against dockerd and skopeo.

Same run, same registry (Debian's `docker-registry`, the CNCF distribution
server, on 127.0.0.1 and a free port, filesystem storage in a temp dir),
same image:

  * pull into an empty image store: `barge pull` (the barge CLI against a
    daemon started here), `docker pull` against a dockerd started here
    (overlay2), and `skopeo copy docker://... oci:<dir>` (downloads and
    verifies the blobs, unpacks nothing: the network-and-hash floor). For
    information, `barge pull` from barge's own registry server too. Before
    each pull the image is removed and its layers are checked gone from the
    graph driver's directory.
  * push to a registry that has nothing (a fresh `docker-registry` on a new
    port for every push, so no blob is skipped or mounted from elsewhere):
    `barge push`, `docker push`, `skopeo copy oci:<dir> docker://...` (the
    ready gzip blobs: no compression).

MB/s are of the image's compressed size as the source registry stores it
(the same bytes for every pull; for a push, each engine compresses the
layers itself, so the bytes it uploaded are printed beside it). Every
timed operation comes after a `sync` and a pause, the order rotates
between rounds, the figures are medians.

The image (built once, cached in /var/tmp/barge-bench/registry-image, an
OCI layout): 4 gzip layers (level 6, as Docker's own compression) of real
files copied from this machine's /usr (shared libraries, the python
standard library, /usr/share's docs, man pages, locales, icons...), each
filled until its compressed size reaches a quarter of the target.

Run: `.venv/bin/python bench/registry.py [--rounds 5] [--size-mb 200]`,
`--profile` to time barge's pull steps in-process (see the end of this file).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from daemons import Barge, Dockerd  # noqa: E402

CACHE = Path("/var/tmp/barge-bench")
#: where each layer's files come from, in order: binaries, then sources/bytecode, then mixed /usr/share
LAYER_TREES = (
    ("usr/lib/x86_64-linux-gnu",),
    ("usr/lib/python3.11", "usr/lib/python3", "usr/lib/gcc", "usr/lib/node_modules", "usr/lib/postgresql",
     "usr/lib/git-core"),
    ("usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/i18n", "usr/share/perl", "usr/share/vim"),
    ("usr/share/icons", "usr/share/fonts", "usr/share/mime", "usr/lib/llvm-14", "usr/lib/jvm"),
)
MTIME = 1_700_000_000
#: files larger than this are left out, so that no layer is a handful of huge libraries
BIG_FILE = 16 << 20
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


# ---------------------------------------------------------------------------
# the image
# ---------------------------------------------------------------------------


class _Counting:
    """A file object that hashes and counts what is written through it."""

    def __init__(self, raw):
        self.raw, self.sha, self.count = raw, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.sha.update(data)
        self.count += len(data)
        return self.raw.write(data)

    def tell(self) -> int:
        return self.count

    def flush(self) -> None:
        self.raw.flush()


def _layer(blobs: Path, trees: tuple[str, ...], budget: int) -> tuple[dict, str]:
    """One gzip layer of the files under ``trees`` (sorted walk) until ~``budget`` compressed
    bytes; returns (its OCI descriptor, its diff ID)."""
    part = blobs / "layer.part"
    with open(part, "wb") as raw:
        gz_out = _Counting(raw)
        with gzip.GzipFile(fileobj=gz_out, mode="wb", compresslevel=6, mtime=0) as gz:
            tar_out = _Counting(gz)
            with tarfile.open(fileobj=tar_out, mode="w", format=tarfile.PAX_FORMAT) as tf:
                seen_dirs: set[str] = set()

                def add(path: str, arc: str) -> None:
                    info = tf.gettarinfo(path, arc)
                    if info is None or not (info.isfile() or info.isdir() or info.issym()) \
                            or info.size > BIG_FILE:
                        return
                    info.uid = info.gid = 0
                    info.uname = info.gname = "root"
                    info.mtime = MTIME if info.isdir() else info.mtime
                    if info.isfile():
                        with open(path, "rb") as fh:
                            tf.addfile(info, fh)
                    else:
                        tf.addfile(info)

                def add_parents(arc: str) -> None:
                    parts = arc.split("/")
                    for i in range(1, len(parts)):
                        d = "/".join(parts[:i])
                        if d not in seen_dirs:
                            seen_dirs.add(d)
                            add("/" + d, d)

                for tree in trees:
                    for top, dirs, files in os.walk("/" + tree):
                        dirs.sort()
                        arc_top = top.lstrip("/")
                        add_parents(arc_top + "/x")
                        for name in sorted(files):
                            path = os.path.join(top, name)
                            try:
                                add(path, f"{arc_top}/{name}")
                            except OSError:
                                continue
                            if gz_out.count >= budget:
                                break
                        if gz_out.count >= budget:
                            break
                    if gz_out.count >= budget:
                        break
    digest = "sha256:" + gz_out.sha.hexdigest()
    part.rename(blobs / digest.split(":")[1])
    return {"mediaType": OCI_LAYER, "digest": digest, "size": gz_out.count}, "sha256:" + tar_out.sha.hexdigest()


def make_image(root: Path, size_mb: int) -> Path:
    """An OCI layout with tag `latest`: 4 gzip layers, ~``size_mb`` MB compressed in all."""
    if (root / "index.json").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    descs, diff_ids = [], []
    for trees in LAYER_TREES:
        desc, diff_id = _layer(blobs, trees, (size_mb << 20) // len(LAYER_TREES))
        descs.append(desc)
        diff_ids.append(diff_id)
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:20Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": f"bench layer {i}"} for i in range(4)],
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": _put(blobs, config), "size": len(config)},
        "layers": descs,
    }).encode()
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": _put(blobs, manifest), "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps(index))
    return root


def _put(blobs: Path, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (blobs / digest.split(":")[1]).write_bytes(data)
    return digest


def image_layers(layout: Path) -> list[dict]:
    index = json.loads((layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    return json.loads((layout / "blobs" / "sha256" / digest).read_bytes())["layers"]


# ---------------------------------------------------------------------------
# registries
# ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DockerRegistry:
    """Debian's docker-registry on 127.0.0.1:<free port>, storage in its own directory."""

    def __init__(self, root: Path):
        self.root = root
        self.storage = root / "storage"
        self.storage.mkdir(parents=True)
        for _ in range(5):
            self.port = free_port()
            (root / "config.yml").write_text(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {self.storage}\n  delete:\n    enabled: true\n"
                f"http:\n  addr: 127.0.0.1:{self.port}\n")
            self.log = open(root / "registry.log", "ab")
            self.proc = subprocess.Popen(["docker-registry", "serve", str(root / "config.yml")], stdout=self.log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if self._wait():
                self.host = f"127.0.0.1:{self.port}"
                return
            self.stop()  # the port was taken in between: another one
        raise SystemExit(f"docker-registry did not start: {(root / 'registry.log').read_text()[-2000:]}")

    def _wait(self, timeout: float = 20) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v2/", timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def stored_bytes(self) -> int:
        blobs = self.storage / "docker" / "registry" / "v2" / "blobs"
        return sum(p.stat().st_size for p in blobs.rglob("data")) if blobs.is_dir() else 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def skopeo(*args: str) -> None:
    subprocess.run(["skopeo", *args], check=True, capture_output=True)


# ---------------------------------------------------------------------------
# the engines: empty stores, pulls, pushes
# ---------------------------------------------------------------------------


def settle() -> None:
    """Let the disk write back the previous round's files, so each timing starts alike."""
    subprocess.run(["sync"], check=False)
    time.sleep(0.5)


def driver_layers(daemon) -> int:
    """Layer directories in the daemon's graph driver (its `l/` short-link dir aside)."""
    data = daemon.root / "data"
    top = data / "overlay2" if isinstance(daemon, Dockerd) else data / "graph" / daemon_driver(daemon)
    if not top.is_dir():
        return 0
    return sum(1 for p in top.iterdir() if p.is_dir() and p.name != "l")


def daemon_driver(daemon) -> str:
    if not hasattr(daemon, "_driver_name"):
        daemon._driver_name = daemon.docker("info", "--format", "{{.Driver}}").stdout.decode().strip()
    return daemon._driver_name


def empty_store(daemon) -> None:
    """Remove every image (and so every layer); fail loudly if a layer directory is left."""
    ids = daemon.docker("images", "-aq", "--no-trunc").stdout.decode().split()
    if ids:
        daemon.docker("rmi", "-f", *dict.fromkeys(ids))
    left = driver_layers(daemon)
    if left:
        raise SystemExit(f"{daemon.name}: {left} layer directories left after rmi: a pull would not start empty")


def timed(fn) -> float:
    settle()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def pull_ops(barge: Barge, peer: Dockerd | None, src: str, barge_src: str | None, layout: Path,
             work: Path) -> dict:
    """name -> (prepare, timed action, after): one pull into an empty store."""
    def skopeo_pull() -> None:
        skopeo("copy", "--src-tls-verify=false", f"docker://{src}", f"oci:{work / 'skopeo-pull'}:latest")

    def tar_xzf() -> None:
        (work / "tar").mkdir()
        for desc in image_layers(layout):
            subprocess.run(["tar", "-xzf", str(layout / "blobs" / "sha256" / desc["digest"].split(":")[1]),
                            "-C", str(work / "tar")], check=True)

    ops = {
        "barge pull": (lambda: empty_store(barge), lambda: barge.cli("pull", src), None),
    }
    if peer:
        ops["docker pull (dockerd)"] = (lambda: empty_store(peer), lambda: peer.docker("pull", src), None)
    ops["skopeo copy -> oci dir"] = (lambda: shutil.rmtree(work / "skopeo-pull", ignore_errors=True), skopeo_pull,
                                     lambda: shutil.rmtree(work / "skopeo-pull", ignore_errors=True))
    clean_tar = lambda: shutil.rmtree(work / "tar", ignore_errors=True)  # noqa: E731
    ops["GNU tar -xzf of the blobs"] = (clean_tar, tar_xzf, clean_tar)
    if barge_src:
        ops["barge pull (barge's registry)"] = (lambda: empty_store(barge), lambda: barge.cli("pull", barge_src),
                                                None)
    return ops


def push_once(who: str, barge: Barge, peer: Dockerd | None, src: str, layout: Path, work: Path,
              n: int) -> tuple[float, int]:
    """Push the image to a new, empty registry; returns (seconds, bytes it stored)."""
    reg = DockerRegistry(work / f"push-{n}")
    dst = f"{reg.host}/bench/push{n}:latest"
    try:
        if who == "barge push":
            have = barge.docker("images", "-q", src).stdout.strip()
            if not have:
                barge.cli("pull", src)
            barge.cli("tag", src, dst)
            seconds = timed(lambda: barge.cli("push", dst))
            barge.cli("rmi", dst)
        elif who == "docker push (dockerd)":
            if not peer.docker("images", "-q", src).stdout.strip():
                peer.docker("pull", src)
            peer.docker("tag", src, dst)
            seconds = timed(lambda: peer.docker("push", dst))
            peer.docker("rmi", dst)
        else:
            seconds = timed(lambda: skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:latest",
                                           f"docker://{dst}"))
        return seconds, reg.stored_bytes()
    finally:
        reg.stop()
        shutil.rmtree(reg.root, ignore_errors=True)


def stats(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def report(title: str, times: dict[str, list[float]], size: int, peer_key: str | None,
           stored: dict[str, list[int]] | None = None) -> None:
    print(title)
    peer = statistics.median(times[peer_key]) if peer_key and peer_key in times else None
    for key, values in times.items():
        med, lo, hi = stats(values)
        ratio = f"{peer / med:5.2f}x dockerd" if peer else ""  # throughput ratio: above 1 is faster
        if key == peer_key:
            ratio = "  (peer)    "
        extra = f"   uploaded {statistics.median(stored[key]) / 1e6:.1f} MB" if stored else ""
        print(f"  {key:<32} {med:7.2f} s  {size / med / 1e6:7.1f} MB/s  {ratio}"
              f"   (MB/s min {size / hi / 1e6:.1f}, max {size / lo / 1e6:.1f}){extra}")


def run(opts) -> int:
    layout = make_image(opts.cache / f"registry-image-{opts.size_mb}mb", opts.size_mb)
    layers = image_layers(layout)
    size = sum(d["size"] for d in layers)
    with tempfile.TemporaryDirectory(prefix="barge-bench-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        regs: list[DockerRegistry] = []
        barge_reg = None
        barge = peer = None
        try:
            reg = DockerRegistry(work / "registry")
            regs.append(reg)
            src = f"{reg.host}/bench/src:latest"
            skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:latest", f"docker://{src}")
            barge_src = None
            if not opts.no_barge_registry:
                from barge.registry.server.testing import start_registry

                (work / "barge-registry").mkdir()
                url, barge_reg = start_registry(work / "barge-registry")
                barge_src = f"{url.split('://', 1)[1]}/bench/src:latest"
                skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:latest", f"docker://{barge_src}")
            barge = Barge(work / "barge", opts.driver)
            why = Dockerd.available()
            if why is None:
                peer = Dockerd(work / "dockerd")
            else:
                print(f"peer: {why}; its figures are left out")
            sizes = ", ".join(f"{d['size'] / 1e6:.1f}" for d in layers)
            print(f"image: {layout} - {len(layers)} gzip layers, {size / 1e6:.1f} MB compressed ({sizes} MB)")
            print(f"registry: docker-registry (distribution) on {reg.host}; graph drivers: barge "
                  f"{daemon_driver(barge)}" + (f", dockerd {daemon_driver(peer)}" if peer else ""))

            pulls = pull_ops(barge, peer, src, barge_src, layout, work)
            for prepare, action, after in pulls.values():  # warm-up: page cache, first connections
                prepare()
                action()
                if after:
                    after()
            pull_times: dict[str, list[float]] = {k: [] for k in pulls}
            pushers = ["barge push"] + (["docker push (dockerd)"] if peer else []) + ["skopeo copy oci dir ->"]
            push_times: dict[str, list[float]] = {k: [] for k in pushers}
            pushed: dict[str, list[int]] = {k: [] for k in pushers}
            keys = list(pulls)
            n = 0
            for r in range(opts.rounds):
                for key in keys[r % len(keys):] + keys[:r % len(keys)]:
                    prepare, action, after = pulls[key]
                    prepare()
                    pull_times[key].append(timed(action))
                    if after:
                        after()
                if opts.no_push:
                    continue
                for who in pushers[r % len(pushers):] + pushers[:r % len(pushers)]:
                    n += 1
                    seconds, stored = push_once(who, barge, peer, src, layout, work, n)
                    push_times[who].append(seconds)
                    pushed[who].append(stored)
                print(f"  round {r + 1}/{opts.rounds} done", file=sys.stderr)
            peer_pull = "docker pull (dockerd)" if peer else None
            print()
            report(f"pull into an empty store, {opts.rounds} interleaved rounds, median "
                   f"(MB/s of the {size / 1e6:.1f} MB compressed image)", pull_times, size, peer_pull)
            if peer:
                ratio = statistics.median(pull_times[peer_pull]) / statistics.median(pull_times["barge pull"])
                print(f"  ratio barge/dockerd (throughput): {ratio:.2f}; barge >= dockerd: "
                      f"{'yes' if ratio >= 1 else 'NO'}")
            if not opts.no_push:
                print()
                report(f"push to an empty registry, {opts.rounds} interleaved rounds, median "
                       f"(MB/s of the {size / 1e6:.1f} MB compressed image)", push_times, size,
                       "docker push (dockerd)" if peer else None, pushed)
                if peer:
                    ratio = statistics.median(push_times["docker push (dockerd)"]) / \
                        statistics.median(push_times["barge push"])
                    print(f"  ratio barge/dockerd (throughput): {ratio:.2f}")
        finally:
            for daemon in (peer, barge):
                if daemon is not None:
                    try:
                        empty_store(daemon)
                    except (SystemExit, subprocess.CalledProcessError) as exc:
                        print(f"{daemon.name}: cleaning the store: {exc}", file=sys.stderr)
                    daemon.stop()
            for reg in regs:
                reg.stop()
            if barge_reg is not None:
                from barge.registry.server.testing import stop_registry

                stop_registry(barge_reg)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size-mb", type=int, default=200, help="compressed size of the image")
    parser.add_argument("--driver", default=None, help="barge's graph driver (default: the daemon's choice)")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--no-push", action="store_true")
    parser.add_argument("--no-barge-registry", action="store_true", help="leave out barge's own registry server")
    parser.add_argument("--profile", action="store_true", help="time barge's pull steps in-process instead")
    parser.add_argument("--cprofile", action="store_true", help="with --profile: one more pull under cProfile")
    opts = parser.parse_args()
    opts.cache.mkdir(parents=True, exist_ok=True)
    if opts.profile:
        return profile(opts)
    return run(opts)


# ---------------------------------------------------------------------------
# --profile: where barge's pull spends its time
# ---------------------------------------------------------------------------


class StepTimers:
    """Exclusive wall time per step: a wrapped call's time minus that of the wrapped calls
    it made in the same thread (so gunzip is not counted again inside tar apply)."""

    def __init__(self):
        self.total: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.local = threading.local()
        self.undo: list[tuple[object, str, object]] = []

    def wrap(self, owner, attr: str, step: str, clock=time.perf_counter) -> None:
        original = owner.__dict__[attr]
        timers = self

        @functools.wraps(original)
        def timed_call(*args, **kwargs):
            stack = timers.local.__dict__.setdefault("stack", [])
            stack.append(0.0)
            start = clock()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = clock() - start
                inner = stack.pop()
                timers.total[step] = timers.total.get(step, 0.0) + elapsed - inner
                timers.calls[step] = timers.calls.get(step, 0) + 1
                if stack:
                    stack[-1] += elapsed

        setattr(owner, attr, timed_call)
        self.undo.append((owner, attr, original))

    def restore(self) -> None:
        for owner, attr, original in reversed(self.undo):
            setattr(owner, attr, original)


def profile(opts) -> int:
    """Pull the image in-process with barge's Puller into a real ImageStore (the graph driver the
    daemon would pick), timing each step; the store is emptied between runs."""
    import cProfile
    import pstats

    from barge.archive.tarsplit import SplitRecorder
    from barge.config import DaemonConfig
    from barge.daemon.daemon import prepare_dirs
    from barge.engine.plugins import make_plugin_manager, register_driver, select_graph_driver
    from barge.graph import compression
    from barge.graph.layers import LayerStore
    from barge.graph.store import ImageStore
    from barge.reference import parse
    from barge.registry.auth import AuthConfig
    from barge.registry.client import Repository
    from barge.registry.endpoints import RegistryConfig
    from barge.registry.progress import Progress
    from barge.registry.pull import Puller

    layout = make_image(opts.cache / f"registry-image-{opts.size_mb}mb", opts.size_mb)
    layers = image_layers(layout)
    size = sum(d["size"] for d in layers)
    print(f"sha256 on this CPU: {sha256_mbps():.0f} MB/s; gunzip (python zlib) of the blobs: "
          f"{gunzip_mbps(layout, layers):.0f} MB/s of compressed bytes")
    with tempfile.TemporaryDirectory(prefix="barge-bench-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        reg = DockerRegistry(work / "registry")
        store = pm = None
        try:
            src = f"{reg.host}/bench/src:latest"
            skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:latest", f"docker://{src}")
            cfg = DaemonConfig(data_root=work / "data", exec_root=work / "run", graph_driver=opts.driver)
            prepare_dirs(cfg)
            selection = select_graph_driver(cfg)
            pm = make_plugin_manager()
            register_driver(pm, selection.plugin, "graph", selection.name)
            store = ImageStore(cfg.data_root / "barge.db", pm, selection.name)
            print(f"graph driver {selection.name}; tar skeletons (tar-split) recorded: {store.layers.keep_tars}")
            driver_cls = getattr(selection.plugin, "driver_class", None)

            def pull_once() -> float:
                puller = Puller(store, RegistryConfig(), work / "tmp", Progress(io.BytesIO()))
                settle()
                start = time.perf_counter()
                plan = puller.resolve(parse(src), AuthConfig(), "")
                puller.pull(plan)
                elapsed = time.perf_counter() - start
                store.delete(src, force=True)
                return elapsed

            for r in range(opts.rounds):
                timers = StepTimers()
                timers.wrap(Puller, "pull", "main thread: waiting for downloads, resolve, bookkeeping")
                timers.wrap(Repository, "fetch_blob", "download threads: HTTP read + blob sha256 + temp file")
                timers.wrap(LayerStore, "apply", "apply: driver create, pending row, other")
                timers.wrap(gzip.GzipFile, "read", "gunzip (zlib) + blob file read")
                timers.wrap(gzip.GzipFile, "read1", "gunzip (zlib) + blob file read")
                timers.wrap(SplitRecorder, "readinto", "tar-split recording")
                timers.wrap(SplitRecorder, "read", "tar-split recording")
                timers.wrap(compression.HashingReader, "readinto", "diff sha256: handing bytes to its thread")
                timers.wrap(compression.HashingReader, "read", "diff sha256: handing bytes to its thread")
                timers.wrap(compression.HashingReader, "_join", "diff sha256: waiting for its thread at the end")
                timers.wrap(compression.HashingReader, "_hash_loop", "(hash thread, parallel, CPU) diff sha256",
                            clock=time.thread_time)
                if driver_cls is not None and "apply_diff" in driver_cls.__dict__:
                    timers.wrap(driver_cls, "apply_diff", "tar apply: files, dirs, metadata (python + kernel)")
                timers.wrap(ImageStore, "add_pulled", "record: one SQLite transaction")
                timers.wrap(os, "fsync", "fsync")
                timers.wrap(os, "fdatasync", "fsync")
                cpu0, thread0 = os.times(), time.thread_time()
                try:
                    wall = pull_once()
                finally:
                    timers.restore()
                cpu1 = os.times()
                print(f"\nrun {r + 1}: pull {wall:.2f} s = {size / wall / 1e6:.1f} MB/s; process CPU user "
                      f"{cpu1.user - cpu0.user:.2f} s, sys {cpu1.system - cpu0.system:.2f} s "
                      f"(main thread {time.thread_time() - thread0:.2f} s)")
                for step, seconds in sorted(timers.total.items(), key=lambda kv: -kv[1]):
                    print(f"  {step:<62} {seconds:7.2f} s  ({timers.calls[step]} calls)")
            if opts.cprofile:
                prof = cProfile.Profile()
                prof.enable()
                wall = pull_once()
                prof.disable()
                print(f"\ncProfile of the main thread (pull {wall:.2f} s under the profiler), top by own time:")
                pstats.Stats(prof).sort_stats("tottime").print_stats(18)
        finally:
            if store is not None:
                for img in store.all_images():
                    store.delete(img.id, force=True)
                left = driver_dirs(work / "data")
                if left:
                    print(f"left in the graph driver: {left} layer directories", file=sys.stderr)
                store.close()
            if pm is not None:
                pm.hook.barge_graph_cleanup()
            reg.stop()
    return 0


def driver_dirs(data: Path) -> int:
    graph = data / "graph"
    return sum(1 for d in graph.glob("*/*") if d.is_dir() and d.name != "l") if graph.is_dir() else 0


def sha256_mbps() -> float:
    data = bytes(64 << 20)
    start = time.perf_counter()
    hashlib.sha256(data).digest()
    return len(data) / (time.perf_counter() - start) / 1e6


def gunzip_mbps(layout: Path, layers: list[dict]) -> float:
    path = layout / "blobs" / "sha256" / layers[0]["digest"].split(":")[1]
    start = time.perf_counter()
    with gzip.open(path, "rb") as fh:
        while fh.read(1 << 20):
            pass
    return layers[0]["size"] / (time.perf_counter() - start) / 1e6


if __name__ == "__main__":
    sys.exit(main())
