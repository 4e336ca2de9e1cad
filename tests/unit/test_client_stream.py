"""Client side of container streams on real sockets, against a scripted fake
daemon: hijack (101, bytes after the headers, half-close), the 8-byte
framing, wait (headers before the body), detach keys and signal names.

``ScriptedDaemon`` answers each request with a handler that may write raw
bytes on the socket, which the hijack and wait tests need (and which
http.server cannot do); test_cli_containers.py reuses it.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import socket
import socketserver
import threading
import time

import pytest

from barge.client import stdcopy
from barge.client.api import Client
from barge.client.attach import Detached, Streamer
from barge.client.errors import APIError, ClientError, StreamError
from barge.client.runconfig import parse_detach_keys
from barge.client.signals import SignalRouter, signal_name
from barge.client.term import EscapeProxy
from barge.testing.wait import wait_for

UPGRADED = (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")


class Request:
    def __init__(self, sock, method, path, headers, body):
        self.sock, self.method, self.path, self.headers, self.body = sock, method, path, headers, body
        self.route = path.split("?")[0]
        if self.route.startswith("/v1."):
            self.route = "/" + self.route.split("/", 2)[2]
        from urllib.parse import parse_qs, urlsplit

        self.query = {k: v[-1] for k, v in parse_qs(urlsplit(path).query, keep_blank_values=True).items()}

    def json(self):
        return json.loads(self.body) if self.body else None

    def reply(self, status=200, body=b"", headers=None, reason="OK"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        head = f"HTTP/1.1 {status} {reason}\r\n"
        for k, v in {**(headers or {}), "Content-Length": str(len(body)), "Connection": "close"}.items():
            head += f"{k}: {v}\r\n"
        self.sock.sendall(head.encode() + b"\r\n" + body)

    def error(self, status, message):
        self.reply(status, {"message": message})

    def recv_all(self, timeout=5.0) -> bytes:
        """Read the client's bytes until it half-closes (EOF)."""
        self.sock.settimeout(timeout)
        data = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, TimeoutError)):
            return  # the client went away first: expected in stream tests
        super().handle_error(request, client_address)


