"""A small Docker Engine API client over a unix socket, for the load benchmark.

The benchmarks measure the daemon, so the client must cost little and hide
nothing: plain ``http.client`` on a unix socket, one connection per thread,
JSON in and out, and the two streams the load needs (``/events`` lines and
the multiplexed frames of ``/logs?follow=1``).
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
from typing import Any, Iterator
from urllib.parse import quote


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 120):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class ApiError(Exception):
    def __init__(self, status: int, body: bytes):
        super().__init__(f"{status}: {body[:300]!r}")
        self.status = status


class Api:
    """One keep-alive connection (not shared between threads)."""

    def __init__(self, socket_path: str, timeout: float = 120):
        self.path = socket_path
        self.timeout = timeout
        self.conn = UnixConnection(socket_path, timeout)

    def request(self, method: str, url: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (0, 1):
            try:
                self.conn.request(method, url, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = UnixConnection(self.path, self.timeout)
                if attempt:
                    raise
        if resp.status >= 400:
            raise ApiError(resp.status, raw)
        if raw and resp.getheader("Content-Type", "").startswith("application/json"):
            return json.loads(raw)
        return raw

    def close(self) -> None:
        self.conn.close()

    # -- the calls the load makes ---------------------------------------------

    def create(self, cmd: list[str], name: str = "", network: str = "none", restart: str = "") -> str:
        host: dict[str, Any] = {"NetworkMode": network}
        if restart:
            host["RestartPolicy"] = {"Name": restart}
        body = {"Image": "busybox", "Cmd": cmd, "HostConfig": host}
        url = "/containers/create" + (f"?name={quote(name)}" if name else "")
        return self.request("POST", url, body)["Id"]

    def start(self, cid: str) -> None:
        self.request("POST", f"/containers/{cid}/start")

    def remove(self, cid: str) -> None:
        self.request("DELETE", f"/containers/{cid}?force=1&v=1")

    def inspect(self, cid: str) -> dict:
        return self.request("GET", f"/containers/{cid}/json")

    def ps(self, all_: bool = False) -> list[dict]:
        return self.request("GET", "/containers/json" + ("?all=1" if all_ else ""))

    def ping(self) -> bytes:
        return self.request("GET", "/_ping")


def stream(socket_path: str, url: str, timeout: float | None = None) -> tuple[UnixConnection, http.client.HTTPResponse]:
    """A GET whose body is read as it comes; the caller closes the connection."""
    conn = UnixConnection(socket_path, timeout=timeout)  # type: ignore[arg-type]
    conn.request("GET", url)
    resp = conn.getresponse()
    if resp.status >= 400:
        raise ApiError(resp.status, resp.read())
    return conn, resp


def event_lines(resp: http.client.HTTPResponse) -> Iterator[dict]:
    while True:
        line = resp.readline()
        if not line:
            return
        if line.strip():
            yield json.loads(line)


def log_frames(resp: http.client.HTTPResponse) -> Iterator[bytes]:
    """Payloads of Docker's multiplexed stream (8-byte header: stream, 0, 0, 0, big-endian size)."""
    while True:
        head = resp.read(8)
        if len(head) < 8:
            return
        size = struct.unpack(">I", head[4:])[0]
        payload = resp.read(size)
        if len(payload) < size:
            return
        yield payload
