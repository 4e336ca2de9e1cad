"""The daemon's side of a monitor's attach socket (ATTACH PROTOCOL in :mod:`barge.execdriver`).

:func:`connect` does the one-line JSON handshake and returns the connected
socket; the API then proxies frames (``<u8 stream><u32 length><payload>``;
stream 3 is the exit) to the hijacked HTTP connection. :func:`resize` sends
a control request.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from barge.contracts.attach import EXITED, HEADER, STDERR, STDOUT  # noqa: F401 (the frames' vocabulary)
from barge.errors import BargeError, Conflict, InvalidParameter, NotFound

#: The error kinds a monitor names in a refusal (``"type"``), so that a refusal is the client's 4xx, not a 500.
_REFUSALS: dict[str, type[BargeError]] = {"Conflict": Conflict, "NotFound": NotFound,
                                          "InvalidParameter": InvalidParameter}

HANDSHAKE_TIMEOUT = 10.0


class MonitorGone(Conflict):
    """The monitor's attach socket is gone or closing: its process has just exited."""


def _read_line(sock: socket.socket, limit: int = 65536) -> bytes:
    """One line, never reading past its newline (frames may follow at once)."""
    buf = b""
    while not buf.endswith(b"\n"):
        peek = sock.recv(4096, socket.MSG_PEEK)
        if not peek:
            raise MonitorGone("the container's monitor closed its attach socket during the handshake")
        cut = peek.find(b"\n")
        take = len(peek) if cut < 0 else cut + 1
        buf += sock.recv(take)
        if len(buf) > limit:
            raise BargeError("the container's monitor sent an overlong handshake line")
    return buf


def _connect_path(sock: socket.socket, path: str) -> None:
    """connect(2) through an O_PATH fd of the directory when the path exceeds sun_path (108 bytes)."""
    if len(os.fsencode(path)) < 108:
        sock.connect(path)
        return
    dir_fd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sock.connect(f"/proc/self/fd/{dir_fd}/{os.path.basename(path)}")
    finally:
        os.close(dir_fd)


def _exchange(state_dir: str | Path, request: dict, timeout: float) -> socket.socket:
    path = str(Path(state_dir) / "attach.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.settimeout(timeout)
        try:
            _connect_path(sock, path)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise MonitorGone(f"the container's monitor is not reachable ({path}): {exc.strerror}") from None
        sock.sendall(json.dumps(request).encode() + b"\n")
        answer = json.loads(_read_line(sock))
        if not answer.get("ok"):
            kind = _REFUSALS.get(answer.get("type", ""), BargeError)
            raise kind(f"attach refused by the container's monitor: {answer.get('error', 'no reason given')}")
        sock.settimeout(None)
        return sock
    except BaseException:
        sock.close()
        raise


def connect(state_dir: str | Path, *, stdin: bool, stdout: bool, stderr: bool, exec_id: str | None = None,
            detach_keys: str | None = None, timeout: float = HANDSHAKE_TIMEOUT) -> socket.socket:
    """An attached socket: our writes are the process's stdin, frames come back."""
    request = {"stdin": stdin, "stdout": stdout, "stderr": stderr, "exec_id": exec_id, "detach_keys": detach_keys}
    return _exchange(state_dir, request, timeout)


def resize(state_dir: str | Path, height: int, width: int, exec_id: str | None = None,
           timeout: float = HANDSHAKE_TIMEOUT) -> None:
    sock = _exchange(state_dir, {"control": "resize", "exec_id": exec_id, "height": height, "width": width}, timeout)
    sock.close()
