"""Plugin routes: ``/plugins`` list, inspect, create, enable, disable, set, remove (dockerd's texts).

``pull``, ``privileges``, ``push`` and ``upgrade`` answer after dockerd's
own checks (an unknown plugin is 404, an enabled one cannot be upgraded)
with 400: barge does not fetch plugins from registries.
"""

from __future__ import annotations

from aiohttp import web

from barge.api.jobs import run_job
from barge.api.routing import Routes, json_response, query_bool, read_json
from barge.contracts import plugins as jobs
from barge.errors import InvalidParameter
from barge.gojson import STRING, List

routes = Routes()
NAME = "{name:.+}"
SET_BODY = List(STRING)


@routes.get("/plugins")
async def list_plugins(request: web.Request) -> web.Response:
    args = jobs.PluginListArgs(request.query.get("filters") or None)
    return json_response(await run_job(request, "plugin_list", args))


@routes.get("/plugins/privileges")
async def privileges(request: web.Request) -> web.Response:
    args = jobs.PluginRegistryArgs(remote=request.query.get("remote", ""))
    return json_response(await run_job(request, "plugin_registry", args))


@routes.post("/plugins/pull")
async def pull(request: web.Request) -> web.Response:
    args = jobs.PluginRegistryArgs(remote=request.query.get("remote", ""))
    return json_response(await run_job(request, "plugin_registry", args))


@routes.post("/plugins/create")
async def create(request: web.Request) -> web.Response:
    await run_job(request, "plugin_create", jobs.PluginCreateArgs(request.query.get("name", "")), stdin=True)
    return web.Response(status=204)


@routes.get(f"/plugins/{NAME}/json")
async def inspect(request: web.Request) -> web.Response:
    return json_response(await run_job(request, "plugin_inspect", jobs.PluginNameArgs(request.match_info["name"])))


@routes.post(f"/plugins/{NAME}/enable")
async def enable(request: web.Request) -> web.Response:
    raw = request.query.get("timeout", "")
    try:
        timeout = int(raw)
    except ValueError:
        raise InvalidParameter(f'strconv.Atoi: parsing "{raw}": invalid syntax') from None
    await run_job(request, "plugin_enable", jobs.PluginEnableArgs(request.match_info["name"], timeout))
    return web.Response(status=200)


@routes.post(f"/plugins/{NAME}/disable")
async def disable(request: web.Request) -> web.Response:
    args = jobs.PluginForceArgs(request.match_info["name"], query_bool(request, "force"))
    await run_job(request, "plugin_disable", args)
    return web.Response(status=200)


@routes.delete(f"/plugins/{NAME}")
async def remove(request: web.Request) -> web.Response:
    args = jobs.PluginForceArgs(request.match_info["name"], query_bool(request, "force"))
    await run_job(request, "plugin_remove", args)
    return web.Response(status=200)


@routes.post(f"/plugins/{NAME}/set")
async def set_(request: web.Request) -> web.Response:
    values = await read_json(request, SET_BODY)
    await run_job(request, "plugin_set", jobs.PluginSetArgs(request.match_info["name"], list(values or [])))
    return web.Response(status=204)


@routes.post(f"/plugins/{NAME}/push")
async def push(request: web.Request) -> web.Response:
    args = jobs.PluginRegistryArgs(name=request.match_info["name"])
    return json_response(await run_job(request, "plugin_registry", args))


@routes.post(f"/plugins/{NAME}/upgrade")
async def upgrade(request: web.Request) -> web.Response:
    args = jobs.PluginRegistryArgs(name=request.match_info["name"], remote=request.query.get("remote", ""))
    return json_response(await run_job(request, "plugin_registry", args))
