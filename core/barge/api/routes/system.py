"""System routes: ``/_ping``, ``/version``, ``/info``, ``/system/df``, and barge's ``/system/check``.

Ping answers without running a job: the CLI sends it before anything else,
with a two-second timeout, and reads only its headers.
"""

from __future__ import annotations

from aiohttp import web

from barge.api.jobs import run_job
from barge.api.routes.images import legacy_image_names
from barge.api.routing import Routes, json_response, query_bool
from barge.api.workload import goroutines
from barge.contracts.system import DISK_USAGE_OBJECTS, CheckArgs, DiskUsageArgs, InfoArgs, VersionArgs
from barge.errors import InvalidParameter

routes = Routes()

_PING_HEADERS = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Docker-Experimental": "false",
    "Builder-Version": "1",
    "Swarm": "inactive",
}


@routes.get("/_ping")
async def ping(request: web.Request) -> web.Response:
    return web.Response(text="OK", headers=_PING_HEADERS)


@routes.head("/_ping")
async def ping_head(request: web.Request) -> web.Response:
    return web.Response(body=b"", content_type="text/plain", charset="utf-8", headers=_PING_HEADERS)


@routes.get("/version")
async def version(request: web.Request) -> web.Response:
    return json_response(await run_job(request, "version", VersionArgs()))


@routes.get("/info")
async def info(request: web.Request) -> web.Response:
    """The info job's answer; its ``NGoroutines`` (the daemon's threads) completed by what only the API
    sees: its idle job threads left out, its event loop's tasks added (:mod:`barge.api.workload`)."""
    result = await run_job(request, "info", InfoArgs())
    return json_response({**result, "NGoroutines": goroutines(request.app, result["NGoroutines"])})


@routes.get("/system/df")
async def disk_usage(request: web.Request) -> web.Response:
    types = list(request.query.getall("type", []))
    for kind in types:
        if kind not in DISK_USAGE_OBJECTS:
            raise InvalidParameter(f"unknown object type: {kind}")
    usage = await run_job(request, "system_df", DiskUsageArgs(types=types))
    legacy_image_names(request, usage.get("Images") or [])
    return json_response(usage)


@routes.post("/system/check")
async def consistency_check(request: web.Request) -> web.Response:
    """barge's own: the records checked against the world (``repair=1`` fixes what loses no data)."""
    return json_response(await run_job(request, "system_check", CheckArgs(repair=query_bool(request, "repair"))))
