"""The chaos campaign: concurrent clients, a killer, and what must hold after every kill.

Shared by ``bench/chaos.py`` (the full run) and ``tests/chaos/test_chaos_short.py``
(the seeded short run in ``make test``); it lives beside ``daemons.py`` and
imports nothing of pytest, so both can use it.

A campaign starts its own barge daemon (own data root, exec root, socket,
bridge and nft table), makes busybox, pushes it to a ``docker-registry`` on
loopback (for pull), then runs rounds. In a round the clients (threads, each
with its own objects and a ledger of what the daemon acknowledged) do a
seeded random mix of operations; the killer SIGKILLs the daemon after a
seeded number of operations (a random moment: mid-request) and restarts it
on the same roots, or, in other rounds, SIGKILLs a random container's monitor
or the exec driver's spawner. Then, with the clients paused, it verifies:
``POST /system/check`` finds nothing; every acknowledged operation is
reflected (containers, their running state, files copied in, network
memberships, image tags, volumes, networks); every container the ledger says
runs answers logs, exec and attach; nothing leaked (mounts, cgroups, netns,
veths and bridges, nft rules, listening ports, state dirs). An operation
whose answer the kill cut off is not acknowledged: the ledger adopts what the
daemon says about it at the next verification.
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from apiclient import UnixConnection  # beside this module: bench/ is on the path of both users

BIN = Path(sys.executable).parent
REGISTRY = "/usr/bin/docker-registry"
#: A long-running container: an httpd for published ports, a tick a second for logs and attach; a stop
#: ends it at once (``wait`` returns on the trapped signal, where a foreground ``sleep`` would not).
LOOP = ["sh", "-c", "trap 'exit 0' TERM; httpd -p 80; while :; do echo tick; sleep 1 & wait $!; done"]
#: Per client, no more running containers than this (2 cores, a monitor each).
MAX_RUNNING = 3
#: Per client, no more user networks than this (the address pool is 64 networks).
MAX_NETWORKS = 4
#: Relative weights of the operations a client picks from.
WEIGHTS = {
    "run_d": 12, "run": 7, "exec": 10, "stop": 5, "start": 3, "rm": 8, "commit": 4, "save_load": 2,
    "image_rm": 3, "pull": 2, "build": 2, "net_create": 4, "net_connect": 5, "net_disconnect": 3,
    "net_rm": 3, "vol_create": 4, "vol_rm": 3, "cp": 6,
}


class Unacknowledged(Exception):
    """The daemon did not answer (it was killed, or is down): the operation's outcome is unknown."""


class Refused(Exception):
    """The daemon answered with an error where the ledger expected success."""


# ---------------------------------------------------------------------------
# talking to the daemon
# ---------------------------------------------------------------------------


