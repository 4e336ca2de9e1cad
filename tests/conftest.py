"""Shared fixtures: real barge daemons in throw-away directories.

``daemon`` starts one daemon process per test; ``daemon_factory`` starts
daemons with custom options; ``shared_daemon`` is one daemon for a whole
module (cheap read-only checks). Each daemon runs as::

    python -m barge.daemon.main --config-file <tmp>/absent.toml \\
        --data-root <tmp>/data --exec-root <tmp>/exec \\
        -H unix://<tmp>/barge.sock [--storage-driver $BARGE_TEST_DRIVER]

so ``/etc/barge/daemon.toml`` and the caller's BARGE_*/DOCKER_DRIVER
variables never leak in. Each daemon gets networking of its own, derived
from ``<tmp>`` like its exec root (:func:`network_args`): a default bridge
``bt<hash>`` with its own /24, an address pool for user networks, the nft
table ``barge_test_<hash>``, and ``--dns 127.0.0.1`` so that no container
and no forwarded DNS query ever leaves the machine; teardown removes the
networks, the bridge and the table. A test that writes a ``[network]``
table into its ``daemon.toml`` takes all of that on itself. The exec root is a short directory under ``/run``
derived from ``<tmp>`` (``/run/bt-<hash>``): a monitor's
``<exec_root>/containers/<64 hex id>/attach.sock`` must fit in a unix socket
path (107 bytes), and a daemon restarted on the same ``<tmp>`` finds its
containers there again. ``busybox_image`` builds ``barge mkimage busybox``
into the ``daemon`` fixture; container tests skip when no exec driver
(``native``) is installed. The graph driver is ``$BARGE_TEST_DRIVER``
(default ``vfs``, which needs no root; set ``overlay`` to test overlay).
Teardown stops the daemon, unmounts whatever is left under its directory
and removes it.
"""

from __future__ import annotations

import ctypes
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from barge.testing.plugin import disk_tmp_root as barge_disk_tmp_root
from barge.testing.wait import WaitTimeout, wait_for

#: Seconds a daemon gets to answer its first /_ping.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
#: Variables that would pick a driver or a config behind the test's back.
_SCRUBBED_ENV = ("BARGE_GRAPH_DRIVER", "DOCKER_DRIVER", "BARGE_CONFIG", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


def test_driver() -> str:
    return os.environ.get("BARGE_TEST_DRIVER", "vfs")


test_driver.__test__ = False  # not a test, despite the name


def pytest_report_header(config) -> list[str]:
    docker = shutil.which("docker") or "missing (docker CLI tests will be skipped)"
    return [f"barge test graph driver: {test_driver()} (BARGE_TEST_DRIVER)", f"docker CLI: {docker}"]


# ---------------------------------------------------------------------------
# temp trees that may hold mounts
# ---------------------------------------------------------------------------


def disk_tmp_root() -> str:
    """A short path on a real disk: overlay wants one, unix socket paths are
    limited to 107 bytes."""
    return barge_disk_tmp_root() or tempfile.gettempdir()


def mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    out = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            target = line.split()[4].encode().decode("unicode_escape")
            if target.startswith(prefix) or target == str(path):
                out.append(target)
    return sorted(out, key=len, reverse=True)


def short_exec_root(root: Path) -> Path:
    """``/run/bt-<8 hex>``, stable for a given daemon root (see the module docstring)."""
    base = Path("/run") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
    return base / ("bt-" + hashlib.sha256(str(root).encode()).hexdigest()[:8])


def network_tag(root: Path) -> str:
    return hashlib.sha256(str(root).encode()).hexdigest()[:8]


def network_args(root: Path) -> list[str]:
    """A test daemon's own bridge, subnets, firewall table and resolver (see the module docstring)."""
    tag = network_tag(root)
    h = int(tag, 16)
    bip = f"10.{200 + h % 50}.{(h >> 8) % 256}.1/24"
    pool = f"base=10.{100 + (h >> 16) % 100}.{(h >> 4) % 16 * 16}.0/20,size=24"
    return ["--bridge", f"bt{tag}", "--bip", bip, "--default-address-pool", pool,
            "--network-opt", f"bridge.table=barge_test_{tag}", "--dns", "127.0.0.1"]


def remove_network_leftovers(root: Path) -> None:
    """The default bridge and the firewall table stay after a daemon stops (as docker0 does): drop them."""
    tag = network_tag(root)
    subprocess.run(["ip", "link", "del", f"bt{tag}"], capture_output=True)
    for family in ("inet", "ip"):  # ip: the table of barges before IPv6
        subprocess.run(["nft", "delete", "table", family, f"barge_test_{tag}"], capture_output=True)


def remove_tree(path: Path) -> None:
    """Unmount (lazily, deepest first) anything under ``path``, then delete it."""
    if not path.exists():
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for target in mounts_under(path):
        libc.umount2(target.encode(), 2)  # MNT_DETACH
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------
# the daemon handle
# ---------------------------------------------------------------------------


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60.0):
        super().__init__("localhost", timeout=timeout)
        self._unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._unix_path)
        except BaseException:
            sock.close()  # a daemon not listening yet must not leak the socket
            raise
        self.sock = sock