class ScriptedDaemon:
    """A unix-socket HTTP/1.1 server whose routes are Python handlers."""

    def __init__(self, path: str, api_version: str = "1.47"):
        self.path = path
        self.requests: list[Request] = []
        self.handlers: dict[tuple[str, str], object] = {}
        self.api_version = api_version
        fake = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                sock = self.request
                buf = b""
                while b"\r\n\r\n" not in buf:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buf += data
                head, rest = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length") or 0)
                if headers.get("transfer-encoding") == "chunked":
                    raise AssertionError("chunked request bodies are not expected here")
                while len(rest) < length:
                    rest += sock.recv(65536)
                req = Request(sock, method, path, headers, rest[:length])
                fake.requests.append(req)
                if req.route == "/_ping":
                    req.reply(200, b"" if method == "HEAD" else b"OK", {"Api-Version": fake.api_version, "Ostype": "linux"})
                    return
                handler = fake.handlers.get((method, req.route))
                if handler is None:
                    req.error(404, "page not found")
                    return
                handler(req)

        self.server = _Server(path, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def on(self, method: str, route: str, handler=None, *, status=200, body=b"", headers=None):
        if handler is None:
            def handler(req, status=status, body=body, headers=headers):
                req.reply(status, body, headers)
        self.handlers[(method, route)] = handler

    def calls(self) -> list[str]:
        return [f"{r.method} {r.route}" for r in self.requests if r.route != "/_ping"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake(tmp_path):
    d = ScriptedDaemon(str(tmp_path / "fake.sock"))
    yield d
    d.close()


def api_for(fake) -> Client:
    return Client("unix://" + fake.path)


# ------------------------------------------------------------------ framing

def _chunked_reader(data: bytes, seed: int):
    rnd = random.Random(seed)
    pos = [0]

    def read(n: int) -> bytes:
        if pos[0] >= len(data):
            return b""
        k = min(n, rnd.randint(1, 23))
        out = data[pos[0]:pos[0] + k]
        pos[0] += k
        return out

    return read


def test_demux_keeps_streams_apart_across_any_split():
    payloads = [(1, b"out-1\n"), (2, b"err-1\n"), (1, b"x" * 70000), (2, b""), (0, b"stdin-echo"), (2, b"err-2")]
    data = b"".join(stdcopy.frame(s, p) for s, p in payloads)
    for seed in range(20):
        out, err = bytearray(), bytearray()
        n = stdcopy.demux(_chunked_reader(data, seed), out.extend, err.extend)
        assert bytes(out) == b"out-1\n" + b"x" * 70000 + b"stdin-echo"
        assert bytes(err) == b"err-1\nerr-2"
        assert n == len(out) + len(err)


def test_demux_systemerr_and_unknown_stream():
    data = stdcopy.frame(1, b"ok") + stdcopy.frame(3, b"driver exploded")
    out = bytearray()
    with pytest.raises(StreamError, match="error from daemon in stream: driver exploded"):
        stdcopy.demux(_chunked_reader(data, 1), out.extend, out.extend)
    assert bytes(out) == b"ok"
    with pytest.raises(StreamError, match="Unrecognized input header: 9"):
        stdcopy.demux(_chunked_reader(stdcopy.frame(9, b"?"), 2), out.extend, out.extend)


def test_demux_large_payload_is_not_copied_per_byte():
    data = stdcopy.frame(1, b"a" * (8 << 20))
    pos = [0]

    def read(n):
        chunk = data[pos[0]:pos[0] + n]
        pos[0] += len(chunk)
        return chunk

    writes = []
    start = time.perf_counter()
    stdcopy.demux(read, lambda mv: writes.append(len(mv)), lambda mv: None)
    assert sum(writes) == 8 << 20
    assert len(writes) <= (8 << 20) // stdcopy.READ_SIZE + 2
    assert time.perf_counter() - start < 1.0


def test_sink_writes_to_a_file_descriptor(tmp_path):
    path = tmp_path / "out"
    with open(path, "w") as fh:
        fh.write("text first\n")
        sink = stdcopy.sink_for(fh)  # flushes the text layer before raw writes
        sink(memoryview(b"raw bytes\n"))
    assert path.read_bytes() == b"text first\nraw bytes\n"


# ------------------------------------------------------------------ hijack

def test_attach_upgrades_and_keeps_bytes_sent_with_the_headers(fake):
    seen = {}

    def attach(req):
        seen["headers"], seen["query"] = req.headers, req.query
        # The 101 and the first frames in one write: the client must not lose them.
        req.sock.sendall(UPGRADED + stdcopy.frame(1, b"early\n"))
        time.sleep(0.05)  # not a wait: the late frame comes in a later write
        req.sock.sendall(stdcopy.frame(2, b"late\n"))
        req.sock.close()

    fake.on("POST", "/containers/c1/attach", attach)
    conn = api_for(fake).attach("c1", stdin=True, stdout=True, stderr=True, detach_keys="ctrl-x,x")
    assert conn.status == 101 and conn.content_type == "application/vnd.docker.multiplexed-stream"
    out, err = bytearray(), bytearray()
    stdcopy.demux(conn.recv, out.extend, err.extend)
    conn.close()
    assert bytes(out) == b"early\n" and bytes(err) == b"late\n"
    assert seen["headers"]["connection"] == "Upgrade" and seen["headers"]["upgrade"] == "tcp"
    assert seen["query"] == {"stream": "1", "stdin": "1", "stdout": "1", "stderr": "1", "detachKeys": "ctrl-x,x"}
    assert fake.requests[-1].path.startswith("/v1.47/containers/c1/attach?")


def test_attach_error_status_and_missing_upgrade(fake):
    fake.on("POST", "/containers/gone/attach", lambda req: req.error(404, "No such container: gone"))
    with pytest.raises(APIError) as err:
        api_for(fake).attach("gone")
    assert err.value.status == 404 and str(err.value) == "Error response from daemon: No such container: gone"
    fake.on("POST", "/containers/old/attach", lambda req: req.reply(200, b"", {"Content-Type": "application/vnd.docker.raw-stream"}))
    with pytest.raises(ClientError, match="unable to upgrade to tcp, received 200"):
        api_for(fake).attach("old")


def test_stdin_eof_half_closes_and_output_keeps_flowing(fake):
    got = {}

    def attach(req):
        req.sock.sendall(UPGRADED)
        got["stdin"] = req.recv_all()  # returns at the client's half-close
        # Output after stdin's EOF must still reach the client.
        req.sock.sendall(stdcopy.frame(1, got["stdin"].upper()) + stdcopy.frame(2, b"done"))
        req.sock.shutdown(socket.SHUT_RDWR)
        req.sock.close()

    fake.on("POST", "/containers/c/attach", attach)
    conn = api_for(fake).attach("c", stdin=True)
    stdout, stderr = io.BytesIO(), io.BytesIO()
    streamer = Streamer(conn, io.BytesIO(b"hello\nworld\n"), stdout, stderr, tty=False)
    streamer.start()
    streamer.wait(timeout=10)
    assert got["stdin"] == b"hello\nworld\n"
    assert stdout.getvalue() == b"HELLO\nWORLD\n" and stderr.getvalue() == b"done"


def test_tty_stream_is_raw_and_detach_keys_end_it(fake):
    got = {}

    def attach(req):
        req.sock.sendall(UPGRADED.replace(b"multiplexed", b"raw") + b"$ ")
        req.sock.settimeout(5)
        data = b""
        while b"ls" not in data:
            data += req.sock.recv(100)
        got["stdin"] = data
        while req.sock.recv(100):  # held open until the client detaches and hangs up
            pass
        req.sock.close()

    fake.on("POST", "/containers/t/attach", attach)
    conn = api_for(fake).attach("t", stdin=True)
    stdout = io.BytesIO()
    r, w = os.pipe()
    os.write(w, b"ls\x10")
    streamer = Streamer(conn, os.fdopen(r, "rb"), stdout, None, tty=True, detach_keys=parse_detach_keys("ctrl-p,ctrl-q"))
    streamer.start()
    wait_for(lambda: "stdin" in got, what="the first read (ls, ctrl-p) to be forwarded")
    os.write(w, b"\x11")  # the second key in a later read completes the sequence
    with pytest.raises(Detached, match="read escape sequence"):
        streamer.wait(timeout=10)
    conn.close()
    os.close(w)
    assert got["stdin"] == b"ls"
    assert stdout.getvalue().startswith(b"$ ")


def test_escape_proxy():
    proxy = EscapeProxy(b"\x10\x11")
    assert proxy.feed(b"abc") == (b"abc", False)
    assert proxy.feed(b"x\x10") == (b"x", False)  # held back: might be the start
    assert proxy.feed(b"y") == (b"\x10y", False)  # it was not
    assert proxy.feed(b"\x10") == (b"", False)
    assert proxy.feed(b"\x11rest") == (b"", True)
    assert EscapeProxy(b"\x10\x11").feed(b"ab\x10\x11cd") == (b"ab", True)
    held = EscapeProxy(b"\x10\x11")
    held.feed(b"\x10")
    assert held.flush() == b"\x10"
    assert EscapeProxy(b"").feed(b"\x10\x11") == (b"\x10\x11", False)


def test_detach_key_names():
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("a,ctrl-@,ctrl-_,DEL") == b"a\x00\x1f\x7f"
    with pytest.raises(ClientError, match="Unknown character: 'ctrl-1'"):
        parse_detach_keys("ctrl-1")


# ------------------------------------------------------------------ wait

def test_wait_returns_at_headers_and_reads_the_status_later(fake):
    release = threading.Event()

    def wait(req):
        req.sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        release.wait(10)
        body = json.dumps({"StatusCode": 3, "Error": None}).encode()
        req.sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        req.sock.close()

    fake.on("POST", "/containers/c/wait", wait)
    waiter = api_for(fake).wait("c", "next-exit")  # must not block on the body
    assert fake.requests[-1].query == {"condition": "next-exit"}
    release.set()
    assert waiter.result() == {"StatusCode": 3, "Error": None}


def test_wait_error_is_an_api_error(fake):
    fake.on("POST", "/containers/nope/wait", lambda req: req.error(404, "No such container: nope"))
    with pytest.raises(APIError, match="No such container: nope"):
        api_for(fake).wait("nope")


# ------------------------------------------------------------------ calls

def test_queries_leave_unset_flags_out(fake):
    for route in ("stop", "restart", "kill", "pause", "unpause", "start", "resize", "rename"):
        fake.on("POST", f"/containers/c/{route}", status=204)
    fake.on("DELETE", "/containers/c", status=204)
    api = api_for(fake)
    api.stop("c")
    api.stop("c", 0, "USR1")
    api.kill("c")
    api.kill("c", "HUP")
    api.remove_container("c", force=True, volumes=True)
    api.resize("c", 24, 80)
    api.rename("c", "new")
    queries = [r.query for r in fake.requests if r.route != "/_ping"]
    assert queries == [{}, {"t": "0", "signal": "USR1"}, {}, {"signal": "HUP"}, {"v": "1", "force": "1"},
                       {"h": "24", "w": "80"}, {"name": "new"}]


def test_create_sends_json_with_name(fake):
    fake.on("POST", "/containers/create", lambda req: req.reply(201, {"Id": "f" * 64, "Warnings": []}))
    assert api_for(fake).create_container({"Image": "busybox"}, name="x")["Id"] == "f" * 64
    req = fake.requests[-1]
    assert req.query == {"name": "x"} and req.headers["content-type"] == "application/json"
    assert req.json() == {"Image": "busybox"}


# ------------------------------------------------------------------ signals

def test_signal_names_follow_moby():
    assert signal_name(signal.SIGINT) == "INT" and signal_name(signal.SIGWINCH) == "WINCH"
    assert signal_name(signal.SIGRTMIN) == "RTMIN" and signal_name(signal.SIGRTMIN + 3) == "RTMIN+3"
    assert signal_name(signal.SIGRTMAX - 2) == "RTMAX-2" and signal_name(signal.SIGRTMAX) == "RTMAX"


def test_router_forwards_signals_and_restores_handlers():
    forwarded, resized = [], []
    before = signal.getsignal(signal.SIGUSR1)
    with SignalRouter(forwarded.append, lambda: resized.append(1)):
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGWINCH)
        os.kill(os.getpid(), signal.SIGCHLD)  # never forwarded
        wait_for(lambda: len(forwarded) >= 2, 5, interval=0.01, what="both signals forwarded")
    assert forwarded == ["USR1", "WINCH"] and resized == [1]
    assert signal.getsignal(signal.SIGUSR1) == before
