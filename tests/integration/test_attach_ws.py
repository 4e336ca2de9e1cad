"""``GET /containers/{id}/attach/ws``: the attach over a WebSocket, against real containers.

Two clients: a small RFC 6455 client written here (the handshake's accept
key, masked frames out, frames in, the close handshake), and
``websocket-client``, the library the Docker SDK's ``attach_socket(ws=True)``
uses. What dockerd 20.10 does was read off the reference: output
unmultiplexed, binary frames from API 1.28 on and text frames before,
stdin from text or binary messages, every stream attached before API 1.42.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
import time
from urllib.parse import quote

import pytest

from barge.testing.wait import wait_for
from tests.conftest import Daemon
from tests.integration.helpers import Raw, inspect, rm, run

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE = 0x1, 0x2, 0x8


class WsClient:
    """RFC 6455 from the client's side, on the daemon's unix socket."""

    def __init__(self, d: Daemon, path: str) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        raw = Raw(d, "GET", path, {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key,
                                   "Sec-WebSocket-Version": "13"})
        self.sock, self.buf, self.status, self.headers = raw.sock, raw.rest, raw.status_line, raw.headers
        self.expected_accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()

    def send(self, payload: bytes, opcode: int = BINARY) -> None:
        """One masked frame (a client must mask, RFC 6455 5.3)."""
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _need(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the connection ended inside a frame")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self) -> tuple[int, bytes]:
        """The next frame: (opcode, payload); the server's frames are never masked."""
        b0, b1 = self._need(2)
        assert b0 & 0x80, "a fragmented frame"
        assert not b1 & 0x80, "the server masked a frame"
        size = b1 & 0x7F
        if size == 126:
            size = struct.unpack("!H", self._need(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", self._need(8))[0]
        return b0 & 0x0F, self._need(size)

    def read_until(self, needle: bytes) -> tuple[set[int], bytes]:
        """Data frames until ``needle`` shows: the opcodes seen and the bytes."""
        kinds, data = set(), b""
        while needle not in data:
            op, payload = self.recv()
            assert op != CLOSE, f"closed before {needle!r}: {data!r}"
            kinds.add(op)
            data += payload
        return kinds, data

    def frames_to_close(self) -> tuple[bytes, int | None]:
        """Data until the server's close frame: the bytes and the close code."""
        data = b""
        while True:
            op, payload = self.recv()
            if op == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                self.send(payload[:2], CLOSE)  # the closing handshake's reply
                return data, code
            data += payload

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def shell(box):
    """A running ``sh`` with stdin kept open (``-i``), no terminal."""
    cid = run(box, ["sh"], OpenStdin=True, AttachStdin=True)
    yield cid
    rm(box, cid)


def test_rfc6455_handshake_output_stdin_and_close(box, shell):
    ws = WsClient(box, f"/v1.47/containers/{shell}/attach/ws?stream=1&stdin=1&stdout=1&stderr=1")
    try:
        assert ws.status == "HTTP/1.1 101 Switching Protocols"
        assert ws.headers["upgrade"].lower() == "websocket"
        assert ws.headers["sec-websocket-accept"] == ws.expected_accept
        ws.send(b"echo hi-$((1+2))\n", TEXT)  # text or binary: both are stdin
        kinds, out = ws.read_until(b"hi-3\n")
        assert kinds == {BINARY} and out == b"hi-3\n"  # raw, never multiplexed
        ws.send(b"echo oops >&2\n")
        assert ws.read_until(b"oops\n")[1] == b"oops\n"
        ws.send(struct.pack("!H", 1000), CLOSE)  # the client ends the session: the server answers the close
        op, payload = ws.recv()
        while op != CLOSE:
            op, payload = ws.recv()
        assert struct.unpack("!H", payload[:2])[0] == 1000
    finally:
        ws.close()
    # stdin's end is not the process's (no StdinOnce): it runs on, and a new session reaches it
    assert inspect(box, shell)["State"]["Running"] is True
    again = WsClient(box, f"/v1.47/containers/{shell}/attach/ws?stream=1&stdin=1&stdout=1")
    try:
        again.send(b"echo back\n")
        assert again.read_until(b"back\n")[1] == b"back\n"
    finally:
        again.close()


def test_text_frames_and_every_stream_before_1_28(box, shell):
    ws = WsClient(box, f"/v1.27/containers/{shell}/attach/ws?stream=1")  # no stdin/stdout asked: all attached
    try:
        assert ws.status.startswith("HTTP/1.1 101")
        ws.send(b"echo old; echo olderr >&2\n")
        kinds, out = ws.read_until(b"olderr\n")
        assert kinds == {TEXT} and b"old\n" in out
    finally:
        ws.close()


def test_from_1_42_the_query_picks_the_streams(box):
    cid = run(box, ["sh", "-c", "sleep 0.5; echo out; echo err >&2; sleep 0.5"])
    try:
        ws = WsClient(box, f"/v1.47/containers/{cid}/attach/ws?stream=1&stderr=1")
        data, code = ws.frames_to_close()
        ws.close()
        assert data == b"err\n" and code == 1000
    finally:
        rm(box, cid)


def test_logs_replay_and_the_exit_closes_with_websocket_client(box):
    websocket = pytest.importorskip("websocket", reason="websocket-client is not installed (the test extra)")
    cid = run(box, ["sh", "-c", "echo before; sleep 1; echo after"])
    try:
        wait_for(lambda: b"before" in box.request("GET", f"/containers/{cid}/logs?stdout=1")[2], timeout=10,
                 what="the first line in the log")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(box.socket)
        conn = websocket.create_connection(f"ws://docker/v1.41/containers/{cid}/attach/ws?logs=1&stream=1",
                                           socket=sock, timeout=20)
        got, opcodes = b"", set()
        while True:
            opcode, data = conn.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                assert struct.unpack("!H", data[:2])[0] == 1000
                break
            opcodes.add(opcode)
            got += data
        conn.close()
        assert got == b"before\nafter\n" and opcodes == {websocket.ABNF.OPCODE_BINARY}
    finally:
        rm(box, cid)


def test_detach_keys_end_the_session_only(box):
    cid = run(box, ["sh"], Tty=True, OpenStdin=True, AttachStdin=True)
    try:
        t0 = time.time()
        ws = WsClient(box, f"/v1.47/containers/{cid}/attach/ws?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x")
        ws.send(b"echo tty-$((2*3))\n")
        ws.read_until(b"tty-6")
        ws.send(b"\x18")
        rest, code = ws.frames_to_close()
        ws.close()
        assert code == 1000
        assert inspect(box, cid)["State"]["Running"] is True
        query = f"since={t0}&until={time.time() + 0.01}&filters=" + quote(json.dumps({"container": [cid]}))
        status, _, data = box.request("GET", "/events?" + query)
        actions = [json.loads(line)["Action"] for line in data.splitlines() if line.strip()]
        assert actions == ["attach", "detach"]
    finally:
        rm(box, cid)


def test_refusals_before_the_handshake(box, shell):
    status, _, data = box.request("GET", f"/v1.47/containers/{shell}/attach/ws?stream=1")
    assert status == 400 and json.loads(data)["message"] == "not websocket protocol"
    ws = WsClient(box, "/v1.47/containers/nothere/attach/ws?stream=1")
    assert ws.status.startswith("HTTP/1.1 404")
    ws.close()
    ws = WsClient(box, f"/v1.47/containers/{shell}/attach/ws?stream=1&detachKeys=ctrl-1")
    try:
        assert ws.status.startswith("HTTP/1.1 400")
        assert json.loads(ws.buf or ws.sock.recv(4096))["message"] == "Invalid detach keys (ctrl-1) provided"
    finally:
        ws.close()
