"""Daemons the benchmarks start for themselves: barge, and dockerd as the peer.

Each gets its own data root, exec root and socket under a scratch directory,
so a benchmark never touches a daemon the user runs.

barge always gets networking of its own: the default bridge `btbargeb0`
(10.251.0.1/24), the nft table `barge_test_bench`, `--dns 127.0.0.1` (no
query leaves the machine); `stop()` removes the bridge and the table, which
a daemon leaves behind on purpose (as docker0 stays).

dockerd is started by default with networking left alone (no bridge, no
iptables, no forwarding changes: `containers.py` compares `--network none`
starts). `Dockerd(root, networking=True)` (for `network.py`) gives it a
bridge `btdockb0` (10.252.0.1/24) that the benchmark creates and passes
with `-b`, and its default iptables, forwarding, masquerade and userland
proxy. dockerd writes to iptables (here iptables-nft) and leaves its chains
and rules when it stops, so `FirewallGuard` records the firewall first and,
after the stop, removes exactly what dockerd added: its rules in the
built-in chains, the DOCKER* chains, the tables it made if they are left
empty, the FORWARD policy and `ip_forward` as they were.
"""

from __future__ import annotations

import ipaddress
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


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


def _check_subnet_free(cidr: str) -> None:
    """Refuse to start when the benchmark's subnet is already routed here (another
    benchmark still running, or a network of the host's)."""
    net = ipaddress.ip_interface(cidr).network
    for line in _run("ip", "-4", "route", "show", "table", "all").stdout.splitlines():
        dest = line.split()[0] if line else ""
        if dest in ("default", "local", "broadcast", "unreachable", "blackhole", "prohibit"):
            dest = line.split()[1] if len(line.split()) > 1 else ""
        try:
            if ipaddress.ip_network(dest, strict=False).overlaps(net):
                raise SystemExit(f"{cidr} overlaps the route {line!r}: another benchmark running?")
        except ValueError:
            continue


def _link_exists(name: str) -> bool:
    return _run("ip", "link", "show", "dev", name).returncode == 0


class Barge(Daemon):
    name = "barge"
    #: The default bridge, its subnet, the pool for user networks, and the nft table (test names: bt*, barge_test_*).
    bridge = "btbargeb0"
    bip = "10.251.0.1/24"
    pool = "base=10.251.16.0/20,size=24"
    table = "barge_test_bench"

    def __init__(self, root: Path, driver: str | None = None):
        self.driver = driver
        if _link_exists(self.bridge):
            raise SystemExit(f"{self.bridge} exists: another benchmark running, or a leftover (ip link del it)")
        _check_subnet_free(self.bip)
        super().__init__(root)
        self.cli_env = dict(self.env, BARGE_HOST=self.url)

    def command(self) -> list[str]:
        args = [
            str(BIN / "barge"), "daemon",
            "--config-file", str(self.root / "none.toml"),
            "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "run"),
            "-H", self.url, "--pidfile", str(self.root / "barge.pid"),
            "--bridge", self.bridge, "--bip", self.bip, "--default-address-pool", self.pool,
            "--network-opt", f"bridge.table={self.table}", "--dns", "127.0.0.1",
        ]
        return args + (["--storage-driver", self.driver] if self.driver else [])

    def stop(self) -> None:
        """Stop, then drop the default bridge and the table (a daemon leaves them, as dockerd leaves docker0)."""
        super().stop()
        _run("ip", "link", "del", self.bridge)
        _run("nft", "delete", "table", "ip", self.table)

    def cli(self, *args: str, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "barge"), *args], env=self.cli_env, capture_output=True, check=check,
                              input=input)


