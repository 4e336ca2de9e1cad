"""``barge.api.hijack``: a route takes over its connection, as attach and exec start do.

The routes here are a scratch app's, but everything they call is the real
code: :func:`barge.api.hijack.hijack`, :func:`~barge.api.hijack.frame`,
:func:`~barge.api.hijack.stream_content_type`, the daemon's middlewares and
its connection protocol (:class:`barge.api.server.ApiRunner`). The client is
a raw socket, so every byte on the wire is checked: the ``101 UPGRADED`` (or
raw ``200``) head, the stream both ways, a client half-close that ends only
the client's stream, the content type by API version and TTY, the
multiplexed framing, flow control of a fast client, and a client that goes
away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import tempfile
from pathlib import Path

import pytest
from aiohttp import web

from barge.api.hijack import MAX_FRAME, MULTIPLEXED_STREAM, RAW_STREAM, frame, hijack, stream_content_type
from barge.api.middleware import common_headers, error_middleware, version_middleware
from barge.api.routing import Routes, read_json
from barge.api.server import ApiRunner
from barge.gojson import STRING, Obj

# request["api_version"] is a plain string key by the project's convention.
pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web.NotAppKeyWarning")

OPTIONS = Obj("test.Options", {"Tag": STRING})
HEADER = struct.Struct(">BxxxL")  # Docker's stdcopy header, written out here rather than imported
TIMEOUT = 10


# ---------------------------------------------------------------------------
# the scratch app
# ---------------------------------------------------------------------------


class App:
    """A scratch app on a unix socket; ``seen`` holds what its routes observed."""

    def __init__(self, sock_path: str) -> None:
        self.sock_path = sock_path
        self.seen: dict = {}
        self.clients: list[asyncio.StreamWriter] = []
        self.release = asyncio.Event()
        self.finished = asyncio.Event()
        self.routes = Routes()
        self.routes.post("/echo/{name}/attach")(self.echo)
        self.routes.post("/hold/attach")(self.hold)
        self.routes.post("/abandon/attach")(self.abandon)

    async def echo(self, request: web.Request) -> web.StreamResponse:
        """Greets, answers each line upper-cased until the client's EOF, then says bye (on stderr)."""
        options = await read_json(request, OPTIONS)  # a body (exec start's) before the stream
        tty = request.query.get("tty") == "1"
        hj = await hijack(request, stream_content_type(request, tty))
        multiplexed = hj.response.content_type == MULTIPLEXED_STREAM

        def out(stream: int, data: bytes) -> bytes:
            return frame(stream, data) if multiplexed else data

        try:
            await hj.write(out(1, f"hello {request.match_info['name']} {options.get('Tag', '')}\n".encode()))
            while line := await hj.incoming.readline():
                await hj.write(out(1, line.upper()))
            self.seen["closed_at_eof"] = hj.closed  # a half-close leaves our side open
            await hj.write(out(2, b"bye\n"))
            return hj.response
        finally:
            await hj.close()

    async def hold(self, request: web.Request) -> web.StreamResponse:
        """Reads nothing until released, then counts the client's bytes to its EOF."""
        hj = await hijack(request, RAW_STREAM)
        self.seen["hold"] = hj
        try:
            await self.release.wait()
            total = 0
            while chunk := await hj.incoming.read(1 << 16):
                total += len(chunk)
            await hj.write(f"{total}\n".encode())
            return hj.response
        finally:
            await hj.close()

    async def abandon(self, request: web.Request) -> web.StreamResponse:
        """The client goes away without a word: its stream ends, and the next write finds the connection lost."""
        hj = await hijack(request, RAW_STREAM)
        try:
            await hj.write(b"ready\n")
            self.seen["rest"] = await hj.incoming.read()  # EOF, as for a half-close
            with contextlib.suppress(ConnectionError):
                await hj.write(b"anyone there?\n")  # how a route finds out: its next write fails
            await asyncio.wait_for(hj.lost.wait(), TIMEOUT)
            self.seen["closed"] = hj.closed
            return hj.response
        finally:
            await hj.close()
            self.finished.set()

    @contextlib.asynccontextmanager
    async def serving(self):
        app = web.Application(middlewares=[error_middleware, version_middleware])
        app.on_response_prepare.append(common_headers)
        self.routes.add_to(app)
        runner = ApiRunner(app, access_log=None)
        await runner.setup()
        await web.UnixSite(runner, self.sock_path).start()
        try:
            yield self
        finally:
            await runner.cleanup()


def run_scenario(scenario) -> None:
    """Run ``scenario(app)`` (a coroutine function) against a fresh scratch app."""
    async def main(sock_path: str) -> None:
        app = App(sock_path)
        async with app.serving():
            try:
                await asyncio.wait_for(scenario(app), 30)
            finally:  # a failed scenario must not leave routes waiting for their clients
                app.release.set()
                for writer in app.clients:
                    writer.transport.abort()

    with tempfile.TemporaryDirectory(prefix="barge-hj-") as tmp:
        asyncio.run(main(str(Path(tmp) / "s.sock")))


# ---------------------------------------------------------------------------
# the client side, byte by byte
# ---------------------------------------------------------------------------


async def request(app: App, path: str, body: bytes = b"", upgrade: bool = True):
    """Send a POST, read the response head; (reader, writer, status line, headers)."""
    reader, writer = await asyncio.open_unix_connection(app.sock_path)
    app.clients.append(writer)
    head = f"POST {path} HTTP/1.1\r\nHost: docker\r\n"
    if upgrade:
        head += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"\r\n" + body)
    await writer.drain()
    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    status, *lines = raw.decode().rstrip("\r\n").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(": ")
        headers[name.lower()] = value
    return reader, writer, status, headers


