"""Exec routes: ``POST /containers/{id}/exec``, ``POST /exec/{id}/start``, ``GET /exec/{id}/json``, resize.

``start`` without ``Detach`` carries a JSON body *and* takes over the
connection (101 with the upgrade headers, a raw 200 stream without). Every
check runs before the takeover (HTTP errors); after the 101 has gone out,
a job connects to the container's monitor naming the exec id, then runs the
process (as moby starts it only after the upgrade); the connection is proxied (stdin in,
output out, multiplexed unless ``Tty``) until the monitor's exit frame,
whose exit code is recorded before the stream is closed, so the CLI's
``GET /exec/{id}/json`` after EOF reads the final ``ExitCode``.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from barge.api import bodies
from barge.api.hijack import frame, hijack, stream_content_type
from barge.api.jobs import run_job
from barge.api.proxy import Ended, proxy
from barge.api.routing import Routes, json_response, read_json
from barge.contracts import exec as jobs
from barge.contracts.attach import DEFAULT_DETACH_KEYS, parse_detach_keys
from barge.errors import BargeError, InvalidParameter

log = logging.getLogger("barge.api")

routes = Routes()


def _int(request: web.Request, name: str) -> int:
    raw = request.query.get(name, "")
    try:
        return int(raw) if raw else 0
    except ValueError:
        raise InvalidParameter(f"invalid value for {name}: {raw!r}") from None


@routes.post("/containers/{id}/exec")
async def create(request: web.Request) -> web.Response:
    body = await read_json(request, bodies.EXEC_CREATE)
    result = await run_job(request, "exec_create", jobs.ExecCreateArgs(request.match_info["id"], body))
    return json_response(result, status=201)


@routes.get("/exec/{id}/json")
async def inspect(request: web.Request) -> web.Response:
    return json_response(await run_job(request, "exec_inspect", jobs.ExecIdArgs(request.match_info["id"])))


@routes.post("/exec/{id}/resize")
async def resize(request: web.Request) -> web.Response:
    args = jobs.ExecResizeArgs(request.match_info["id"], _int(request, "h"), _int(request, "w"))
    await run_job(request, "exec_resize", args)
    return web.Response(status=200)


@routes.post("/exec/{id}/start")
async def start(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, bodies.EXEC_START)
    detach = bool(body.get("Detach"))
    args = jobs.ExecStartArgs(request.match_info["id"], detach, body.get("ConsoleSize") or None)
    if detach:
        await run_job(request, "exec_start_detached", args)
        return web.Response(status=200)
    prepared: jobs.PreparedExec = await run_job(request, "exec_prepare", args)  # 404/409/400 before any stream
    tty = bool(body.get("Tty")) if "Tty" in body else prepared.tty
    try:
        hj = await hijack(request, stream_content_type(request, tty))
    except BaseException:
        prepared.release()
        raise
    ended = Ended()
    session: jobs.ExecSession | None = None
    try:
        try:
            session = await run_job(request, "exec_launch", jobs.ExecLaunchArgs(prepared))
        except BargeError as exc:  # after the 101: moby writes the error into the stream
            text = (str(exc) + "\r\n").encode()
            await hj.write(text if tty else frame(1, text))
            return hj.response
        if session.error:  # the command could not be run: its exit code (126/127) is recorded
            text = (session.error + "\r\n").encode()
            await hj.write(text if tty else frame(1, text))
        keys = parse_detach_keys(prepared.detach_keys or DEFAULT_DETACH_KEYS)
        ended = await proxy(hj, session.sock, tty=tty, stdin=prepared.stdin, stdout=prepared.stdout,
                           stderr=prepared.stderr, keys=keys, close_stdin=True)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        loop = asyncio.get_running_loop()
        if session is not None:
            if ended.code is not None:
                await loop.run_in_executor(None, session.finished, ended.code)  # before the client sees EOF
            elif ended.detached:
                await loop.run_in_executor(None, session.detached)
            else:
                await loop.run_in_executor(None, session.follow)
        await hj.close()
    return hj.response
