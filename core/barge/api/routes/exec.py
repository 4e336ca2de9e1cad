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
from barge.api.proxy import proxy
from barge.api.jobs import run_job
from barge.api.routing import Routes, json_response, read_json
from barge.containers.detach import DEFAULT_DETACH_KEYS, parse_detach_keys
from barge.daemon.jobs import exec as jobs
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
    prepared = await run_job(request, "exec_prepare", args)  # 404/409/400 before any stream
    exec_svc = request.app["services"].extra["exec"]
    inst = prepared.instance
    tty = bool(body.get("Tty")) if "Tty" in body else inst.tty
    try:
        hj = await hijack(request, stream_content_type(request, tty))
    except BaseException:
        inst.claimed = False
        raise
    code = None
    launched = False
    try:
        try:
            ticket = await run_job(request, "exec_launch", jobs.ExecLaunchArgs(prepared))
        except BargeError as exc:  # after the 101: moby writes the error into the stream
            text = (str(exc) + "\r\n").encode()
            await hj.write(text if tty else frame(1, text))
            return hj.response
        launched = True
        if ticket.error:  # the command could not be run: its exit code (126/127) is recorded
            text = (ticket.error + "\r\n").encode()
            await hj.write(text if tty else frame(1, text))
        keys = parse_detach_keys(inst.detach_keys or DEFAULT_DETACH_KEYS)
        code = await proxy(hj, ticket.sock, tty=tty, stdin=inst.attach_stdin, stdout=inst.attach_stdout,
                           stderr=inst.attach_stderr, keys=keys, close_stdin=True)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        loop = asyncio.get_running_loop()
        if code is not None:
            await loop.run_in_executor(None, exec_svc.finished, inst, code)  # before the client sees EOF
        elif launched:
            await loop.run_in_executor(None, exec_svc.follow, inst)
        await hj.close()
    return hj.response
