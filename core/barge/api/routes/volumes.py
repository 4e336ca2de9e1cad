"""Volume routes: ``/volumes`` create, list, inspect, remove, prune (the ``local`` driver)."""

from __future__ import annotations

from aiohttp import web

from barge.api import bodies
from barge.api.jobs import run_job
from barge.api.routing import Routes, json_response, query_bool, read_json
from barge.contracts import volumes as jobs

routes = Routes()


@routes.post("/volumes/create")
async def create(request: web.Request) -> web.Response:
    body = await read_json(request, bodies.VOLUME_CREATE)
    return json_response(await run_job(request, "volume_create", jobs.VolumeCreateArgs(body)), status=201)


@routes.get("/volumes")
async def list_volumes(request: web.Request) -> web.Response:
    args = jobs.VolumeFiltersArgs(request.query.get("filters") or None)
    return json_response(await run_job(request, "volume_list", args))


@routes.post("/volumes/prune")
async def prune(request: web.Request) -> web.Response:
    args = jobs.VolumeFiltersArgs(request.query.get("filters") or None)
    return json_response(await run_job(request, "volume_prune", args))


@routes.get("/volumes/{name}")
async def inspect(request: web.Request) -> web.Response:
    return json_response(await run_job(request, "volume_inspect", jobs.VolumeNameArgs(request.match_info["name"])))


@routes.delete("/volumes/{name}")
async def remove(request: web.Request) -> web.Response:
    args = jobs.VolumeRemoveArgs(request.match_info["name"], query_bool(request, "force"))
    await run_job(request, "volume_remove", args)
    return web.Response(status=204)
