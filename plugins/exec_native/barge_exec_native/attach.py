"""The attach protocol's framing, and a small client for it.

The protocol itself is documented in :mod:`barge.execdriver` (ATTACH
PROTOCOL). Frames are ``<u8 stream><u32 big-endian length><payload>``;
stream 1 stdout, 2 stderr, 3 exit (payload ``{"exit_code": N}``). The monitor
uses :func:`frame`; the driver and tests use :class:`AttachClient`.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time

STDOUT = 1
STDERR = 2
EXIT = 3

_HEADER = struct.Struct(">BI")
HEADER_SIZE = _HEADER.size


def unix_address(sock: socket.socket, path: str, op: str) -> None:
    """``sock.bind`` / ``sock.connect`` to ``path`` even beyond sun_path's 108 bytes.

    A long path goes through an O_PATH descriptor of its directory
    (``/proc/self/fd/<n>/<name>``), which names the same file.
    """
    call = getattr(sock, op)
    if len(os.fsencode(path)) < 108:
        call(path)
        return
    dir_fd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        call(f"/proc/self/fd/{dir_fd}/{os.path.basename(path)}")
    finally:
        os.close(dir_fd)


def frame(stream: int, payload: bytes) -> bytes:
    return _HEADER.pack(stream, len(payload)) + payload


class ProtocolError(Exception):
    """The monitor answered something that is not the attach protocol."""


class AttachClient:
    """One connection to a monitor's ``attach.sock``.

    ``hello`` is the first JSON line (an attach request or a control
    message); :attr:`reply` holds the monitor's answer.
    """

    def __init__(self, sock_path: str, hello: dict, timeout: float | None = 10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self._buf = b""
        try:
            self.sock.settimeout(timeout)
            unix_address(self.sock, sock_path, "connect")
            self.sock.sendall(json.dumps(hello).encode() + b"\n")
            self.reply = self._read_line()
        except BaseException:
            self.sock.close()
            raise

    def _read_line(self) -> dict:
        while b"\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ProtocolError("monitor closed the connection before answering")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except ValueError as exc:
            raise ProtocolError(f"bad reply from monitor: {line[:200]!r}") from exc
        if not isinstance(reply, dict):
            raise ProtocolError(f"bad reply from monitor: {line[:200]!r}")
        return reply

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_stdin(self) -> None:
        """Half-close: the monitor closes the process's stdin when it has ``stdin_once``."""
        self.sock.shutdown(socket.SHUT_WR)

    def read_frame(self) -> tuple[int, bytes] | None:
        """The next frame, or None when the monitor closed the connection."""
        while len(self._buf) < HEADER_SIZE:
            chunk = self.sock.recv(65536)
            if not chunk:
                if self._buf:
                    raise ProtocolError("connection closed inside a frame header")
                return None
            self._buf += chunk
        stream, size = _HEADER.unpack_from(self._buf)
        while len(self._buf) < HEADER_SIZE + size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ProtocolError("connection closed inside a frame")
            self._buf += chunk
        payload = self._buf[HEADER_SIZE : HEADER_SIZE + size]
        self._buf = self._buf[HEADER_SIZE + size :]
        return stream, payload

    def read_all(self, deadline: float | None = None) -> tuple[bytes, bytes, int | None]:
        """Read until the connection ends: (stdout, stderr, exit code or None)."""
        out, err, code = [], [], None
        while True:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("attach stream did not end in time")
                self.sock.settimeout(left)
            got = self.read_frame()
            if got is None:
                return b"".join(out), b"".join(err), code
            stream, payload = got
            if stream == STDOUT:
                out.append(payload)
            elif stream == STDERR:
                err.append(payload)
            elif stream == EXIT:
                code = json.loads(payload).get("exit_code")

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "AttachClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def control(state_dir: str, message: dict, timeout: float | None = 10.0) -> dict:
    """Send one control message to a container's monitor and return its reply."""
    with AttachClient(os.path.join(state_dir, "attach.sock"), message, timeout) as client:
        return client.reply
