"""Hijacked connections: ``attach`` (and later ``exec start``) take over the
HTTP connection after ``101 UPGRADED`` and carry raw bytes both ways.

The request is written by hand on a fresh socket, and the status line and
headers are read by hand too, because ``http.client`` would buffer bytes
that already belong to the stream. Whatever arrived after the blank line is
kept and handed out first.
"""

from __future__ import annotations

import json
import socket
from typing import Mapping
from urllib.parse import urlencode

from barge.client import transport
from barge.client.errors import APIError, ClientError

MAX_HEADER = 64 * 1024
RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"


class HijackedConnection:
    """A socket after the upgrade: read output, write stdin, half-close."""

    def __init__(self, sock: socket.socket, buffered: bytes, status: int, headers: dict[str, str]):
        self.sock = sock
        self._buffered = buffered
        self.status = status
        self.headers = headers
        self._closed = False

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    def recv(self, size: int = 65536) -> bytes:
        """Up to ``size`` bytes; ``b""`` at end of stream (or once closed)."""
        if self._buffered:
            data, self._buffered = self._buffered[:size], self._buffered[size:]
            return data
        try:
            return self.sock.recv(size)
        except OSError:
            if self._closed:
                return b""
            raise

    def sendall(self, data) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        """Half-close: the daemon sees EOF on the container's stdin and keeps
        sending output. (Not on TLS: dropping the TLS layer would end reads.)"""
        if hasattr(self.sock, "unwrap"):
            return
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        """Close both ways; a thread blocked in :meth:`recv` wakes with EOF."""
        if self._closed:
            return
        self._closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def __enter__(self) -> "HijackedConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    buf = b""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            return buf[:end], buf[end + 4:]
        if len(buf) > MAX_HEADER:
            raise ClientError("the daemon's response headers are too long")
        data = sock.recv(65536)
        if not data:
            raise ClientError("error during connect: the daemon closed the connection before answering")
        buf += data


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ClientError(f"malformed HTTP response {lines[0]!r}")
    try:
        status = int(parts[1])
    except ValueError:
        raise ClientError(f"malformed HTTP status {lines[0]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers


def _read_body(sock: socket.socket, rest: bytes, headers: dict[str, str]) -> bytes:
    """The body of an error answer: Content-Length, chunked, or until close."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        data, out = rest, b""
        while True:
            while b"\r\n" not in data:
                more = sock.recv(65536)
                if not more:
                    return out
                data += more
            line, data = data.split(b"\r\n", 1)
            size = int(line.split(b";")[0] or b"0", 16)
            if size == 0:
                return out
            while len(data) < size + 2:
                more = sock.recv(65536)
                if not more:
                    return out + data[:size]
                data += more
            out += data[:size]
            data = data[size + 2:]
    length = headers.get("content-length")
    body = rest
    if length is not None:
        want = int(length)
        while len(body) < want:
            more = sock.recv(65536)
            if not more:
                break
            body += more
        return body[:want]
    while True:
        more = sock.recv(65536)
        if not more:
            return body
        body += more


def _message(body: bytes, headers: dict[str, str], status: int) -> str:
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("message") is not None:
            return str(data["message"])
    return text or f"{status}"


def hijack(
    endpoint: transport.Endpoint,
    method: str,
    path: str,
    query: Mapping[str, object] | None = None,
    body: bytes | None = None,
    content_type: str = "text/plain",
) -> HijackedConnection:
    """Send an upgrade request and return the connection after ``101``.

    An error status raises :class:`APIError` with the daemon's message; any
    other status is docker's ``unable to upgrade to tcp, received N``.
    """
    if query:
        pairs = [(k, v) for k, v in query.items() if v is not None]
        if pairs:
            path = f"{path}?{urlencode(pairs)}"
    host = "barge" if endpoint.scheme == "unix" else endpoint.address
    payload = body or b""
    head = (
        f"{method} {path} HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "User-Agent: barge-client\r\n"
        "Connection: Upgrade\r\n"
        "Upgrade: tcp\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "\r\n"
    ).encode("latin-1")
    sock = transport.open_socket(endpoint)
    try:
        sock.sendall(head + payload)
        raw_head, rest = _read_head(sock)
        status, headers = _parse_head(raw_head)
        if status == 101:
            return HijackedConnection(sock, rest, status, headers)
        if status >= 400:
            raise APIError(status, _message(_read_body(sock, rest, headers), headers, status))
        raise ClientError(f"unable to upgrade to tcp, received {status}")
    except BaseException:
        sock.close()
        raise
