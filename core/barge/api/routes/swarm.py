"""Swarm endpoints, answered as dockerd 20.10 answers them on a host that is not in a swarm.

barge runs one host. Clients probe and tidy up swarm state (the SDK's
``leave_swarm(force=True)``, ``docker info``, compose), and expect
dockerd's answers: 503 with "This node is not a swarm manager..." for the
manager's objects (nodes, services, tasks, secrets, configs, the swarm
itself), 503 "This node is not part of a swarm" for leave, and
LocalNodeState ``inactive`` in ``info``. Joining or starting a swarm is not
something barge does: after dockerd's own checks of the request, 503 says so.
"""

from __future__ import annotations

from aiohttp import web

from barge.api.routing import Routes, query_bool, read_json
from barge.errors import InvalidParameter, Unavailable
from barge.gojson import STRING, Obj

routes = Routes()

NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect '
                 "this node to swarm and try again.")
NOT_IN_A_SWARM = "This node is not part of a swarm"
NO_SWARM_MODE = "barge runs a single host and does not join or start swarms"

#: ``swarm.InitRequest`` / ``swarm.JoinRequest``: the fields dockerd checks before anything else.
SWARM_REQUEST = Obj("swarm.InitRequest", {"ListenAddr": STRING, "AdvertiseAddr": STRING, "DataPathAddr": STRING})

_MANAGER_ROUTES = (
    ("GET", "/swarm"), ("POST", "/swarm/update"), ("POST", "/swarm/unlock"), ("GET", "/swarm/unlockkey"),
    ("GET", "/nodes"), ("GET", "/nodes/{id}"), ("DELETE", "/nodes/{id}"), ("POST", "/nodes/{id}/update"),
    ("GET", "/services"), ("POST", "/services/create"), ("GET", "/services/{id}"), ("DELETE", "/services/{id}"),
    ("POST", "/services/{id}/update"), ("GET", "/tasks"), ("GET", "/tasks/{id}"),
    ("GET", "/secrets"), ("POST", "/secrets/create"), ("GET", "/secrets/{id}"), ("DELETE", "/secrets/{id}"),
    ("POST", "/secrets/{id}/update"), ("GET", "/configs"), ("POST", "/configs/create"), ("GET", "/configs/{id}"),
    ("DELETE", "/configs/{id}"), ("POST", "/configs/{id}/update"),
)


async def not_a_manager(request: web.Request) -> web.Response:
    raise Unavailable(NOT_A_MANAGER)


for _method, _path in _MANAGER_ROUTES:
    routes.route(_method, _path)(not_a_manager)


@routes.get("/services/{id}/logs")
@routes.get("/tasks/{id}/logs")
async def swarm_logs(request: web.Request) -> web.Response:
    if not (query_bool(request, "stdout") or query_bool(request, "stderr")):
        raise InvalidParameter("Bad parameters: you must choose at least one stream")  # dockerd: 500
    raise Unavailable(NOT_A_MANAGER)


@routes.post("/swarm/leave")
async def leave(request: web.Request) -> web.Response:
    raise Unavailable(NOT_IN_A_SWARM)


@routes.post("/swarm/init")
@routes.post("/swarm/join")
async def init_or_join(request: web.Request) -> web.Response:
    body = await read_json(request, SWARM_REQUEST) or {}
    listen = body.get("ListenAddr") or ""
    if not listen:
        raise InvalidParameter(f'invalid ListenAddr "{listen}": invalid empty address')
    raise Unavailable(NO_SWARM_MODE)
