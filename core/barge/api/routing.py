"""Routes of the Engine API, each served with and without a version prefix.

Moby registers every route twice, ``/v{version}/path`` and ``/path``; the
version middleware checks the prefix and stores the negotiated version in
``request["api_version"]``.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from aiohttp import web

from barge import gojson
from barge.errors import InvalidParameter

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

VERSION_PREFIX = r"/v{api_version:[0-9]+\.[0-9]+}"
#: Bodies up to this size are parsed on the event loop (well under a millisecond).
PARSE_INLINE = 64 << 10


class Routes:
    """Collects ``(method, path, handler)`` and adds them to an app twice."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, str, Handler]] = []

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def decorate(fn: Handler) -> Handler:
            self._routes.append((method, path, fn))
            return fn

        return decorate

    def get(self, path: str):
        return self.route("GET", path)

    def post(self, path: str):
        return self.route("POST", path)

    def put(self, path: str):
        return self.route("PUT", path)

    def delete(self, path: str):
        return self.route("DELETE", path)

    def head(self, path: str):
        return self.route("HEAD", path)

    def add_to(self, app: web.Application) -> None:
        for method, path, handler in self._routes:
            for prefix in (VERSION_PREFIX, ""):
                app.router.add_route(method, prefix + path, handler)


async def read_json(request: web.Request, schema: gojson.Type):
    """The request's JSON body, checked against ``schema`` (:mod:`barge.api.bodies`).

    An empty body decodes as ``null``: the schema's zero value. Malformed
    JSON, nesting deeper than :data:`barge.gojson.MAX_DEPTH` and a field of
    the wrong type or range are the client's mistake: 400, as moby's
    ``httputils.ReadJSON`` (which says 500 for a wrong type; barge says 400).
    The body's size is capped by the app's ``client_max_size`` (413); a
    big one is parsed in a worker thread, so it does not stall the loop.
    """
    raw = await request.read()
    if len(raw) < PARSE_INLINE:
        return decode_json(raw, schema)
    return await asyncio.get_running_loop().run_in_executor(None, decode_json, raw, schema)


def decode_json(raw: bytes, schema: gojson.Type):
    """``raw`` parsed and checked against ``schema``; InvalidParameter says why not."""
    try:
        value = gojson.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise InvalidParameter(f"invalid JSON: {exc}") from None
    return gojson.decode(schema, value)


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    """Moby's ``BoolValue``: "", 0, no, false and none are false, others true."""
    if name not in request.query:
        return default
    return request.query[name].strip().lower() not in ("", "0", "no", "false", "none")


def json_response(data, status: int = 200, headers=None) -> web.Response:
    """A JSON answer with ``Content-Type: application/json`` exactly, as moby sends."""
    import json

    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


async def json_response_off_loop(data, status: int = 200) -> web.Response:
    """:func:`json_response` encoded in a worker thread: a list of a thousand containers takes the
    encoder milliseconds, which every other client (a ``_ping``) would otherwise wait for."""
    import asyncio

    body = await asyncio.get_running_loop().run_in_executor(None, _dumps, data)
    return web.Response(status=status, body=body, content_type="application/json")


def _dumps(data) -> bytes:
    from barge.contracts.containers import EncodedRows, encode_row

    return data.encoded() if isinstance(data, EncodedRows) else encode_row(data)


def api_version(request: web.Request) -> tuple[int, int] | None:
    """The request's API version as (major, minor), None when it names none."""
    raw = request.get("api_version") or request.match_info.get("api_version")
    if raw is None:
        return None
    if isinstance(raw, tuple):
        return raw
    try:
        major, minor = str(raw).split(".", 1)
        return int(major), int(minor)
    except ValueError:
        return None
