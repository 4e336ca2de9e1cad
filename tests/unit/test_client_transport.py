"""The hand-written HTTP/1.1 client in barge.client.transport, against canned
responses served on a real unix socket: every body framing, the request it
writes, and truncated bodies raising instead of passing for whole ones."""

from __future__ import annotations

import socket
import threading

import pytest

from barge.client import transport
from barge.client.transport import IncompleteRead, TLSOptions, parse_host


@pytest.fixture
def serve(tmp_path):
    """serve(reply) -> endpoint; the requests received land in ``got``."""
    path = str(tmp_path / "s.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(4)
    got: list[bytes] = []
    threads = []

    def start(reply: bytes):
        def run():
            conn, _ = listener.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    more = conn.recv(65536)
                    if not more:
                        return
                    data += more
                head, _, rest = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                while len(rest) < length:
                    rest += conn.recv(65536)
                got.append(head + b"\r\n\r\n" + rest)
                conn.sendall(reply)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        threads.append(t)
        return parse_host(f"unix://{path}", TLSOptions())

    start.got = got
    yield start
    for t in threads:
        t.join(5)
    listener.close()


def test_content_length_body_and_request_line(serve):
    ep = serve(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"Id\":\"ab\"}")
    r = transport.send(ep, "POST", "/v1.47/containers/create", {"name": "x", "skip": None}, b'{"Image":"b"}',
                       {"Content-Type": "application/json"})
    with r:
        assert (r.status, r.reason) == (201, "Created")
        assert r.getheader("content-type") == "application/json"
        assert r.read() == b'{"Id":"ab"}'
        assert r.read() == b""
    req = serve.got[0]
    assert req.startswith(b"POST /v1.47/containers/create?name=x HTTP/1.1\r\n")
    assert b"\r\nHost: barge\r\n" in req and b"\r\nContent-Length: 13\r\n" in req
    assert req.endswith(b'\r\n\r\n{"Image":"b"}')


def test_chunked_body_with_trailers_read_in_pieces(serve):
    ep = serve(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n")
    with transport.send(ep, "GET", "/logs") as r:
        assert r.read(3) == b"hel"
        assert r.read1(100) == b"lo"
        buf = bytearray(4)
        assert r.readinto(buf) == 4 and bytes(buf) == b", wo"
        assert r.read() == b"rld"
        assert r.read1(10) == b""


def test_body_until_close_and_head_without_body(serve):
    ep = serve(b"HTTP/1.0 200 OK\r\nX-A: 1\r\nX-A: 2\r\n\r\nall the rest")
    with transport.send(ep, "GET", "/x") as r:
        assert r.getheader("x-a") == "1, 2"
        assert r.read() == b"all the rest"
    ep = serve(b"HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nContent-Length: 2\r\n\r\n")
    with transport.send(ep, "HEAD", "/_ping", timeout=2) as r:
        assert dict(r.getheaders())["Api-Version"] == "1.47"
        assert r.read() == b""


def test_no_content_and_continue(serve):
    ep = serve(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
    with transport.send(ep, "POST", "/containers/x/start") as r:
        assert r.status == 204 and r.read() == b""
    assert b"\r\nContent-Length: 0\r\n" in serve.got[0]


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nshort",
])
def test_truncated_body_raises(serve, reply):
    with transport.send(serve(reply), "GET", "/archive") as r:
        with pytest.raises(IncompleteRead):
            r.read()


def test_iterable_body_goes_chunked(serve):
    ep = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    # the canned server reads only the head; the chunks follow it on the wire
    with transport.send(ep, "POST", "/images/load", body=iter([b"ab", b"", b"cd"])) as r:
        assert r.status == 200
    assert b"\r\nTransfer-Encoding: chunked\r\n" in serve.got[0]


def test_bad_status_line_and_control_characters(serve):
    with pytest.raises(ValueError):
        transport.send(serve(b"SSH-2.0-OpenSSH\r\n\r\n"), "GET", "/x")
    with pytest.raises(ValueError):
        transport.send(serve(b""), "GET", "/x y")


def test_unreachable(tmp_path):
    from barge.client.errors import DaemonUnreachable

    with pytest.raises(DaemonUnreachable):
        transport.send(parse_host(f"unix://{tmp_path}/none.sock"), "GET", "/_ping")
