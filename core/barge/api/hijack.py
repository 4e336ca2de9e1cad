"""Taking over a request's connection: Docker's ``101 UPGRADED`` raw streams.

The recipe of :mod:`barge.api.server` (checked by
``tests/integration/test_api_hijack.py``): take the connection's incoming
bytes before answering, wrap the protocol so a client half-close is the end
of *its* stream only (the docker CLI half-closes when its stdin ends and
still reads the output), then answer ``HTTP/1.1 101 UPGRADED`` with
``Connection: Upgrade`` and ``Upgrade: tcp``. A request without the upgrade
headers gets ``200 OK`` and the same raw stream, unchunked, until the
connection closes (moby does the same).

Output framing for attach and logs (``application/vnd.docker.multiplexed-stream``):
an 8-byte header ``[stream, 0, 0, 0, size (u32 big-endian)]`` then the payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import struct

from aiohttp import StreamReader, web

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"
_FRAME = struct.Struct(">BxxxL")
#: Largest payload put in one frame (Docker's stdcopy uses 32 KiB buffers too).
MAX_FRAME = 32 << 10
#: Seconds between checks whether a client that half-closed its connection has closed it all.
HANGUP_POLL = 1.0


def frame(stream: int, payload: bytes) -> bytes:
    """``payload`` as multiplexed frames of stream ``stream`` (1 stdout, 2 stderr, 3 system error)."""
    if len(payload) <= MAX_FRAME:
        return _FRAME.pack(stream, len(payload)) + payload
    return b"".join(_FRAME.pack(stream, len(payload[i:i + MAX_FRAME])) + payload[i:i + MAX_FRAME]
                    for i in range(0, len(payload), MAX_FRAME))


def wants_upgrade(request: web.Request) -> bool:
    connection = request.headers.get("Connection", "").lower()
    return "upgrade" in connection and bool(request.headers.get("Upgrade"))


def stream_content_type(request: web.Request, tty: bool) -> str:
    """Multiplexed without a TTY from API 1.42 on, raw otherwise (moby's attach and logs)."""
    from barge.api.middleware import parse_version

    version = parse_version(request.get("api_version") or "1.24")
    return MULTIPLEXED_STREAM if not tty and version >= (1, 42) else RAW_STREAM


class _Reader:
    """What ``RequestHandler.set_parser`` wants: ``feed_data`` -> ``(eof, tail)``, ``feed_eof``."""

    def __init__(self, stream: StreamReader) -> None:
        self.stream = stream

    def feed_data(self, data: bytes):
        self.stream.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        if not self.stream.at_eof():
            self.stream.feed_eof()


class _HalfCloseProtocol(asyncio.Protocol):
    """aiohttp's protocol, except that the client's EOF ends only the incoming stream.

    It is also the flow control of the incoming stream: aiohttp's own
    ``pause_reading`` pauses its HTTP parser, which an upgraded connection no
    longer has, so a client sending faster than the container reads (a big
    ``run -i`` stdin) must pause the transport here instead.
    """

    def __init__(self, inner, reader: _Reader, lost: asyncio.Event, transport) -> None:
        self.inner, self.reader, self.lost, self.transport = inner, reader, lost, transport
        self._reading_paused = False

    @property
    def connected(self) -> bool:
        return not self.lost.is_set()

    def pause_reading(self) -> None:
        if not self._reading_paused:
            self._reading_paused = True
            with contextlib.suppress(AttributeError, RuntimeError):
                self.transport.pause_reading()

    def resume_reading(self, resume_parser: bool = True) -> None:
        if self._reading_paused:
            self._reading_paused = False
            with contextlib.suppress(AttributeError, RuntimeError):
                self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool:
        self.reader.feed_eof()
        self._watch_hangup()
        return True

    def _watch_hangup(self) -> None:
        """After the client's EOF: only its stdin ended, or the client is gone? Nothing tells on TCP
        until a write fails (a quiet container writes nothing: dockerd's session waits as long); a
        unix socket does, with POLLHUP once the peer closed, so the session ends within a second."""
        if self.lost.is_set():
            return
        sock = self.transport.get_extra_info("socket")
        if sock is None or sock.family != socket.AF_UNIX:
            return
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLHUP)
        if poller.poll(0):
            self.transport.abort()  # connection_lost: the session ends
            return
        asyncio.get_running_loop().call_later(HANGUP_POLL, self._watch_hangup)

    def connection_lost(self, exc) -> None:
        self.reader.feed_eof()
        self.lost.set()
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class _RawResponse(web.StreamResponse):
    """A 200 whose body is the raw connection: no length, no chunking (as WebSocketResponse)."""

    _length_check = False


class Hijacked:
    """The connection after the takeover: ``incoming`` bytes, ``write`` output, ``close``."""

    def __init__(self, request: web.Request, incoming: StreamReader, response: web.StreamResponse,
                 lost: asyncio.Event) -> None:
        self.request = request
        self.incoming = incoming
        self.response = response
        self.lost = lost

    @property
    def closed(self) -> bool:
        transport = self.request.transport
        return self.lost.is_set() or transport is None or transport.is_closing()

    async def write(self, data: bytes) -> None:
        await self.response.write(data)

    async def close(self) -> None:
        try:
            await self.response.write_eof()
        except (ConnectionError, RuntimeError):
            pass


async def hijack(request: web.Request, content_type: str) -> Hijacked:
    """Take over the connection and send the status line; see the module docstring."""
    await request.read()  # a body (exec start's JSON) is consumed before the stream begins
    loop = asyncio.get_running_loop()
    lost = asyncio.Event()
    transport = request.transport
    reader = _Reader(None)  # its stream is set below: the stream and the protocol refer to each other
    protocol = _HalfCloseProtocol(request.protocol, reader, lost, transport)
    incoming = StreamReader(protocol, 1 << 16, loop=loop)
    reader.stream = incoming
    request.protocol.set_parser(reader)
    transport.set_protocol(protocol)
    if wants_upgrade(request):
        response: web.StreamResponse = web.StreamResponse(
            status=101, reason="UPGRADED", headers={"Connection": "Upgrade", "Upgrade": "tcp"}
        )
    else:
        response = _RawResponse(status=200)
    response.content_type = content_type
    response.force_close()
    await response.prepare(request)
    return Hijacked(request, incoming, response, lost)
