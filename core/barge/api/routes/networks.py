"""Network routes: ``/networks`` list, inspect, create, remove, connect,
disconnect and prune, with moby's statuses (201 create, 204 remove, 200 and
an empty body for connect/disconnect)."""

from __future__ import annotations

from aiohttp import web

from barge.api import bodies
from barge.api.jobs import run_job
from barge.api.routing import Routes, json_response, query_bool, read_json
from barge.contracts import networks as jobs

routes = Routes()


@routes.get("/networks")
async def list_networks(request: web.Request) -> web.Response:
    args = jobs.NetworkFiltersArgs(request.query.get("filters") or None)
    return json_response(await run_job(request, "network_list", args))


@routes.post("/networks/create")
async def create(request: web.Request) -> web.Response:
    body = await read_json(request, bodies.NETWORK_CREATE)
    return json_response(await run_job(request, "network_create", jobs.NetworkCreateArgs(body)), status=201)


@routes.post("/networks/prune")
async def prune(request: web.Request) -> web.Response:
    args = jobs.NetworkFiltersArgs(request.query.get("filters") or None)
    return json_response(await run_job(request, "network_prune", args))


@routes.get("/networks/{id}")
async def inspect(request: web.Request) -> web.Response:
    args = jobs.NetworkInspectArgs(request.match_info["id"], query_bool(request, "verbose"),
                                   request.query.get("scope", ""))
    return json_response(await run_job(request, "network_inspect", args))


@routes.delete("/networks/{id}")
async def remove(request: web.Request) -> web.Response:
    await run_job(request, "network_remove", jobs.NetworkRefArgs(request.match_info["id"]))
    return web.Response(status=204)


@routes.post("/networks/{id}/connect")
async def connect(request: web.Request) -> web.Response:
    body = await read_json(request, bodies.NETWORK_CONNECT)
    await run_job(request, "network_connect", jobs.NetworkAttachArgs(request.match_info["id"], body))
    return web.Response(status=200)


@routes.post("/networks/{id}/disconnect")
async def disconnect(request: web.Request) -> web.Response:
    body = await read_json(request, bodies.NETWORK_DISCONNECT)
    await run_job(request, "network_disconnect", jobs.NetworkAttachArgs(request.match_info["id"], body))
    return web.Response(status=200)