class Api:
    """Plain HTTP over the daemon's unix socket; any transport failure is :class:`Unacknowledged`."""

    def __init__(self, socket_path: str):
        self.socket_path = socket_path

    def call(self, method: str, path: str, body: Any = None, headers: dict | None = None,
             timeout: float = 90) -> tuple[int, bytes]:
        headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        conn = UnixConnection(self.socket_path, timeout)
        try:
            conn.request(method, "/v1.43" + path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise Unacknowledged(f"{method} {path}: {exc!r}") from exc
        finally:
            conn.close()

    def ok(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201, 204),
           **kw) -> bytes:
        status, data = self.call(method, path, body, **kw)
        if status not in expect:
            raise Refused(f"{method} {path}: {status} {data[:300]!r}")
        return data

    def json(self, method: str, path: str, body: Any = None, **kw) -> Any:
        data = self.ok(method, path, body, **kw)
        return json.loads(data) if data else None

    def stream_ok(self, method: str, path: str, body: Any = None, **kw) -> None:
        """A JSON-lines progress stream (pull, build, load) that must end without an error entry."""
        data = self.ok(method, path, body, **kw)
        for line in data.splitlines():
            if line.strip().startswith(b"{") and (b'"errorDetail"' in line or b'"error"' in line):
                raise Refused(f"{method} {path}: {line[:300]!r}")

    def inspect(self, kind: str, ref: str) -> dict | None:
        status, data = self.call("GET", f"/{kind}/{ref}" + ("" if kind == "volumes" else "/json"))
        if status == 404:
            return None
        if status != 200:
            raise Refused(f"inspect {kind} {ref}: {status} {data[:300]!r}")
        return json.loads(data)

    def hijack_until(self, path: str, needle: bytes, body: bytes = b"", timeout: float = 15) -> bytes:
        """POST with an upgrade (attach, exec start); the stream read until ``needle`` or the timeout."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        out = b""
        try:
            sock.connect(self.socket_path)
            head = (f"POST /v1.43{path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
            sock.sendall(head.encode() + body)
            end = time.monotonic() + timeout
            while needle not in out and time.monotonic() < end:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                out += chunk
        except OSError as exc:
            raise Unacknowledged(f"POST {path}: {exc!r}") from exc
        finally:
            sock.close()
        return out


def tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def file_in_tar(data: bytes, name: str) -> bytes | None:
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = tar.extractfile(name)
            return member.read() if member else None
    except (tarfile.TarError, KeyError):
        return None


# ---------------------------------------------------------------------------
# the daemon and the registry
# ---------------------------------------------------------------------------


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


class ChaosDaemon:
    """A barge daemon on its own roots and networking, killed and restarted at will."""

    def __init__(self, root: Path, driver: str | None):
        self.root = root
        tag = hashlib.sha256(str(root).encode()).hexdigest()[:6]
        h = int(tag, 16)
        self.data_root = root / "data"
        self.exec_root = Path("/run") / f"bc-{tag}"  # a monitor's attach.sock path must fit 107 bytes
        self.socket = str(root / "barge.sock")
        self.bridge = f"bc{tag}0"
        self.table = f"barge_test_chaos_{tag}"
        self.bip = f"10.{200 + h % 50}.{(h >> 8) % 256}.1/24"
        self.pool = f"base=10.{100 + (h >> 12) % 100}.{(h >> 4) % 4 * 64}.0/18,size=24"
        self.driver = driver
        self.api = Api(self.socket)
        self.log_path = root / "daemon.log"
        self.proc: subprocess.Popen | None = None
        self.restarts: list[float] = []

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "barge.daemon.main", "--config-file", str(self.root / "none.toml"),
               "--data-root", str(self.data_root), "--exec-root", str(self.exec_root),
               "-H", "unix://" + self.socket, "--bridge", self.bridge, "--bip", self.bip,
               "--default-address-pool", self.pool, "--network-opt", f"bridge.table={self.table}",
               "--dns", "127.0.0.1"]
        return cmd + (["--storage-driver", self.driver] if self.driver else [])

    def start(self, timeout: float = 60) -> float:
        """Start (or restart on the same roots) and wait for /_ping; returns the seconds it took."""
        t0 = time.monotonic()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BARGE_", "DOCKER_"))}
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== chaos: daemon start at {time.strftime('%H:%M:%S')} ===\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited with {self.proc.returncode} at start:\n{self.log_tail()}")
            try:
                if self.api.call("GET", "/_ping", timeout=2)[0] == 200:
                    took = time.monotonic() - t0
                    self.restarts.append(took)
                    return took
            except Unacknowledged:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the daemon did not answer /_ping within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-n:]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self, timeout: float = 60) -> int | None:
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def spawner_pid(self) -> int | None:
        if not self.alive():
            return None
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmdline = fh.read()
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
            if b"barge_exec_native.spawner" in cmdline and ppid == self.proc.pid:
                return int(entry)
        return None

    def monitor_pid(self, cid: str) -> int | None:
        try:
            return int((self.exec_root / "containers" / cid / "monitor.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def cleanup_host(self) -> None:
        """What a daemon leaves on purpose (its default bridge, its table), and its roots."""
        _run("ip", "link", "del", self.bridge)
        _run("nft", "delete", "table", "inet", self.table)
        libc = ctypes.CDLL(None, use_errno=True)
        for root in (self.exec_root, self.root):
            for target in mounts_under(root):
                libc.umount2(target.encode(), 2)  # MNT_DETACH
            shutil.rmtree(root, ignore_errors=True)


class LocalRegistry:
    """Debian's ``docker-registry`` on 127.0.0.1:<free port>, for pull."""

    def __init__(self, root: Path):
        if not os.path.exists(REGISTRY):
            raise RuntimeError(f"{REGISTRY} missing (apt-get install docker-registry)")
        root.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        (root / "config.yml").write_text(
            "version: 0.1\nlog: {level: error}\n"
            f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, delete: {{enabled: true}}}}\n"
            f"http: {{addr: '{self.host}'}}\n")
        self._log = open(root / "registry.log", "wb")
        self.proc = subprocess.Popen([REGISTRY, "serve", str(root / "config.yml")], stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        end = time.monotonic() + 15
        while time.monotonic() < end and self.proc.poll() is None:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1).close()
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"docker-registry did not start: {(root / 'registry.log').read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# ---------------------------------------------------------------------------
# host state: what a daemon may leave behind
# ---------------------------------------------------------------------------


def mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    out = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            target = line.split()[4].encode().decode("unicode_escape")
            if target.startswith(prefix) or target == str(path):
                out.append(target)
    return sorted(out, key=len, reverse=True)


def mounts_elsewhere_of(root: Path) -> list[str]:
    """Mounts outside ``root`` made of what is inside it (an overlay view of its layers in /tmp)."""
    prefix = str(root).rstrip("/") + "/"
    out = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            target = fields[4].encode().decode("unicode_escape")
            if not target.startswith(prefix) and prefix in line.encode().decode("unicode_escape"):
                out.append(target)
    return out


def cgroups_of(cid: str) -> list[str]:
    base = Path("/sys/fs/cgroup")
    found = [str(p) for p in base.glob(f"*/barge/{cid}")]
    if (base / "barge" / cid).exists():
        found.append(str(base / "barge" / cid))
    return found


def links() -> dict[str, str | None]:
    """Every link's name and its master (bridge), from ``ip -j link``."""
    out = _run("ip", "-j", "link", "show").stdout
    return {link["ifname"]: link.get("master") for link in json.loads(out or "[]")}


def nft_rules(table: str) -> list[str]:
    out = _run("nft", "list", "table", "inet", table).stdout
    return [line.strip() for line in out.splitlines() if line.startswith("\t\t") and "type " not in line]


