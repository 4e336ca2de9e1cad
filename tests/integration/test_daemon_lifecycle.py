"""The daemon process: pid file, unix socket, signals, refusals, driver choice."""

from __future__ import annotations

import json
import os
import socket
import stat

import pytest

import barge
from barge.testing.wait import wait_for

pytestmark = pytest.mark.daemon


def test_start_line_pidfile_and_socket_mode(daemon):
    assert daemon.pidfile.read_text().strip() == str(daemon.pid)
    assert stat.S_IMODE(os.stat(daemon.socket).st_mode) == 0o660
    assert stat.S_ISSOCK(os.stat(daemon.socket).st_mode)
    assert stat.S_IMODE(os.stat(daemon.data_root).st_mode) == 0o710
    line = f"barge daemon {barge.__version__} listening on {daemon.url}, graph driver {daemon.driver}"
    assert line in daemon.stderr_text()


def test_sigterm_exits_zero_and_cleans_up(daemon):
    assert daemon.stop() == 0
    assert not os.path.exists(daemon.socket)
    assert not daemon.pidfile.exists()
    assert "barge daemon stopped" in daemon.stderr_text()


def test_restart_serves_again(daemon):
    old = daemon.pid
    daemon.restart()
    assert daemon.pid != old
    assert daemon.request("GET", "/_ping")[0] == 200


def test_second_daemon_on_same_socket_is_refused(daemon, daemon_factory):
    other = daemon_factory(hosts=[daemon.url], wait=False)
    assert other.wait_exit() == 1
    assert f"another daemon is listening on {daemon.url}" in other.stderr_text()
    assert daemon.request("GET", "/_ping")[0] == 200  # the first one is untouched
    assert os.path.exists(daemon.socket)


def test_pidfile_of_live_daemon_is_refused(daemon, daemon_factory):
    other = daemon_factory(root=daemon.root, hosts=["unix://" + str(daemon.root / "other.sock")], wait=False)
    assert other.wait_exit() == 1
    assert f"names a running daemon (pid {daemon.pid})" in other.stderr_text()
    assert daemon.pidfile.read_text().strip() == str(daemon.pid)
    assert not (daemon.root / "other.sock").exists()


def _dead_pid() -> int:
    """The pid of a process that has exited (a dead daemon's pid file names one)."""
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_stale_socket_and_pidfile_are_replaced(daemon_factory):
    from tests.conftest import short_exec_root

    root = daemon_factory.new_root()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(root / "barge.sock"))  # bound, never listening: a dead daemon's leftover
    stale.close()
    pidfile = short_exec_root(root) / "barge.pid"  # where the daemon started on ``root`` keeps it
    pidfile.parent.mkdir(parents=True)
    pidfile.write_text(f"{_dead_pid()}\n")
    d = daemon_factory(root=root)
    assert d.pidfile == pidfile
    assert d.request("GET", "/_ping")[0] == 200
    assert d.pidfile.read_text().strip() == str(d.pid)


def test_socket_path_that_is_not_a_socket_is_refused(daemon_factory):
    root = daemon_factory.new_root()
    (root / "barge.sock").write_text("precious")
    d = daemon_factory(root=root, wait=False)
    assert d.wait_exit() == 1
    assert "exists and is not a socket" in d.stderr_text()
    assert (root / "barge.sock").read_text() == "precious"
    assert not d.pidfile.exists()


def test_named_driver_not_installed_stops_daemon(daemon_factory):
    d = daemon_factory(driver="nosuchdriver", wait=False)
    assert d.wait_exit() == 1
    assert "graph driver 'nosuchdriver' is not installed" in d.stderr_text()
    assert not os.path.exists(d.socket) and not d.pidfile.exists()


def test_named_unsupported_driver_stops_daemon_with_reason(daemon_factory):
    root = daemon_factory.new_root()
    (root / "daemon.toml").write_text('[graph.fake]\nunsupported = "needs a coffee machine"\n')
    d = daemon_factory(driver="fake", root=root, wait=False)
    assert d.wait_exit() == 1
    assert "fake: not supported: needs a coffee machine" in d.stderr_text()
    assert not os.path.exists(d.socket)


def test_docker_driver_env_selects_driver(daemon_factory):
    d = daemon_factory(driver=None, env={"DOCKER_DRIVER": "fake"})
    assert d.json("GET", "/info")["Driver"] == "fake"