class Daemon:
    """One barge daemon process and its directories."""

    def __init__(
        self,
        root: Path,
        driver: str | None,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
        hosts: list[str] | None = None,
        extra_hosts: list[str] | None = None,
        wait: bool = True,
        prefix: list[str] | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> None:
        self.root = root
        self.driver = driver
        self.socket = str(root / "barge.sock")
        self.url = "unix://" + self.socket
        self.data_root = root / "data"
        self.exec_root = short_exec_root(root)
        self.pidfile = self.exec_root / "barge.pid"
        self.log_path = root / "daemon.log"
        self.config_file = root / "daemon.toml"  # absent unless a test writes it
        self.hosts = (hosts if hosts is not None else [self.url]) + list(extra_hosts or [])
        self.prefix = prefix or [sys.executable, "-m", "barge.daemon.main"]
        self.pass_fds = pass_fds
        self.extra_args = list(extra_args or [])
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self._log = None
        self.start(wait=wait)

    # -- process --------------------------------------------------------------

    def command(self) -> list[str]:
        cmd = [
            *self.prefix,
            "--config-file", str(self.config_file),
            "--data-root", str(self.data_root),
            "--exec-root", str(self.exec_root),
            "--debug",
        ]
        for host in self.hosts:
            cmd += ["-H", host]
        if self.driver:
            cmd += ["--storage-driver", self.driver]
        own_network = self.config_file.exists() and "[network]" in self.config_file.read_text()
        return cmd + ([] if own_network else network_args(self.root)) + self.extra_args

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        env.update(self.env)
        return env

    def start(self, wait: bool = True) -> None:
        if self._log is not None:
            self._log.close()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.command(), env=self.environment(), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, pass_fds=self.pass_fds,
        )
        if wait:
            self.wait_ready()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until ``/_ping`` answers; fail with the daemon's log otherwise."""
        def answers() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"barge daemon exited with {self.proc.returncode} before serving:\n{self.stderr_text()}",
                    pytrace=False,
                )
            status, _, body = self.request("GET", "/_ping", timeout=2)
            return status == 200 and body == b"OK"

        try:
            wait_for(answers, timeout, ignore=(OSError,), what="/_ping")
        except WaitTimeout:
            self.kill()
            pytest.fail(f"barge daemon did not answer /_ping within {timeout}s:\n{self.stderr_text()}", pytrace=False)

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"barge daemon did not exit within {timeout}s:\n{self.stderr_text()}", pytrace=False)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove_containers(self) -> None:
        """``rm -f`` every container, so no monitor or cgroup outlives the test."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            status, _, body = self.request("GET", "/containers/json?all=1", timeout=10)
            if status != 200:
                return
            for c in json.loads(body):
                self.request("DELETE", f"/containers/{c['Id']}?force=1&v=1", timeout=30)
            status, _, body = self.request("GET", "/networks", timeout=10)
            if status == 200:
                for n in json.loads(body):
                    if n["Name"] not in ("bridge", "host", "none"):
                        self.request("DELETE", f"/networks/{n['Id']}", timeout=30)
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.remove_containers()
            if self.proc is not None and self.proc.poll() is None:
                try:
                    self.proc.send_signal(signal.SIGTERM)
                    self.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.kill()
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
            remove_network_leftovers(self.root)

    # -- HTTP -------------------------------------------------------------------

    def connection(self, timeout: float = 60.0) -> UnixHTTPConnection:
        return UnixHTTPConnection(self.socket, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | dict | list | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One request over the unix socket: ``(status, headers, body)``.

        A dict or list body is sent as JSON.
        """
        headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        """A request whose answer must have status ``expect``; returns the parsed JSON."""
        status, _, data = self.request(method, path, body)
        assert status == expect, f"{method} {path}: {status} {data[:500]!r}"
        return json.loads(data) if data else None


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------


