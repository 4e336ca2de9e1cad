"""aiohttp lets a route take over its connection after ``101 UPGRADED``.

Attach and exec start will need this (docker CLI and docker-py send
``Connection: Upgrade``, ``Upgrade: tcp``; exec start also carries a JSON
body). This checks the mechanism described in ``barge/api/server.py`` on a
scratch app that has the real middlewares, before attach is built on it.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import pytest
from aiohttp import StreamReader, web

from barge.api.middleware import common_headers, error_middleware, version_middleware
from barge.api.routing import Routes, read_json
from barge.gojson import STRING, Obj

# request["api_version"] is a plain string key by the project's convention.
pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web.NotAppKeyWarning")

routes = Routes()
OPTIONS = Obj("test.Options", {"Tag": STRING})


class HijackReader:
    """What ``RequestHandler.set_parser`` wants: ``feed_data`` returning
    ``(eof, tail)``, and ``feed_eof``; the bytes land in a StreamReader."""

    def __init__(self, stream: StreamReader) -> None:
        self.stream = stream

    def feed_data(self, data: bytes):
        self.stream.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.stream.feed_eof()


class HalfCloseProtocol(asyncio.Protocol):
    """Wraps aiohttp's protocol once hijacked: a client half-close becomes EOF
    of the stream while our write side stays open (aiohttp's own protocol lets
    asyncio close the transport on EOF)."""

    def __init__(self, inner, reader: HijackReader) -> None:
        self.inner, self.reader = inner, reader

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool:
        self.reader.feed_eof()
        return True

    def connection_lost(self, exc) -> None:
        self.reader.feed_eof()
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


@routes.post("/echo/{name}/attach")
async def upgrade_echo(request: web.Request) -> web.StreamResponse:
    options = await read_json(request, OPTIONS)  # the body before the upgrade
    # Take the connection's incoming bytes *before* the 101 goes out: the
    # client may send its stream as soon as it reads the 101.
    incoming = StreamReader(request.protocol, 1 << 16, loop=asyncio.get_running_loop())
    reader = HijackReader(incoming)
    request.protocol.set_parser(reader)
    request.transport.set_protocol(HalfCloseProtocol(request.protocol, reader))
    resp = web.StreamResponse(status=101, reason="UPGRADED", headers={"Connection": "Upgrade", "Upgrade": "tcp"})
    resp.content_type = "application/vnd.docker.raw-stream"
    resp.force_close()
    await resp.prepare(request)
    await resp.write(f"hello {request.match_info['name']} {options.get('Tag', '')}\n".encode())
    while line := await incoming.readline():
        await resp.write(line.upper())
    await resp.write(b"bye\n")
    await resp.write_eof()
    return resp


async def _scenario(sock_path: str) -> tuple[bytes, bytes]:
    app = web.Application(middlewares=[error_middleware, version_middleware])
    app.on_response_prepare.append(common_headers)
    routes.add_to(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.UnixSite(runner, sock_path).start()
    try:
        reader, writer = await asyncio.open_unix_connection(sock_path)
        body = json.dumps({"Tag": "x1"}).encode()
        head = (
            "POST /v1.47/echo/box/attach HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        writer.write(head + body)
        await writer.drain()
        response_head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(b"first\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"second\n")
        await writer.drain()
        writer.write_eof()  # client half-close: the stream's EOF
        rest = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return response_head, rest
    finally:
        await runner.cleanup()


def test_route_can_hijack_connection_after_101():
    with tempfile.TemporaryDirectory(prefix="barge-hj-") as tmp:
        head, rest = asyncio.run(_scenario(str(Path(tmp) / "s.sock")))
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 101 UPGRADED"
    assert "Upgrade: tcp" in lines and "Api-Version: 1.47" in lines
    assert rest == b"hello box x1\nFIRST\nSECOND\nbye\n"