class FirewallGuard:
    """What dockerd's iptables use changes on the host, recorded before and undone after.

    dockerd (iptables=true) adds, in iptables' `filter` and `nat` tables, the
    chains DOCKER, DOCKER-USER, DOCKER-ISOLATION-STAGE-1/2, jumps to them
    from FORWARD, PREROUTING, OUTPUT, and rules naming its bridge or subnet
    (MASQUERADE, ACCEPT); it may set FORWARD's policy to DROP when it had to
    switch ip_forward on. With iptables-nft those tables are nft tables `ip
    filter` / `ip nat`, created when missing. None of it is removed when
    dockerd stops.
    """

    TABLES = ("filter", "nat")

    def __init__(self, bridge: str, subnet: str):
        self.bridge = bridge
        self.subnet = subnet
        #: addresses in the subnet as iptables prints them (10.252.0.2/32 in per-port rules)
        self.prefix = subnet.rsplit(".", 1)[0] + "."
        self.nft_tables = self._nft_tables()
        self.rules = {t: set(self._rules(t)) for t in self.TABLES}
        self.forward_policy = self._policy("filter", "FORWARD")
        self.ip_forward = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()

    @staticmethod
    def _nft_tables() -> set[str]:
        return {line.strip() for line in _run("nft", "list", "tables").stdout.splitlines() if line.strip()}

    @staticmethod
    def _rules(table: str) -> list[str]:
        return [line for line in _run("iptables", "-w", "-t", table, "-S").stdout.splitlines() if line]

    def _policy(self, table: str, chain: str) -> str | None:
        for line in self._rules(table):
            parts = line.split()
            if parts[:2] == ["-P", chain]:
                return parts[2]
        return None

    def _ours(self, rule: str) -> bool:
        return "DOCKER" in rule or self.bridge in rule or self.prefix in rule

    def restore(self) -> list[str]:
        """Undo dockerd's changes; returns what was left that this could not explain (empty: clean)."""
        for table in self.TABLES:
            rules = self._rules(table)
            for rule in rules:  # rules in the built-in chains first, then the chains themselves
                parts = rule.split()
                if parts[0] == "-A" and not parts[1].startswith("DOCKER") and rule not in self.rules[table] \
                        and self._ours(rule):
                    _run("iptables", "-w", "-t", table, "-D", *parts[1:])
            chains = [r.split()[1] for r in rules if r.startswith("-N DOCKER") and r not in self.rules[table]]
            for chain in chains:
                _run("iptables", "-w", "-t", table, "-F", chain)
            for chain in chains:
                _run("iptables", "-w", "-t", table, "-X", chain)
        if self.forward_policy and self._policy("filter", "FORWARD") != self.forward_policy:
            _run("iptables", "-w", "-t", "filter", "-P", "FORWARD", self.forward_policy)
        Path("/proc/sys/net/ipv4/ip_forward").write_text(self.ip_forward)
        for table in self._nft_tables() - self.nft_tables:  # made by iptables-nft for dockerd: drop if empty now
            family, name = table.split()[1:3]
            if family == "ip" and name in self.TABLES and all(
                    r.startswith("-P") and r.endswith("ACCEPT") for r in self._rules(name)):
                _run("nft", "delete", "table", family, name)
        left = []
        for table in self.TABLES:
            left += [f"{table}: {r}" for r in self._rules(table) if r not in self.rules[table]]
        left += [f"nft: {t}" for t in self._nft_tables() - self.nft_tables if "barge_test_" not in t]
        return left


class Dockerd(Daemon):
    """The peer: Debian's dockerd (with its own containerd), networking untouched unless asked."""

    name = "dockerd"
    bridge = "btdockb0"
    bip = "10.252.0.1/24"

    @staticmethod
    def available() -> str | None:
        """None when dockerd can run here, else why not."""
        if DOCKER is None:
            return "the docker CLI is not installed"
        if shutil.which("dockerd") is None:
            return "dockerd is not installed (apt-get install docker.io)"
        return None

    #: Made by dockerd/containerd whatever their roots (plugin sockets, shim sockets): removed after, if they
    #: were not there before and hold no file.
    HOST_DIRS = (Path("/run/docker"), Path("/run/containerd"))

    def __init__(self, root: Path, networking: bool = False):
        self.networking = networking
        self.guard: FirewallGuard | None = None
        self.new_dirs = [d for d in self.HOST_DIRS if not d.exists()]
        if networking:
            if _link_exists(self.bridge):
                raise SystemExit(f"{self.bridge} exists: another benchmark running, or left over")
            _check_subnet_free(self.bip)
            self.guard = FirewallGuard(self.bridge, str(ipaddress.ip_interface(self.bip).network))
            # -b and --bip exclude each other in dockerd: it takes the subnet from the bridge's address.
            _run("ip", "link", "add", self.bridge, "type", "bridge")
            _run("ip", "addr", "add", self.bip, "dev", self.bridge)
            _run("ip", "link", "set", self.bridge, "up")
        try:
            super().__init__(root)
        except BaseException:
            self._cleanup_network()
            raise

    def command(self) -> list[str]:
        if self.networking:
            net = [f"--bridge={self.bridge}", "--iptables=true", "--ip6tables=false", "--ip-forward=true",
                   "--ip-masq=true", "--userland-proxy=true", "--dns", "127.0.0.1"]
        else:
            net = ["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
                   "--ip-masq=false", "--userland-proxy=false"]
        return [
            "dockerd",
            "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
            "-H", self.url, "--pidfile", str(self.root / "dockerd.pid"),
            *net, "--storage-driver=overlay2",
            "--containerd-namespace", "barge-bench", "--containerd-plugins-namespace", "barge-bench-plugins",
        ]

    def stop(self) -> None:
        super().stop()
        self._cleanup_network()
        for top in self.new_dirs:
            if top.is_dir() and all(p.is_dir() and not p.is_symlink() for p in top.rglob("*")):
                shutil.rmtree(top)

    def _cleanup_network(self) -> None:
        if not self.networking:
            return
        _run("ip", "link", "del", self.bridge)
        if self.guard:
            left = self.guard.restore()
            self.guard = None
            if left:
                print("dockerd left in the firewall (remove by hand):", *left, sep="\n  ", file=sys.stderr)


def with_busybox(root: Path, driver: str | None, networking: bool = False) -> tuple["Barge", "Dockerd | None"]:
    """barge with the busybox image, and dockerd with the same image when it is installed
    (otherwise None, with the reason printed). The caller stops both."""
    barge = Barge(root / "barge", driver)
    barge.cli("mkimage", "busybox")
    why = Dockerd.available()
    if why is not None:
        print(f"peer: {why}; its figures are left out")
        return barge, None
    try:
        peer = Dockerd(root / "dockerd", networking=networking)
        peer.docker("load", input=barge.cli("save", "busybox").stdout)
    except BaseException:
        barge.stop()
        raise
    return barge, peer


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
