"""Listeners other than the default unix socket: tcp:// and fd:// (socket activation)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys

import pytest

pytestmark = pytest.mark.daemon


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tcp_get(port: int, path: str, host: str = "127.0.0.1"):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def test_tcp_on_loopback_without_tls_is_served(daemon_factory):
    port = free_port()
    host = f"tcp://127.0.0.1:{port}"
    d = daemon_factory(extra_hosts=[host])
    status, headers, body = tcp_get(port, "/_ping")
    assert (status, body) == (200, b"OK") and headers["Ostype"] == "linux"
    info = json.loads(tcp_get(port, "/v1.44/info")[2])
    assert f"WARNING: API is accessible on http://127.0.0.1:{port} without encryption." in info["Warnings"]
    assert f"listening on {d.url}, {host}," in d.stderr_text()


def test_tcp_localhost_name_is_loopback(daemon_factory):
    port = free_port()
    daemon_factory(extra_hosts=[f"tcp://localhost:{port}"])
    assert tcp_get(port, "/_ping")[0] == 200


def test_tcp_on_non_loopback_without_tls_is_refused(daemon_factory):
    port = free_port()
    d = daemon_factory(extra_hosts=[f"tcp://0.0.0.0:{port}"], wait=False)
    assert d.wait_exit() == 1
    err = d.stderr_text()
    assert f"refusing to listen on tcp://0.0.0.0:{port}" in err and "mutual TLS" in err
    # nothing was left listening or written
    assert not os.path.exists(d.socket) and not d.pidfile.exists()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_tcp_port_in_use_is_refused_and_unix_socket_removed(daemon_factory):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        d = daemon_factory(extra_hosts=[f"tcp://127.0.0.1:{port}"], wait=False)
        assert d.wait_exit() == 1
    assert "address already in use" in d.stderr_text()
    assert not os.path.exists(d.socket)


# The wrapper plays systemd: puts the passed socket on fd 3, sets LISTEN_PID
# to its own pid (kept across exec) and LISTEN_FDS, then execs the daemon.
ACTIVATOR = """
import os, sys
fd = int(sys.argv[1])
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDS"] = "1"
os.execv(sys.executable, [sys.executable, "-m", "barge.daemon.main", *sys.argv[2:]])
"""


@pytest.mark.parametrize("host", ["fd://", "fd://3"])
def test_socket_activation(daemon_factory, host):
    root = daemon_factory.new_root()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(root / "barge.sock"))
    listener.listen(16)
    try:
        d = daemon_factory(
            root=root, hosts=[host], prefix=[sys.executable, "-c", ACTIVATOR, str(listener.fileno())],
            pass_fds=(listener.fileno(),),
        )
    finally:
        listener.close()  # the daemon holds its own copy
    assert d.request("GET", "/_ping")[0] == 200
    assert "listening on fd://3," in d.stderr_text()
    assert d.stop() == 0


def test_fd_without_activation_is_refused(daemon_factory):
    d = daemon_factory(hosts=["fd://"], wait=False)
    assert d.wait_exit() == 1
    assert "no sockets were passed by socket activation" in d.stderr_text()