def listening_ports(pid: int) -> set[int]:
    """TCP ports a process listens on (the userland proxy of published ports)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return set()
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as fh:
            for line in list(fh)[1:]:
                f = line.split()
                if f[3] == "0A" and f[9] in inodes:
                    ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def port_answers(port: int, tries: int = 3) -> bool:
    """Whether the container's httpd answers through a published port (a machine busy with other
    suites may take a while: a few tries)."""
    for _ in range(tries):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/"):
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


# ---------------------------------------------------------------------------
# the ledger
# ---------------------------------------------------------------------------


@dataclass
class Ctr:
    """What the daemon acknowledged about one container; None: not known (an answer was cut off)."""
    name: str
    id: str | None = None
    exists: bool | None = True
    running: bool | None = False
    files: dict[str, bytes] = field(default_factory=dict)
    networks: dict[str, bool | None] = field(default_factory=dict)
    monitor_killed: bool = False
    published: bool = False
    verified_gone: bool = False


@dataclass
class Ledger:
    containers: dict[str, Ctr] = field(default_factory=dict)
    images: dict[str, bool | None] = field(default_factory=dict)
    volumes: dict[str, bool | None] = field(default_factory=dict)
    networks: dict[str, bool | None] = field(default_factory=dict)


@dataclass
class Figures:
    ops: int = 0
    acked: int = 0
    cut: int = 0
    by_op: dict[str, int] = field(default_factory=dict)
    daemon_kills: int = 0
    monitor_kills: int = 0
    spawner_kills: int = 0
    inconsistencies: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    torn_down: bool = False


# ---------------------------------------------------------------------------
# clients
# ---------------------------------------------------------------------------


class Client(threading.Thread):
    """One API client: a seeded stream of operations on its own objects, and its ledger."""

    def __init__(self, campaign: "Campaign", n: int, seed: int):
        super().__init__(name=f"chaos-client-{n}", daemon=True)
        self.c = campaign
        self.n = n
        self.rng = random.Random(seed)
        self.ledger = Ledger()
        self.lock = threading.Lock()  # held during one operation; the killer takes it to touch the ledger
        self.idle = threading.Event()
        self.counter = 0
        self.excuse = 0  # bumped by the killer when it kills a monitor of this client's

    def fresh(self, kind: str) -> str:
        self.counter += 1
        return f"chaos{self.n}-{kind}-{self.counter}"

    # -- the loop -----------------------------------------------------------------

    def run(self) -> None:
        c = self.c
        while not c.finished.is_set():
            self.idle.set()
            c.go.wait(0.2)
            if not c.go.is_set():
                continue
            self.idle.clear()  # then look again: the killer clears go before it waits for idle
            if not c.go.is_set() or c.killing.is_set() or not c.daemon.alive():
                continue
            op = self.pick()
            if op is None:
                continue
            epoch, excuse = c.epoch, self.excuse
            with self.lock:
                try:
                    op()
                    c.count(op.__name__[3:], acked=True)
                    if c.plan.verbose:
                        c.plan.log(f"  client {self.n}: {op.__name__[3:]} "
                                   f"{[o.name if isinstance(o, Ctr) else o[1] for o, _ in self._touched]}")
                except Unacknowledged as exc:
                    self._failed(op, exc, epoch, excuse)
                except Refused as exc:
                    self._failed(op, exc, epoch, excuse)

    def _failed(self, op: Callable, exc: Exception, epoch: int, excuse: int) -> None:
        c = self.c
        cut = c.epoch != epoch or self.excuse != excuse or not c.daemon.alive() or c.killing.is_set()
        c.count(op.__name__[3:], acked=False)
        if not cut:
            c.inconsistent(f"client {self.n}: {op.__name__[3:]} failed on a live daemon: {exc}")
        elif c.plan.verbose:
            c.plan.log(f"  (cut) client {self.n}: {op.__name__[3:]}: {str(exc)[:200]}")
        self.settle_unknown()

    def settle_unknown(self) -> None:
        """After a cut-off operation what it touched is unknown; the next verification adopts what is there."""
        for obj, may_be_gone in self._touched:
            if isinstance(obj, Ctr):
                if may_be_gone:
                    obj.exists = None
                obj.running = None
                for net in list(obj.networks):
                    obj.networks[net] = None
            else:
                table, key = obj
                table[key] = None

    def pick(self) -> Callable | None:
        self._touched: list = []
        names = list(WEIGHTS)
        op = self.rng.choices(names, [WEIGHTS[n] for n in names])[0]
        return getattr(self, "op_" + op)

    def touch(self, obj: Any, may_be_gone: bool = False) -> None:
        self._touched.append((obj, may_be_gone))

    # -- choosing objects ---------------------------------------------------------------

    def _ctrs(self, pred: Callable[[Ctr], bool]) -> list[Ctr]:
        return [x for x in self.ledger.containers.values() if x.exists and x.id and pred(x)]

    def _choice(self, items: list) -> Any:
        return self.rng.choice(items) if items else None

    def _own_images(self) -> list[str]:
        return sorted(t for t, ok in self.ledger.images.items() if ok and t.startswith(f"chaos{self.n}-"))

    # -- operations ---------------------------------------------------------------------

    def _create(self, cmd: list[str], publish: bool = False) -> Ctr:
        x = Ctr(self.fresh("ctr"), exists=None, running=None, published=publish)
        self.ledger.containers[x.name] = x
        self.touch(x)
        body: dict[str, Any] = {"Image": "busybox", "Cmd": cmd, "HostConfig": {}}
        if publish:
            body["ExposedPorts"] = {"80/tcp": {}}
            body["HostConfig"]["PortBindings"] = {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
        x.id = self.c.api.json("POST", f"/containers/create?name={x.name}", body)["Id"]
        x.exists, x.running = True, False
        self.c.seen.add(x.id)
        return x

    def op_run_d(self) -> None:
        if len(self._ctrs(lambda x: x.running is True)) >= MAX_RUNNING:
            return self.op_stop()
        x = self._create(LOOP, publish=self.rng.random() < 0.3)
        self.c.api.ok("POST", f"/containers/{x.id}/start")
        x.running = True

    def op_run(self) -> None:
        x = self._create(["sh", "-c", "echo ran; exit 0"])
        self.c.api.ok("POST", f"/containers/{x.id}/start")
        res = self.c.api.json("POST", f"/containers/{x.id}/wait")
        if res.get("StatusCode") != 0:
            raise Refused(f"run: exit {res}")
        x.running = False

    def op_start(self) -> None:
        if len(self._ctrs(lambda x: x.running is True)) >= MAX_RUNNING:
            return self.op_stop()
        x = self._choice(self._ctrs(lambda x: x.running is False and not x.monitor_killed))
        if x is None:
            return self.op_run_d()
        self.touch(x)
        self.c.api.ok("POST", f"/containers/{x.id}/start", expect=(204, 304))
        if self.c.api.json("GET", f"/containers/{x.id}/json")["Config"]["Cmd"] == LOOP:
            x.running = True
        else:  # a foreground container runs to its end again
            self.c.api.json("POST", f"/containers/{x.id}/wait")
            x.running = False

    def op_exec(self) -> None:
        x = self._choice(self._ctrs(lambda x: x.running is True and not x.monitor_killed))
        if x is None:
            return self.op_run_d()
        self.touch(x)
        eid = self.c.api.json("POST", f"/containers/{x.id}/exec",
                              {"AttachStdout": True, "AttachStderr": True, "Cmd": ["echo", "chaos-exec"]})["Id"]
        out = self.c.api.ok("POST", f"/exec/{eid}/start", {"Detach": False, "Tty": False}, expect=(200, 101))
        if b"chaos-exec" not in out:
            raise Refused(f"exec in {x.name}: output {out[:200]!r}")

    def op_stop(self) -> None:
        x = self._choice(self._ctrs(lambda x: x.running is True and not x.monitor_killed))
        if x is None:
            return self.op_run()
        self.touch(x)
        self.c.api.ok("POST", f"/containers/{x.id}/stop?t=2", expect=(204, 304))
        x.running = False

    def op_rm(self) -> None:
        x = self._choice(self._ctrs(lambda x: True))
        if x is None:
            return self.op_run()
        self.touch(x, may_be_gone=True)
        self.c.api.ok("DELETE", f"/containers/{x.id}?force=1&v=1")
        x.exists, x.running = False, False
        x.networks.clear()

    def op_commit(self) -> None:
        x = self._choice(self._ctrs(lambda x: True))
        if x is None:
            return self.op_run()
        tag = self.fresh("img").replace("-img-", "-img:")
        self.touch((self.ledger.images, tag))
        self.c.api.json("POST", f"/commit?container={x.id}&repo={tag.split(':')[0]}&tag={tag.split(':')[1]}")
        self.ledger.images[tag] = True

    def op_save_load(self) -> None:
        tag = self._choice(self._own_images())
        if tag is None:
            return self.op_commit()
        self.touch((self.ledger.images, tag))
        data = self.c.api.ok("GET", f"/images/get?names={tag}")
        self.c.api.ok("DELETE", f"/images/{tag}")
        self.ledger.images[tag] = False
        self.c.api.stream_ok("POST", "/images/load?quiet=1", data, headers={"Content-Type": "application/x-tar"})
        self.ledger.images[tag] = True

    def op_image_rm(self) -> None:
        tag = self._choice(self._own_images())
        if tag is None:
            return self.op_commit()
        self.touch((self.ledger.images, tag))
        self.c.api.ok("DELETE", f"/images/{tag}")
        self.ledger.images[tag] = False

    def op_pull(self) -> None:
        ref = self.c.pulled
        self.touch((self.ledger.images, ref))
        auth = base64.urlsafe_b64encode(b"{}").decode()
        self.c.api.stream_ok("POST", f"/images/create?fromImage={ref.rsplit(':', 1)[0]}&tag=latest",
                             headers={"X-Registry-Auth": auth})
        self.ledger.images[ref] = True

    def op_build(self) -> None:
        tag = self.fresh("built").replace("-built-", "-built:")
        self.touch((self.ledger.images, tag))
        context = tar_of({"Dockerfile": f"FROM busybox\nRUN echo {tag} > /built\nCOPY f /f\n".encode(),
                          "f": tag.encode()})
        self.c.api.stream_ok("POST", f"/build?t={tag}&rm=1&forcerm=1", context,
                             headers={"Content-Type": "application/x-tar"})
        self.ledger.images[tag] = True

    def op_net_create(self) -> None:
        if sum(1 for ok in self.ledger.networks.values() if ok is not False) >= MAX_NETWORKS:
            return self.op_net_rm()
        name = self.fresh("net")
        self.touch((self.ledger.networks, name), )
        self.ledger.networks[name] = None
        self.c.api.json("POST", "/networks/create", {"Name": name, "CheckDuplicate": True})
        self.ledger.networks[name] = True

    def op_net_connect(self) -> None:
        nets = sorted(n for n, ok in self.ledger.networks.items() if ok)
        x = self._choice(self._ctrs(lambda x: not x.monitor_killed))
        if not nets or x is None:
            return self.op_net_create()
        net = self.rng.choice(nets)
        if net in x.networks:
            return self.op_net_disconnect()
        self.touch(x)
        x.networks[net] = None
        self.c.api.ok("POST", f"/networks/{net}/connect", {"Container": x.id})
        x.networks[net] = True

    def op_net_disconnect(self) -> None:
        pairs = [(x, n) for x in self._ctrs(lambda x: not x.monitor_killed) for n, ok in x.networks.items() if ok]
        if not pairs:
            return None
        x, net = self.rng.choice(pairs)
        self.touch(x)
        self.c.api.ok("POST", f"/networks/{net}/disconnect", {"Container": x.id, "Force": False})
        del x.networks[net]

    def op_net_rm(self) -> None:
        used = {n for x in self._ctrs(lambda x: True) for n in x.networks}
        free = sorted(n for n, ok in self.ledger.networks.items() if ok and n not in used)
        if not free:
            return self.op_net_disconnect()
        net = self.rng.choice(free)
        self.touch((self.ledger.networks, net))
        self.c.api.ok("DELETE", f"/networks/{net}")
        self.ledger.networks[net] = False

    def op_vol_create(self) -> None:
        name = self.fresh("vol")
        self.touch((self.ledger.volumes, name), )
        self.ledger.volumes[name] = None
        self.c.api.json("POST", "/volumes/create", {"Name": name})
        self.ledger.volumes[name] = True

    def op_vol_rm(self) -> None:
        vols = sorted(n for n, ok in self.ledger.volumes.items() if ok)
        if not vols:
            return self.op_vol_create()
        name = self.rng.choice(vols)
        self.touch((self.ledger.volumes, name))
        self.c.api.ok("DELETE", f"/volumes/{name}")
        self.ledger.volumes[name] = False

    def op_cp(self) -> None:
        x = self._choice(self._ctrs(lambda x: True))
        if x is None:
            return self.op_run()
        self.touch(x)
        fname = self.fresh("file")
        data = f"{fname} {self.rng.random()}\n".encode()
        self.c.api.ok("PUT", f"/containers/{x.id}/archive?path=/tmp", tar_of({fname: data}),
                      headers={"Content-Type": "application/x-tar"})
        x.files[f"/tmp/{fname}"] = data


# ---------------------------------------------------------------------------
# the campaign
# ---------------------------------------------------------------------------


@dataclass
class Plan:
    seed: int = 1
    clients: int = 3
    ops: int = 1000
    daemon_kills: int = 50
    monitor_kills: int = 6
    spawner_kills: int = 6
    driver: str | None = "vfs"
    root: Path | None = None
    log: Callable[[str], None] = print
    verbose: bool = False  # also print each operation a kill cut off


class Campaign:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.fig = Figures()
        self.go = threading.Event()
        self.finished = threading.Event()
        self.killing = threading.Event()
        self.epoch = 0
        self.seen: set[str] = set()  # every container id this campaign's daemon ever had
        self.monitors_seen: set[int] = set()  # monitor pids of containers seen running
        self._count_lock = threading.Lock()
        self.root = plan.root or Path(tempfile.mkdtemp(prefix="barge-chaos-", dir="/var/tmp"))
        self.daemon = ChaosDaemon(self.root / "d", plan.driver)
        self.api = self.daemon.api
        self.registry: LocalRegistry | None = None
        self.pulled = ""
        self.clients: list[Client] = []

    # -- bookkeeping ------------------------------------------------------------------

    def count(self, op: str, acked: bool) -> None:
        with self._count_lock:
            self.fig.ops += 1
            if acked:
                self.fig.acked += 1
                self.fig.by_op[op] = self.fig.by_op.get(op, 0) + 1
            else:
                self.fig.cut += 1

    def inconsistent(self, what: str) -> None:
        self.fig.inconsistencies.append(what)
        self.plan.log(f"  INCONSISTENT: {what}")

    def lost(self, what: str) -> None:
        self.fig.lost.append(what)
        self.plan.log(f"  LOST ACK: {what}")

    def leak(self, what: str) -> None:
        self.fig.leaks.append(what)
        self.plan.log(f"  LEAK: {what}")

    # -- the run ----------------------------------------------------------------------

    def run(self) -> Figures:
        (self.root / "d").mkdir(parents=True, exist_ok=True)
        try:
            self.setup()
            self.rounds()
            self.teardown()
        finally:
            self.finished.set()
            self.go.set()
            if self.daemon.alive() and not self.fig.torn_down:  # interrupted: no container may outlive the run
                for c in self.api.json("GET", "/containers/json?all=1"):
                    self.api.call("DELETE", f"/containers/{c['Id']}?force=1&v=1")
            if self.daemon.alive():
                self.daemon.stop()
            if self.registry is not None:
                self.registry.stop()
            kept = Path(tempfile.gettempdir()) / f"barge-chaos-{self.plan.seed}.log"
            failed = self.fig.inconsistencies or self.fig.lost or self.fig.leaks
            if failed and self.daemon.log_path.exists():  # kept for a post-mortem: the root goes
                shutil.copy(self.daemon.log_path, kept)
            elif not failed:
                kept.unlink(missing_ok=True)
            self.daemon.cleanup_host()
            shutil.rmtree(self.root, ignore_errors=True)
        return self.fig

    def setup(self) -> None:
        from barge.client.api import Client as BargeClient
        from barge.client.mkimage import busybox

        self.daemon.start()
        bc = BargeClient("unix://" + self.daemon.socket)
        try:
            busybox(bc, tag="busybox:latest", log=lambda message: None)
        finally:
            close = getattr(bc, "close", None)
            if close is not None:
                close()
        self.registry = LocalRegistry(self.root / "registry")
        self.pulled = f"{self.registry.host}/chaos/busybox:latest"
        self.api.ok("POST", f"/images/busybox/tag?repo={self.pulled.rsplit(':', 1)[0]}&tag=latest", expect=(201,))
        auth = base64.urlsafe_b64encode(b"{}").decode()
        self.api.stream_ok("POST", f"/images/{self.pulled.rsplit(':', 1)[0]}/push?tag=latest",
                           headers={"X-Registry-Auth": auth})
        self.api.ok("DELETE", f"/images/{self.pulled}")
        self.clients = [Client(self, n, self.plan.seed * 1000 + n) for n in range(self.plan.clients)]
        for c in self.clients:
            c.start()

    def schedule(self) -> list[str]:
        p = self.plan
        kinds = ["daemon"] * p.daemon_kills + ["monitor"] * p.monitor_kills + ["spawner"] * p.spawner_kills
        first, rest = kinds[:1], kinds[1:]
        self.rng.shuffle(rest)
        return first + rest

    def rounds(self) -> None:
        p = self.plan
        kinds = self.schedule()
        per_round = max(4, p.ops // max(1, len(kinds)))
        for i, kind in enumerate(kinds):
            target = self.fig.acked + self.rng.randint(per_round // 2, per_round + per_round // 2)
            if i == len(kinds) - 1:
                target = max(target, p.ops)
            self.go.set()
            deadline = time.monotonic() + 120
            while self.fig.acked < target and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(self.rng.uniform(0, 0.4))  # a random moment: some operation is mid-request
            what = getattr(self, "kill_" + kind)()
            self.pause()
            if kind == "daemon":
                took = self.daemon.start()
                what += f", restarted in {took:.1f}s"
            p.log(f"round {i + 1}/{len(kinds)}: {what}; ops {self.fig.ops} (acked {self.fig.acked})")
            self.verify()
        self.go.clear()
        self.pause()

    def pause(self) -> None:
        self.go.clear()
        for c in self.clients:
            while not c.idle.wait(0.5):
                if not c.is_alive():
                    break
        self.killing.clear()

    # -- kills ----------------------------------------------------------------------

    def kill_daemon(self) -> str:
        self.killing.set()
        self.epoch += 1
        self.daemon.kill()
        self.fig.daemon_kills += 1
        return "daemon SIGKILLed"

    def kill_monitor(self) -> str:
        order = self.clients[:]
        self.rng.shuffle(order)
        for client in order:
            with client.lock:
                running = client._ctrs(lambda x: x.running is True and not x.monitor_killed)
                if not running:
                    continue
                x = self.rng.choice(sorted(running, key=lambda x: x.name))
                pid = self.daemon.monitor_pid(x.id)
                if pid is None:
                    continue
                client.excuse += 1
                x.monitor_killed = True
                os.kill(pid, signal.SIGKILL)
                self.fig.monitor_kills += 1
                return f"monitor {pid} of {x.name} SIGKILLed"
        return "no running container: no monitor to kill"

    def kill_spawner(self) -> str:
        pid = self.daemon.spawner_pid()
        if pid is None:
            return "no spawner running (none started yet)"
        self.killing.set()
        self.epoch += 1
        os.kill(pid, signal.SIGKILL)
        self.fig.spawner_kills += 1
        return f"spawner {pid} SIGKILLed"

    # -- verification -------------------------------------------------------------------

    def verify(self) -> None:
        for client in self.clients:  # the daemon's own reaction to a monitor kill first, then the check
            with client.lock:
                for x in client._ctrs(lambda x: x.monitor_killed):
                    self.verify_monitor_kill(x)
        self.system_check()
        for client in self.clients:
            with client.lock:
                self.verify_client(client)
        self.probe_create()
        self.host_leaks(final=False)

    def system_check(self) -> None:
        try:
            status, data = self.api.call("POST", "/system/check")
        except Unacknowledged as exc:
            self.inconsistent(f"system check: no answer: {exc}")
            return
        if status != 200:
            self.inconsistent(f"system check: {status} {data[:300]!r}")
            return
        for f in json.loads(data).get("Findings") or []:
            self.inconsistent(f"system check: {f.get('Area')} {f.get('Object')}: {f.get('Problem')}")

    def probe_create(self) -> None:
        """A create/start/wait after every round: a killed spawner must not break later starts."""
        try:
            cid = self.api.json("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"]})["Id"]
            self.seen.add(cid)
            self.api.ok("POST", f"/containers/{cid}/start")
            code = self.api.json("POST", f"/containers/{cid}/wait").get("StatusCode")
            self.api.ok("DELETE", f"/containers/{cid}?force=1")
            if code != 0:
                self.inconsistent(f"probe container exited {code}")
        except (Unacknowledged, Refused) as exc:
            self.inconsistent(f"a container cannot be run after the round: {exc}")

    def verify_client(self, client: Client) -> None:
        led = client.ledger
        prefix = f"chaos{client.n}-"
        actual_ctrs = {c["Names"][0].lstrip("/"): c for c in self.api.json("GET", "/containers/json?all=1")
                       if c["Names"] and c["Names"][0].lstrip("/").startswith(prefix)}
        for name in actual_ctrs.keys() - led.containers.keys():
            self.inconsistent(f"container {name} exists but no client ever asked for it")
        for x in led.containers.values():
            if x.verified_gone:
                continue
            self.verify_container(x, actual_ctrs.get(x.name))
        tags = {t for img in self.api.json("GET", "/images/json") for t in img.get("RepoTags") or []}
        for tag, want in list(led.images.items()):
            self._settle(led.images, tag, want, tag in tags, "image tag")
        vols = {v["Name"] for v in (self.api.json("GET", "/volumes").get("Volumes") or [])}
        for name, want in list(led.volumes.items()):
            self._settle(led.volumes, name, want, name in vols, "volume")
        nets = {n["Name"] for n in self.api.json("GET", "/networks")}
        for name, want in list(led.networks.items()):
            self._settle(led.networks, name, want, name in nets, "network")

    def _settle(self, table: dict, key: str, want: bool | None, have: bool, what: str) -> None:
        if want is None:
            # an operation cut off by a kill: what is there now is the fact; absent is as if never asked
            # (not "removed": the pulled reference is every client's, and another may pull it again)
            if have:
                table[key] = True
            else:
                table.pop(key, None)
        elif want != have:
            self.lost(f"{what} {key}: acknowledged {'present' if want else 'removed'}, "
                      f"but it is {'there' if have else 'gone'}")
            table[key] = have

    def verify_container(self, x: Ctr, summary: dict | None) -> None:
        if summary is None:
            if x.exists:
                self.lost(f"container {x.name} ({(x.id or '?')[:12]}): acknowledged created, but it is gone")
            x.exists, x.running, x.verified_gone = False, False, True
            return
        if x.exists is False:
            self.lost(f"container {x.name}: acknowledged removed, but it is there")
        x.exists = True
        if x.id is None or x.id != summary["Id"]:
            x.id = summary["Id"]
            self.seen.add(x.id)
        t0 = time.monotonic()
        info = self.api.inspect("containers", x.id)
        if info is None:
            self.inconsistent(f"container {x.name} is listed but inspect says 404")
            return
        state = info["State"]
        if x.running is None:
            while state["Running"] and time.monotonic() - t0 < 1.5:  # a cut-off stop may be ending it
                time.sleep(0.1)
                state = (self.api.inspect("containers", x.id) or info)["State"]
            x.running = bool(state["Running"])
        elif x.running != bool(state["Running"]):
            self.lost(f"container {x.name}: acknowledged {'running' if x.running else 'stopped'}, "
                      f"but State is {state.get('Status')} (error {state.get('Error')!r})")
            x.running = bool(state["Running"])
        have_nets = set(info["NetworkSettings"]["Networks"] or {})
        for net, want in list(x.networks.items()):
            if want is None:
                if net in have_nets:
                    x.networks[net] = True
                else:
                    del x.networks[net]
            elif net not in have_nets:
                self.lost(f"container {x.name}: acknowledged connected to {net}, but it is not")
                del x.networks[net]
        for net in have_nets - set(x.networks) - {"bridge"}:
            self.lost(f"container {x.name}: acknowledged disconnected from {net} (or never connected), "
                      "but it is connected")
            x.networks[net] = True
        for path, data in list(x.files.items()):
            status, body = self.api.call("GET", f"/containers/{x.id}/archive?path={path}")
            got = file_in_tar(body, path.rsplit("/", 1)[1]) if status == 200 else None
            if got != data:
                self.lost(f"container {x.name}: file {path} copied in (acknowledged) reads {status} {got!r}")
                del x.files[path]
        if x.running:
            self.verify_reachable(x, info)

    def verify_reachable(self, x: Ctr, info: dict) -> None:
        status, logs = self.api.call("GET", f"/containers/{x.id}/logs?stdout=1&stderr=1&tail=5")
        if status != 200 or b"tick" not in logs:
            self.inconsistent(f"running container {x.name}: logs {status} {logs[-200:]!r}")
        try:
            eid = self.api.json("POST", f"/containers/{x.id}/exec",
                                {"AttachStdout": True, "Cmd": ["echo", "reach-exec"]})["Id"]
            out = self.api.hijack_until(f"/exec/{eid}/start", b"reach-exec", b'{"Detach": false}')
            if b"reach-exec" not in out:
                self.inconsistent(f"running container {x.name}: exec printed {out[-200:]!r}")
        except (Refused, Unacknowledged) as exc:
            self.inconsistent(f"running container {x.name}: exec failed: {exc}")
        try:
            out = self.api.hijack_until(f"/containers/{x.id}/attach?stream=1&stdout=1", b"tick")
            if b"tick" not in out.split(b"\r\n\r\n", 1)[-1]:
                self.inconsistent(f"running container {x.name}: attach read {out[-60:]!r} in 15 s (State "
                                  f"{info['State']}, Cmd {info['Config']['Cmd'][-1][:40]}, logs {logs[-40:]!r})")
        except Unacknowledged as exc:
            self.inconsistent(f"running container {x.name}: attach failed: {exc}")
        for bindings in (info["NetworkSettings"].get("Ports") or {}).values():
            for b in bindings or []:
                if b.get("HostPort") and not port_answers(int(b["HostPort"])):
                    self.inconsistent(f"running container {x.name}: published port {b['HostPort']} does not answer")

    def verify_monitor_kill(self, x: Ctr) -> None:
        """The daemon notices a dead monitor: exit recorded (with an error), the container cleaned up."""
        end = time.monotonic() + 15
        info = self.api.inspect("containers", x.id or x.name)
        while info is not None and info["State"]["Running"] and time.monotonic() < end:
            time.sleep(0.3)
            info = self.api.inspect("containers", x.id or x.name)
        if info is None:
            self.inconsistent(f"container {x.name}: its monitor was SIGKILLed, then the container was gone")
            x.monitor_killed, x.exists, x.running = False, False, False
            return
        state_dir = self.daemon.exec_root / "containers" / info["Id"]
        while state_dir.exists() and time.monotonic() < end:  # released after the exit's attach drain
            time.sleep(0.2)
        time.sleep(0.3)  # and its network after that
        state = info["State"]
        if state["Running"]:
            self.inconsistent(f"container {x.name}: its monitor was SIGKILLed, 15 s later the record still "
                              f"says running (pid {state.get('Pid')})")
            return
        if not state.get("Error") and state.get("ExitCode") in (0, None):
            self.inconsistent(f"container {x.name}: monitor killed, exit recorded as a clean one: {state}")
        x.running = False
        x.monitor_killed = False

    # -- leaks ------------------------------------------------------------------------

    def host_leaks(self, final: bool) -> None:
        d = self.daemon
        running: set[str] = set()
        expected_ports: set[int] = set()
        endpoints = 0
        net_ids: set[str] = set()
        if not final:
            for c in self.api.json("GET", "/containers/json?all=1"):
                self.seen.add(c["Id"])
                if c["State"] in ("running", "paused"):
                    running.add(c["Id"])
                    expected_ports |= {p["PublicPort"] for p in c.get("Ports") or [] if p.get("PublicPort")}
                    nets = (c.get("NetworkSettings") or {}).get("Networks") or {}
                    endpoints += sum(1 for n in nets if n not in ("host", "none"))
            net_ids = {n["Id"][:12] for n in self.api.json("GET", "/networks")}
        for target in mounts_under(d.data_root) + mounts_under(d.exec_root):
            ids = set(re.findall(r"[0-9a-f]{64}", target))
            if final or not ids & running:
                self.leak(f"mount {target}")
        for target in mounts_elsewhere_of(d.data_root):
            self.leak(f"mount {target} of the data root's files, outside it")
        for cid in sorted(self.seen - running):
            for cg in cgroups_of(cid):
                self.leak(f"cgroup {cg}")
            state_dir = d.exec_root / "containers" / cid
            if state_dir.exists():
                self.leak(f"state dir {state_dir} of a container not running")
        all_links = links()
        ours = {d.bridge} | {n for n in all_links if n.startswith("bg-")}
        for name in sorted(n for n in all_links if n.startswith("bg-")):
            if final or name[3:] not in net_ids:
                self.leak(f"bridge {name} of a removed network")
        on_bridges = [n for n, master in all_links.items() if master in ours]
        if len(on_bridges) > endpoints:
            self.leak(f"{len(on_bridges)} veths on the daemon's bridges for {endpoints} endpoints of running "
                      f"containers: {sorted(on_bridges)}")
        rules = nft_rules(d.table)
        dnat = [r for r in rules if " dnat ip to " in r]
        if len(dnat) > len(expected_ports):
            self.leak(f"{len(dnat)} published-port rules for {len(expected_ports)} published ports: {dnat}")
        for r in rules:
            for br in re.findall(r'"(bg-[0-9a-f]{12})"', r):
                if br[3:] not in net_ids:
                    self.leak(f"nft rule for removed network {br}: {r}")
                    break
        if d.alive():
            extra = listening_ports(d.proc.pid) - expected_ports
            if extra:
                self.leak(f"the daemon listens on ports no running container publishes: {sorted(extra)}")
        for cid in running:
            pid = d.monitor_pid(cid)
            if pid is not None:
                self.monitors_seen.add(pid)
        if final:
            for pid in sorted(self.monitors_seen):
                if _is_monitor(pid):
                    self.leak(f"monitor process {pid} outlived its container and the daemon")

    def teardown(self) -> None:
        """Everything removed, the daemon stopped: then nothing of it may be left on the host."""
        for c in self.api.json("GET", "/containers/json?all=1"):
            self.seen.add(c["Id"])
            try:
                self.api.ok("DELETE", f"/containers/{c['Id']}?force=1&v=1")
            except Refused as exc:
                self.inconsistent(f"teardown: {exc}")
        for n in self.api.json("GET", "/networks"):
            if n["Name"] not in ("bridge", "host", "none"):
                try:
                    self.api.ok("DELETE", f"/networks/{n['Id']}")
                except Refused as exc:
                    self.inconsistent(f"teardown: {exc}")
        for v in self.api.json("GET", "/volumes").get("Volumes") or []:
            try:
                self.api.ok("DELETE", f"/volumes/{v['Name']}")
            except Refused as exc:
                self.inconsistent(f"teardown: {exc}")
        self.system_check()
        self.fig.torn_down = True
        code = self.daemon.stop()
        if code != 0:
            self.inconsistent(f"the daemon's SIGTERM stop exited {code}")
        self.host_leaks(final=True)


def _is_monitor(pid: int) -> bool:
    """A live (not zombie) process of the exec driver's (a monitor forked from the spawner)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"barge_exec_native" in fh.read()
    except OSError:
        return False


