"""Helpers shared by the integration tests that run real containers.

``busybox_daemon`` is the module-wide daemon (with ``busybox:latest``) that
the API test modules use as their ``box`` fixture; the rest are the small
calls those tests make again and again: create/run/inspect/rm a container,
see whether an exit is recorded, speak raw HTTP (attach and exec upgrade the
connection), split a multiplexed stream, and look for what a removed
container may have left behind.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.conftest import (
    Daemon,
    make_busybox,
    remove_tree,
    require_exec_driver,
    require_graph_driver,
    short_exec_root,
    test_driver,
)

# ---------------------------------------------------------------------------
# a daemon with busybox
# ---------------------------------------------------------------------------


@contextmanager
def busybox_daemon(prefix: str = "barge-c-", config: str | None = None) -> Iterator[Daemon]:
    """A daemon under ``/tmp/<prefix>…`` with ``busybox:latest`` made (``config``:
    its daemon.toml); skips without the exec or graph driver; stopped and removed on exit."""
    require_exec_driver()
    require_graph_driver(test_driver())
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp" if os.path.isdir("/tmp") else None))
    d = None
    try:
        if config is not None:
            (root / "daemon.toml").write_text(config)
        d = Daemon(root, test_driver())
        make_busybox(d)
        yield d
    finally:
        if d is not None:
            d.close()
        remove_tree(root)
        remove_tree(short_exec_root(root))


# ---------------------------------------------------------------------------
# containers
# ---------------------------------------------------------------------------


def create(d: Daemon, name: str | None = None, expect: int = 201, **body):
    """``POST /containers/create`` (image ``busybox`` unless given): the id,
    or the error message when ``expect`` is not 201."""
    body.setdefault("Image", "busybox")
    path = "/v1.47/containers/create" + (f"?name={name}" if name else "")
    status, _, data = d.request("POST", path, body)
    assert status == expect, data
    return json.loads(data)["Id"] if expect == 201 else json.loads(data)["message"]


def run(d: Daemon, cmd: list[str], name: str | None = None, **body) -> str:
    """Create and start; the id."""
    cid = create(d, name, Cmd=cmd, **body)
    status, _, data = d.request("POST", f"/containers/{cid}/start")
    assert status == 204, data
    return cid


def output(d: Daemon, cmd: list[str], **body) -> str:
    """Run ``cmd`` in a new container to its end; its stdout, then its stderr (the container removed)."""
    cid = run(d, cmd, **body)
    try:
        d.request("POST", f"/containers/{cid}/wait")
        status, _, logs = d.request("GET", f"/containers/{cid}/logs?stdout=1&stderr=1")
        assert status == 200, logs
        return (joined(logs, 1) + joined(logs, 2)).decode()
    finally:
        rm(d, cid)


def inspect(d: Daemon, ref: str) -> dict:
    return d.json("GET", f"/containers/{ref}/json")


def rm(d: Daemon, ref: str) -> None:
    d.request("DELETE", f"/containers/{ref}?force=1&v=1")


def monitor_pid(d: Daemon, cid: str) -> int:
    text = (d.exec_root / "containers" / cid / "monitor.pid").read_text()
    return int(text.split()[0])


def exit_recorded(d: Daemon, cid: str) -> bool:
    """Whether the container's monitor wrote its exit (``exit.json``), with or without a daemon."""
    return (d.exec_root / "containers" / cid / "exit.json").exists()


def leftovers(d: Daemon, cid: str) -> list[str]:
    """What of container ``cid`` is still on the host (state dir, container
    dir, cgroups, mounts)."""
    found = []
    if (d.exec_root / "containers" / cid).exists():
        found.append("state dir")
    if (d.data_root / "containers" / cid).exists():
        found.append("container dir")
    for ctl in Path("/sys/fs/cgroup").iterdir():
        if (ctl / "barge" / cid).exists():
            found.append(f"cgroup {ctl.name}")
    with open("/proc/self/mountinfo") as fh:
        if cid in fh.read():
            found.append("mount")
    return found


# ---------------------------------------------------------------------------
# raw HTTP and streams
# ---------------------------------------------------------------------------


class Raw:
    """An HTTP request on a raw socket, its response head parsed; the rest is the stream."""

    def __init__(self, d: Daemon, method: str, path: str, headers: dict | None = None, body: bytes = b""):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.connect(d.socket)
        head = f"{method} {path} HTTP/1.1\r\nHost: docker\r\n"
        headers = dict(headers or {})
        headers.setdefault("Connection", "close")  # so read_all() ends with the response
        for k, v in headers.items():
            head += f"{k}: {v}\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        self.sock.sendall(head.encode() + body)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            assert chunk, f"connection closed before the response head: {buf!r}"
            buf += chunk
        head_bytes, self.rest = buf.split(b"\r\n\r\n", 1)
        self.lines = head_bytes.decode().split("\r\n")
        self.status_line = self.lines[0]
        self.headers = {k.lower(): v for k, _, v in (ln.partition(": ") for ln in self.lines[1:])}

    def read_all(self) -> bytes:
        out = self.rest
        self.rest = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return out
            out += chunk

    def read_until(self, needle: bytes, timeout: float = 10) -> bytes:
        end = time.monotonic() + timeout
        out = self.rest
        while needle not in out and time.monotonic() < end:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            out += chunk
        self.rest = b""
        return out

    def close(self) -> None:
        self.sock.close()


UPGRADE = {"Connection": "Upgrade", "Upgrade": "tcp", "Content-Type": "text/plain"}


def attach(d: Daemon, cid: str, query: str = "stream=1&stdout=1&stderr=1", upgrade: bool = True) -> Raw:
    return Raw(d, "POST", f"/v1.47/containers/{cid}/attach?{query}", UPGRADE if upgrade else {})


def dechunk(data: bytes) -> bytes:
    """A chunked body's content."""
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out


def frames(data: bytes) -> list[tuple[int, bytes]]:
    """A multiplexed stream as ``(stream, payload)`` frames."""
    out = []
    while data:
        stream, size = struct.unpack(">BxxxL", data[:8])
        out.append((stream, data[8:8 + size]))
        data = data[8 + size:]
    return out


def joined(data: bytes, stream: int) -> bytes:
    return b"".join(p for s, p in frames(data) if s == stream)
