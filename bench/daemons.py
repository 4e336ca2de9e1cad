"""Daemons the benchmarks start for themselves: barge, and dockerd as the peer.

Each gets its own data root, exec root and socket under a scratch directory,
so a benchmark never touches a daemon the user runs. dockerd is started with
networking left alone (no bridge, no iptables, no forwarding changes): the
benchmarks compare `--network none` starts.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
DOCKER = shutil.which("docker")


def _scrubbed_env() -> dict[str, str]:
    """The caller's environment without what would point the tools elsewhere, and
    without PYTHONDONTWRITEBYTECODE: a user's barge runs from compiled .pyc files,
    a session with that variable set would recompile every module on every call."""
    drop = ("DOCKER_DRIVER", "BARGE_GRAPH_DRIVER", "DOCKER_HOST", "BARGE_HOST", "DOCKER_API_VERSION",
            "PYTHONDONTWRITEBYTECODE")
    return {k: v for k, v in os.environ.items() if k not in drop}


class Daemon:
    """A daemon process answering on a unix socket; subclasses say how to start it."""

    name = "daemon"

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True)
        self.socket = self.root / f"{self.name}.sock"
        self.url = f"unix://{self.socket}"
        self.log = open(self.root / f"{self.name}.log", "wb")
        self.env = _scrubbed_env()
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)
        self.docker_env = dict(self.env, DOCKER_HOST=self.url, DOCKER_CONFIG=str(self.root / "docker-config"))
        self._wait_ready()

    def command(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _wait_ready(self, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited: {(self.root / f'{self.name}.log').read_text()[-2000:]}")
            if self.socket.exists() and self.docker("version", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise SystemExit(f"{self.name} did not come up")

    def docker(self, *args: str, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([DOCKER, *args], env=self.docker_env, capture_output=True, check=check, input=input)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Barge(Daemon):
    name = "barge"

    def __init__(self, root: Path, driver: str | None = None):
        self.driver = driver
        super().__init__(root)
        self.cli_env = dict(self.env, BARGE_HOST=self.url)

    def command(self) -> list[str]:
        args = [
            str(BIN / "barge"), "daemon",
            "--config-file", str(self.root / "none.toml"),
            "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "run"),
            "-H", self.url, "--pidfile", str(self.root / "barge.pid"),
        ]
        return args + (["--storage-driver", self.driver] if self.driver else [])

    def cli(self, *args: str, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "barge"), *args], env=self.cli_env, capture_output=True, check=check,
                              input=input)


class Dockerd(Daemon):
    """The peer: Debian's dockerd (with its own containerd), networking untouched."""

    name = "dockerd"

    @staticmethod
    def available() -> str | None:
        """None when dockerd can run here, else why not."""
        if DOCKER is None:
            return "the docker CLI is not installed"
        if shutil.which("dockerd") is None:
            return "dockerd is not installed (apt-get install docker.io)"
        return None

    def command(self) -> list[str]:
        return [
            "dockerd",
            "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
            "-H", self.url, "--pidfile", str(self.root / "dockerd.pid"),
            "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
            "--ip-masq=false", "--userland-proxy=false", "--storage-driver=overlay2",
            "--containerd-namespace", "barge-bench", "--containerd-plugins-namespace", "barge-bench-plugins",
        ]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pss_uss_kib(pid: int) -> tuple[int, int]:
    """(PSS, USS) in KiB from smaps_rollup."""
    pss = uss = 0
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key == "Pss":
                pss = int(rest.split()[0])
            elif key in ("Private_Clean", "Private_Dirty"):
                uss += int(rest.split()[0])
    return pss, uss


def descendants(pid: int) -> list[int]:
    """Every process whose ancestry reaches ``pid`` (found through /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
            except OSError:
                continue
    out = []
    for child in parents:
        p = child
        while p > 1:
            p = parents.get(p, 0)
            if p == pid:
                out.append(child)
                break
    return out


def pids_by_name(fragment: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if fragment.encode() in fh.read():
                        out.append(int(entry))
            except OSError:
                continue
    return out