def demux(data: bytes) -> list[tuple[int, bytes]]:
    frames, pos = [], 0
    while pos < len(data):
        stream, size = HEADER.unpack_from(data, pos)
        frames.append((stream, data[pos + HEADER.size:pos + HEADER.size + size]))
        pos += HEADER.size + size
    return frames


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------


def test_upgrade_answers_101_and_a_half_close_ends_only_the_clients_stream():
    async def scenario(app: App) -> None:
        body = json.dumps({"Tag": "x1"}).encode()
        reader, writer, status, headers = await request(app, "/v1.47/echo/box/attach?tty=1", body)
        assert status == "HTTP/1.1 101 UPGRADED"
        assert headers["connection"] == "Upgrade" and headers["upgrade"] == "tcp"
        assert headers["content-type"] == RAW_STREAM and headers["api-version"] == "1.47"
        assert "content-length" not in headers and "transfer-encoding" not in headers
        assert await asyncio.wait_for(reader.readline(), TIMEOUT) == b"hello box x1\n"
        writer.write(b"first\n")
        assert await asyncio.wait_for(reader.readline(), TIMEOUT) == b"FIRST\n"  # answered while open
        writer.write(b"second\n")
        writer.write_eof()  # the docker CLI half-closes when its stdin ends, and reads on
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == b"SECOND\nbye\n"
        writer.close()
        assert app.seen["closed_at_eof"] is False

    run_scenario(scenario)


def test_without_upgrade_headers_a_raw_200_stream_until_the_connection_closes():
    async def scenario(app: App) -> None:
        reader, writer, status, headers = await request(app, "/v1.47/echo/plain/attach?tty=1", upgrade=False)
        assert status == "HTTP/1.1 200 OK"
        assert "upgrade" not in headers and headers["content-type"] == RAW_STREAM
        # neither a length nor chunks: the body is the connection's bytes to its end
        assert "content-length" not in headers and "transfer-encoding" not in headers
        writer.write(b"one\n")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == b"hello plain \nONE\nbye\n"
        writer.close()

    run_scenario(scenario)


@pytest.mark.parametrize("version, tty, content_type", [
    ("1.41", False, RAW_STREAM),  # multiplexed only from 1.42 on
    ("1.42", False, MULTIPLEXED_STREAM),
    ("1.47", False, MULTIPLEXED_STREAM),
    ("1.47", True, RAW_STREAM),  # a TTY is one stream
])
def test_content_type_follows_the_api_version_and_the_tty(version, tty, content_type):
    async def scenario(app: App) -> None:
        path = f"/v{version}/echo/ct/attach" + ("?tty=1" if tty else "")
        reader, writer, status, headers = await request(app, path)
        assert status == "HTTP/1.1 101 UPGRADED" and headers["content-type"] == content_type
        writer.write(b"x\n")
        writer.write_eof()
        rest = await asyncio.wait_for(reader.read(), TIMEOUT)
        writer.close()
        if content_type == MULTIPLEXED_STREAM:
            assert demux(rest) == [(1, b"hello ct \n"), (1, b"X\n"), (2, b"bye\n")]
        else:
            assert rest == b"hello ct \nX\nbye\n"

    run_scenario(scenario)


def test_frame_is_docker_stdcopy_with_payloads_split_at_32_kib():
    assert frame(1, b"hi") == b"\x01\x00\x00\x00\x00\x00\x00\x02hi"
    assert frame(2, b"") == b"\x02\x00\x00\x00\x00\x00\x00\x00"
    assert frame(3, b"x" * 300)[:8] == b"\x03\x00\x00\x00\x00\x00\x01\x2c"
    assert MAX_FRAME == 32 << 10
    payload = bytes(range(256)) * ((2 * MAX_FRAME + 100) // 256 + 1)
    frames = demux(frame(2, payload))
    assert [len(p) for _, p in frames] == [MAX_FRAME, MAX_FRAME, len(payload) - 2 * MAX_FRAME]
    assert {s for s, _ in frames} == {2} and b"".join(p for _, p in frames) == payload
    assert demux(frame(1, b"y" * MAX_FRAME)) == [(1, b"y" * MAX_FRAME)]  # exactly one frame's worth: one frame


def test_a_fast_client_is_paused_until_the_route_reads_and_nothing_is_lost():
    """8 MiB of stdin while the route reads nothing: the connection stops reading
    (the client cannot finish writing) instead of buffering it all; every byte
    arrives once the route reads."""
    size = 8 << 20

    async def scenario(app: App) -> None:
        reader, writer, status, _ = await request(app, "/hold/attach")
        assert status == "HTTP/1.1 101 UPGRADED"
        writer.write(b"z" * size)
        # Proving that something does NOT happen takes time: the client must
        # stay unable to drain while the route holds.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(writer.drain(), 0.5)
        assert app.seen["hold"].incoming.total_bytes < 1 << 20  # paused after about two read buffers
        app.release.set()
        await asyncio.wait_for(writer.drain(), TIMEOUT)
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == f"{size}\n".encode()
        writer.close()

    run_scenario(scenario)


def test_a_client_that_goes_away_ends_the_stream_and_marks_the_connection_closed():
    async def scenario(app: App) -> None:
        reader, writer, status, _ = await request(app, "/abandon/attach")
        assert status == "HTTP/1.1 101 UPGRADED"
        assert await asyncio.wait_for(reader.readline(), TIMEOUT) == b"ready\n"
        writer.write(b"partial")
        await writer.drain()
        writer.transport.abort()  # gone without a half-close
        await asyncio.wait_for(app.finished.wait(), TIMEOUT)
        assert app.seen == {"rest": b"partial", "closed": True}

    run_scenario(scenario)