def test_docker_driver_env_selects_vfs(daemon_factory):
    from tests.conftest import require_graph_driver

    require_graph_driver("vfs")
    d = daemon_factory(driver=None, env={"DOCKER_DRIVER": "vfs"})
    info = d.json("GET", "/info")
    assert info["Driver"] == "vfs"
    assert {"Kind": "graph", "Name": "vfs"}.items() <= next(
        r for r in info["BargeDrivers"] if r["Name"] == "vfs"
    ).items()


def test_invalid_host_is_refused(daemon_factory):
    d = daemon_factory(hosts=["udp://127.0.0.1:9"], wait=False)
    assert d.wait_exit() == 1
    assert "invalid host 'udp://127.0.0.1:9'" in d.stderr_text()
    assert not d.pidfile.exists()


# Starts the real daemon with one more extension plugin, as an entry point
# in ``barge.plugins`` would add it, recording the lifecycle hooks to a file.
RECORDER = """
import runpy, sys
import barge.engine.plugins as plugins
from barge.engine import hookimpl

out = open(sys.argv[1], "a")

class Recorder:
    @hookimpl
    def barge_daemon_started(self, info):
        out.write(f"started {info['Driver']} {info['ServerVersion']}\\n"); out.flush()

    @hookimpl
    def barge_daemon_stopping(self):
        out.write("stopping\\n"); out.flush()

original = plugins.make_plugin_manager

def make_plugin_manager(*args, **kwargs):
    pm = original(*args, **kwargs)
    pm.register(Recorder(), name="ext:recorder")
    return pm

plugins.make_plugin_manager = make_plugin_manager
sys.argv = ["barge.daemon.main", *sys.argv[2:]]
runpy.run_module("barge.daemon.main", run_name="__main__")
"""


def test_lifecycle_hooks_reach_extension_plugins(daemon_factory):
    import sys

    root = daemon_factory.new_root()
    record = root / "hooks.log"
    d = daemon_factory(root=root, prefix=[sys.executable, "-c", RECORDER, str(record)])
    wait_for(lambda: record.exists() and record.read_text(), 10, interval=0.02,
             what="the started hook (it runs just after the sockets open)")
    assert record.read_text() == f"started {d.driver} {barge.__version__}\n"
    assert d.stop() == 0
    assert record.read_text().splitlines() == [f"started {d.driver} {barge.__version__}", "stopping"]


def test_long_exec_root_runs_and_attaches(daemon_factory):
    """A monitor's ``attach.sock`` beyond sun_path's 108 bytes: the monitor
    binds and the driver and the daemon connect through a directory fd."""
    from tests.conftest import make_busybox, require_exec_driver
    from tests.integration.helpers import UPGRADE, Raw, joined

    require_exec_driver()
    root = daemon_factory.new_root()
    exec_root = root / ("x" * 50) / ("y" * 50)  # removed with root
    d = daemon_factory(root=root, extra_args=["--exec-root", str(exec_root)])
    make_busybox(d)
    status, _, body = d.request("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["sh", "-c", "read x; echo got $x; exit 4"], "OpenStdin": True,
        "StdinOnce": True, "AttachStdin": True, "AttachStdout": True, "AttachStderr": True})
    assert status == 201, body
    cid = json.loads(body)["Id"]
    sock_path = exec_root / "containers" / cid / "attach.sock"
    assert len(str(sock_path)) > 108
    att = Raw(d, "POST", f"/containers/{cid}/attach?stream=1&stdin=1&stdout=1&stderr=1", UPGRADE)
    try:
        assert att.status_line == "HTTP/1.1 101 UPGRADED"
        assert d.request("POST", f"/containers/{cid}/start")[0] == 204
        assert stat.S_ISSOCK(os.stat(sock_path).st_mode)
        att.sock.sendall(b"hello\n")
        att.sock.shutdown(socket.SHUT_WR)
        assert joined(att.read_all(), 1) == b"got hello\n"
    finally:
        att.close()
    assert d.json("POST", f"/containers/{cid}/wait") == {"Error": None, "StatusCode": 4}
    assert d.request("DELETE", f"/containers/{cid}")[0] == 204
    assert not (exec_root / "containers" / cid).exists()
