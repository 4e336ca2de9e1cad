"""Error shapes of the API framework, on a scratch app with the real middlewares.

The system routes cannot fail in most of these ways, so routes here raise
each kind of failure on purpose; the server, middlewares and socket are real.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

import barge
from barge.api.middleware import common_headers, error_middleware, version_middleware
from barge.api.routing import Routes, json_response, query_bool, read_json
from barge.errors import Conflict, ImageNotFound, NotModified

# request["api_version"] is a plain string key by the project's convention.
pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web.NotAppKeyWarning")

routes = Routes()


@routes.post("/things/create")
async def create(request):
    body = await read_json(request, default={})
    return json_response({"Got": body, "Version": request["api_version"]}, status=201)


@routes.get("/things/{name}/json")
async def inspect(request):
    raise ImageNotFound(request.match_info["name"])


@routes.post("/things/{name}/start")
async def start(request):
    raise NotModified("already started")


@routes.delete("/things/{name}")
async def remove(request):
    raise Conflict("thing is in use")


@routes.get("/boom")
async def boom(request):
    raise RuntimeError("the flux capacitor broke")


@routes.get("/flags")
async def flags(request):
    return json_response({k: query_bool(request, k) for k in ("a", "b", "c", "d", "e", "f", "absent")})


@routes.get("/stream-then-fail")
async def stream_then_fail(request):
    resp = web.StreamResponse()
    await resp.prepare(request)
    await resp.write(b'{"status":"working"}\n')
    raise RuntimeError("failed half way")


async def _with_app(check):
    app = web.Application(middlewares=[error_middleware, version_middleware])
    app.on_response_prepare.append(common_headers)
    routes.add_to(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    with tempfile.TemporaryDirectory(prefix="barge-er-") as tmp:
        path = str(Path(tmp) / "s.sock")
        await web.UnixSite(runner, path).start()
        try:
            async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=path)) as session:
                return await check(session)
        finally:
            await runner.cleanup()


def run(check):
    return asyncio.run(_with_app(check))


async def _call(session, method, path, **kw):
    async with session.request(method, "http://docker" + path, **kw) as resp:
        return resp.status, resp.headers, await resp.read()


def test_domain_errors_have_docker_shape():
    async def check(s):
        return [
            await _call(s, "GET", "/v1.44/things/busybox/json"),
            await _call(s, "DELETE", "/things/x"),
        ]

    (st1, h1, b1), (st2, h2, b2) = run(check)
    assert st1 == 404 and h1["Content-Type"] == "application/json"
    assert json.loads(b1) == {"message": "No such image: busybox"}
    assert st2 == 409 and json.loads(b2) == {"message": "thing is in use"}
    assert h2["Api-Version"] == barge.API_VERSION


def test_not_modified_has_empty_body():
    status, headers, body = run(lambda s: _call(s, "POST", "/things/x/start"))
    assert status == 304 and body == b""


def test_malformed_json_is_400():
    status, headers, body = run(
        lambda s: _call(s, "POST", "/things/create", data=b'{"Image": ', headers={"Content-Type": "application/json"})
    )
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["message"].startswith("invalid JSON: ")


def test_json_body_and_version_reach_handler():
    status, headers, body = run(lambda s: _call(s, "POST", "/v1.30/things/create", json={"Image": "busybox"}))
    assert status == 201 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"Got": {"Image": "busybox"}, "Version": "1.30"}
    status, _, body = run(lambda s: _call(s, "POST", "/things/create"))
    assert json.loads(body) == {"Got": {}, "Version": barge.API_VERSION}


def test_unexpected_exception_is_500_and_logged(caplog):
    with caplog.at_level(logging.ERROR, logger="barge.api"):
        status, headers, body = run(lambda s: _call(s, "GET", "/boom"))
    assert status == 500 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"message": "the flux capacitor broke"}
    [record] = [r for r in caplog.records if r.name == "barge.api"]
    assert record.exc_info and "RuntimeError" in caplog.text and "Traceback" in caplog.text


def test_failure_after_stream_began_ends_connection():
    async def check(s):
        with pytest.raises(aiohttp.ClientPayloadError):
            await _call(s, "GET", "/stream-then-fail")
        return await _call(s, "GET", "/v1.24/things/create")  # the server still serves

    status, _, _ = run(check)
    assert status == 405


def test_query_booleans_follow_moby():
    status, _, body = run(lambda s: _call(s, "GET", "/flags?a=1&b=0&c=no&d=&e=false&f=yes"))
    assert json.loads(body) == {"a": True, "b": False, "c": False, "d": False, "e": False, "f": True, "absent": False}