def installed_graph_drivers() -> set[str]:
    from importlib.metadata import entry_points

    return {ep.name for ep in entry_points(group="barge.graph_drivers")}


def require_graph_driver(name: str) -> None:
    """Skip (with the reason) when a graph driver is not installed here."""
    if name not in installed_graph_drivers():
        pytest.skip(f"graph driver {name!r} is not installed (pip install -e plugins/graph_{name})")


class DaemonFactory:
    """``factory(driver=..., extra_args=[...], env={...}, hosts=[...],
    extra_hosts=[...], wait=True, root=None, prefix=None, pass_fds=())``.

    ``driver="default"`` is ``$BARGE_TEST_DRIVER`` (skipped with the reason
    when not installed); ``None`` passes no ``--storage-driver``. ``hosts``
    replaces the unix socket, ``extra_hosts`` adds to it. ``root`` reuses a
    directory (another daemon's, or one from :meth:`new_root`). ``prefix``
    replaces ``python -m barge.daemon.main`` (a wrapper that execs it).
    """

    def __init__(self) -> None:
        self.made: list[Daemon] = []
        self.roots: list[Path] = []

    def new_root(self) -> Path:
        root = Path(tempfile.mkdtemp(prefix="barge-d-", dir=disk_tmp_root()))
        self.roots.append(root)
        return root

    def __call__(self, driver: str | None = "default", root: Path | None = None, **kw) -> Daemon:
        if driver == "default":
            driver = test_driver()
            require_graph_driver(driver)
        d = Daemon(Path(root) if root is not None else self.new_root(), driver, **kw)
        self.made.append(d)
        return d

    def close(self) -> None:
        for d in reversed(self.made):
            d.close()
        for root in self.roots:
            remove_tree(root)
            remove_tree(short_exec_root(root))


@pytest.fixture
def daemon_factory() -> Iterator[DaemonFactory]:
    """Start daemons with custom options; see :class:`DaemonFactory`."""
    factory = DaemonFactory()
    yield factory
    factory.close()


@pytest.fixture
def daemon(daemon_factory) -> Daemon:
    """A fresh daemon on ``<tmp>/barge.sock`` with ``$BARGE_TEST_DRIVER``."""
    return daemon_factory()


@pytest.fixture(scope="module")
def shared_daemon() -> Iterator[Daemon]:
    """One daemon for the whole module: for checks that change nothing."""
    root = Path(tempfile.mkdtemp(prefix="barge-m-", dir=disk_tmp_root()))
    d = None
    try:
        require_graph_driver(test_driver())
        d = Daemon(root, test_driver())
        yield d
    finally:
        if d is not None:
            d.close()
        remove_tree(root)
        remove_tree(short_exec_root(root))


# ---------------------------------------------------------------------------
# containers
# ---------------------------------------------------------------------------


def installed_exec_drivers() -> set[str]:
    from importlib.metadata import entry_points

    return {ep.name for ep in entry_points(group="barge.exec_drivers")}


def require_exec_driver(name: str = "native") -> None:
    """Skip (with the reason) when the exec driver is not installed here."""
    if name not in installed_exec_drivers():
        pytest.skip(f"exec driver {name!r} is not installed (pip install -e plugins/exec_{name})")


def make_busybox(d: Daemon, tag: str = "busybox:latest") -> str:
    """``barge mkimage busybox`` against daemon ``d``; returns the image id."""
    from barge.client.api import Client
    from barge.client.mkimage import busybox

    client = Client(d.url)
    try:
        return busybox(client, tag=tag, log=lambda message: None)
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            close()


@pytest.fixture
def busybox_image(daemon) -> str:
    """The ``daemon`` fixture with ``busybox:latest`` imported; skips without an exec driver."""
    require_exec_driver()
    return make_busybox(daemon)
