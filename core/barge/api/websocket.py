"""A WebSocket (RFC 6455) as the two ends of an attach session: ``GET /containers/{id}/attach/ws``.

moby serves this endpoint with ``golang.org/x/net/websocket``: output goes
out unmultiplexed, one message per write, in binary frames from API 1.28
on (text frames before, whose payload is the bytes as they came); every
message the client sends, text or binary, is stdin. The handshake and the
framing are aiohttp's :class:`~aiohttp.web.WebSocketResponse`;
:class:`WsSession` gives the session the shape :func:`barge.api.proxy.proxy`
drives (``incoming``, ``write``, ``lost``, ``closed``): a close from the
client is stdin's EOF and the end of the session, the process's exit closes
the socket with a normal close (1000).
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSMsgType, web

#: Seconds a closing handshake waits for the client's close frame.
CLOSE_TIMEOUT = 5.0
#: Messages from the client that carry stdin.
_DATA = (WSMsgType.BINARY, WSMsgType.TEXT)


class WsSession:
    """An open WebSocket: ``incoming`` (stdin bytes), ``write`` (output), ``lost``, ``close``."""

    def __init__(self, ws: web.WebSocketResponse, binary: bool) -> None:
        self.ws = ws
        self.binary = binary
        self.incoming = asyncio.StreamReader()
        self.lost = asyncio.Event()
        self._pump = asyncio.ensure_future(self._read())

    @property
    def response(self) -> web.StreamResponse:
        return self.ws

    @property
    def closed(self) -> bool:
        return self.lost.is_set() or self.ws.closed

    async def _read(self) -> None:
        """The client's messages into ``incoming``; its close (or the connection's end) is the EOF."""
        try:
            async for msg in self.ws:
                if msg.type in _DATA:
                    data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
                    self.incoming.feed_data(data)
        finally:
            self.incoming.feed_eof()
            self.lost.set()

    async def write(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionResetError("the websocket is closed")
        await self.ws.send_frame(data, WSMsgType.BINARY if self.binary else WSMsgType.TEXT)

    async def close(self) -> None:
        """The closing handshake: stop reading first, so aiohttp's ``close`` waits for the client's reply."""
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
            await self._pump
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close()


async def accept(request: web.Request, binary: bool) -> WsSession:
    """The RFC 6455 handshake (a request that is not one: aiohttp's 400), then the session."""
    ws = web.WebSocketResponse(timeout=CLOSE_TIMEOUT)
    await ws.prepare(request)
    return WsSession(ws, binary)