def summary(fig: Figures, plan: Plan, seconds: float, restarts: list[float]) -> tuple[str, bool]:
    """The figures as a table, and whether every target was met."""
    rows = [
        ("operations (attempted)", fig.ops, f">= {plan.ops}"),
        ("  acknowledged", fig.acked, ""),
        ("  cut off by a kill", fig.cut, ""),
        ("daemon SIGKILLs", fig.daemon_kills, f">= {plan.daemon_kills}"),
        ("monitor SIGKILLs", fig.monitor_kills, ""),
        ("spawner SIGKILLs", fig.spawner_kills, ""),
        ("inconsistencies", len(fig.inconsistencies), "0"),
        ("leaks", len(fig.leaks), "0"),
        ("lost acknowledged operations", len(fig.lost), "0"),
    ]
    ok = (fig.acked >= plan.ops and fig.daemon_kills >= plan.daemon_kills and not fig.inconsistencies
          and not fig.leaks and not fig.lost)
    lines = [f"{'':32}{'figure':>10}  target"]
    lines += [f"{name:32}{value:>10}  {target}" for name, value, target in rows]
    if restarts:
        lines.append(f"{'daemon restart (median, max)':32}{sorted(restarts)[len(restarts) // 2]:>9.2f}s  "
                     f"max {max(restarts):.2f}s")
    lines.append(f"{'wall time':32}{seconds:>9.0f}s")
    lines.append("acknowledged by operation: " + ", ".join(f"{k} {v}" for k, v in sorted(fig.by_op.items())))
    for title, items in (("inconsistencies", fig.inconsistencies), ("lost acknowledged operations", fig.lost),
                         ("leaks", fig.leaks)):
        if items:
            lines.append(f"{title}:")
            lines += [f"  - {item}" for item in items]
    lines.append("RESULT: " + ("all targets met" if ok else "TARGETS MISSED"))
    return "\n".join(lines), ok
