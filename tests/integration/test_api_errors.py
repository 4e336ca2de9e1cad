"""Error shapes of the API framework, on a scratch app with the real middlewares.

The system routes cannot fail in most of these ways, so routes here raise
each kind of failure on purpose; the server (the daemon's runner and
protocol), middlewares and socket are real.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import tempfile
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

import barge
from barge.api.middleware import common_headers, error_middleware, version_middleware
from barge.api.routing import Routes, json_response, query_bool, read_json
from barge.api.server import CLIENT_MAX_SIZE, MAX_FIELD_SIZE, MAX_HEADERS, MAX_LINE_SIZE, ApiRunner
from barge.errors import Conflict, ImageNotFound, NotModified
from barge.gojson import INT64, STRING, Obj

# request["api_version"] is a plain string key by the project's convention.
pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web.NotAppKeyWarning")

routes = Routes()
THING = Obj("things.Thing", {"Image": STRING, "Memory": INT64})


@routes.post("/things/create")
async def create(request):
    body = await read_json(request, THING)
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


async def _with_app(check, raw: bool = False):
    app = web.Application(
        middlewares=[error_middleware, version_middleware], client_max_size=CLIENT_MAX_SIZE,
        handler_args={"max_line_size": MAX_LINE_SIZE, "max_field_size": MAX_FIELD_SIZE, "max_headers": MAX_HEADERS},
    )
    app.on_response_prepare.append(common_headers)
    routes.add_to(app)
    runner = ApiRunner(app, access_log=None)
    await runner.setup()
    with tempfile.TemporaryDirectory(prefix="barge-er-") as tmp:
        path = str(Path(tmp) / "s.sock")
        await web.UnixSite(runner, path).start()
        try:
            if raw:
                return await asyncio.get_running_loop().run_in_executor(None, check, path)
            async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=path)) as session:
                return await check(session)
        finally:
            await runner.cleanup()


def run(check):
    return asyncio.run(_with_app(check))


def run_raw(request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as it is over a plain socket; the answer's status, headers and body."""

    def send(path):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(path)
            try:
                sock.sendall(request)
            except BrokenPipeError:  # the server answered and closed before reading it all
                pass
            data = b""
            try:
                while chunk := sock.recv(65536):
                    data += chunk
            except ConnectionResetError:  # closed with the request unread: after the answer
                assert data
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines)
        return int(status_line.split()[1]), headers, body

    return asyncio.run(_with_app(send, raw=True))


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


def test_unexpected_exception_is_a_generic_500_with_an_error_id(caplog):
    with caplog.at_level(logging.INFO, logger="barge.api"):
        status, headers, body = run(lambda s: _call(s, "GET", "/boom?secret=hunter2"))
    assert status == 500 and headers["Content-Type"] == "application/json"
    message = json.loads(body)["message"]
    assert "flux capacitor" not in message and "RuntimeError" not in message
    error_id = message.split("error ID ")[1].split(")")[0]
    [record] = [r for r in caplog.records if r.name == "barge.api"]
    logged = record.getMessage()
    assert error_id in logged and "GET /boom" in logged and "builtins.RuntimeError" in logged
    assert 'in boom' in logged and 'raise RuntimeError("the flux capacitor broke")' in logged  # the frames
    assert "hunter2" not in caplog.text and "the flux capacitor broke" not in logged.splitlines()[0]
    assert not record.exc_info


def test_the_exception_text_is_logged_only_at_debug(caplog):
    with caplog.at_level(logging.DEBUG, logger="barge.api"):
        run(lambda s: _call(s, "GET", "/boom"))
    debug = [r for r in caplog.records if r.name == "barge.api" and r.levelno == logging.DEBUG and r.exc_info]
    assert debug and "RuntimeError: the flux capacitor broke" in caplog.text


def test_a_wrong_type_is_400_naming_the_field():
    status, headers, body = run(lambda s: _call(s, "POST", "/things/create", json={"Image": "x", "Memory": "1g"}))
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "message": "json: cannot unmarshal string into Go struct field Thing.Memory of type int64"}


def test_deep_nesting_is_400():
    deep = b'{"Image": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    status, headers, body = run(lambda s: _call(s, "POST", "/things/create", data=deep))
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["message"] == "invalid JSON: nested deeper than 100 levels"


def test_a_body_over_the_cap_is_413_in_docker_shape():
    big = json.dumps({"Image": "x" * CLIENT_MAX_SIZE}).encode()
    status, headers, body = run(lambda s: _call(s, "POST", "/things/create", data=big))
    assert status == 413 and headers["Content-Type"] == "application/json"
    assert "Maximum request body size" in json.loads(body)["message"]
    status, _, body = run(lambda s: _call(s, "POST", "/things/create", json={"Image": "x" * (1 << 20)}))
    assert status == 201  # a big body under the cap is parsed off the loop


@pytest.mark.parametrize("size", [100_000, 1 << 20])
def test_a_header_too_large_is_a_json_400(size):
    request = b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    status, headers, body = run_raw(request)
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert "header" in json.loads(body)["message"].lower()


def test_a_malformed_request_is_a_json_400():
    for request in (b"GARBAGE\r\n\r\n", b"GET /x HTTP/1.1\r\nBad Header\r\n\r\n",
                    b"GET /" + b"a" * (MAX_LINE_SIZE + 1) + b" HTTP/1.1\r\n\r\n"):
        status, headers, body = run_raw(request)
        assert status == 400 and headers["Content-Type"] == "application/json", request[:40]
        assert json.loads(body)["message"]


def test_headers_under_the_limits_are_served():
    request = b"GET /flags?a=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Registry-Auth: " + b"a" * 40_000 + b"\r\n\r\n"
    status, _, body = run_raw(request)
    assert status == 200 and json.loads(body)["a"] is True


def test_failure_after_stream_began_ends_connection():
    async def check(s):
        with pytest.raises(aiohttp.ClientPayloadError):
            await _call(s, "GET", "/stream-then-fail")
        return await _call(s, "GET", "/v1.24/things/create")  # the server still serves

    status, _, _ = run(check)
    assert status == 404  # a wrong method: dockerd's "page not found"


def test_query_booleans_follow_moby():
    status, _, body = run(lambda s: _call(s, "GET", "/flags?a=1&b=0&c=no&d=&e=false&f=yes"))
    assert json.loads(body) == {"a": True, "b": False, "c": False, "d": False, "e": False, "f": True, "absent": False}
