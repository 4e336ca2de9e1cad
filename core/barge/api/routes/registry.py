"""Registry routes of the Engine API: push, search and login (pull is
``POST /images/create?fromImage=`` in :mod:`barge.api.routes.images`).

Thin, as moby's image and system routers: they read the query, the
``X-Registry-Auth`` header (handed raw to the jobs, which decode it) and
run the ``push``, ``search`` and ``auth`` jobs. ``{name}`` may hold slashes
and a registry host with a port (``127.0.0.1:5000/team/app``).
"""

from __future__ import annotations

import base64
import json

from aiohttp import web

from barge import gojson
from barge.api import bodies
from barge.api.jobs import run_job, stream_job
from barge.api.routing import Routes, json_response, read_json
from barge.contracts.messages import error_message
from barge.contracts.registry import DistributionArgs, LoginArgs, PushArgs, SearchArgs
from barge.errors import InvalidParameter
from barge.filters import parse_filters

routes = Routes()

AUTH_HEADER = "X-Registry-Auth"
SEARCH_FILTERS = frozenset({"is-automated", "is-official", "stars"})


def registry_auth(request: web.Request) -> str:
    """The raw ``X-Registry-Auth`` header ("" when absent)."""
    return request.headers.get(AUTH_HEADER, "")


async def push_auth(request: web.Request) -> str:
    """Moby's ``postImagesPush``: the header, or else the body as a JSON AuthConfig.

    docker-py sends ``{}`` as the body and no header when it has no
    credentials; an absent header with no usable body is refused with
    moby's words. The body form is handed on re-encoded as a header.
    """
    header = registry_auth(request)
    if header:
        return header
    raw = await request.read()
    try:
        body = gojson.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise InvalidParameter(f"bad parameters and missing X-Registry-Auth: invalid X-Registry-Auth header: {exc}") from None
    if body is None:
        raise InvalidParameter("bad parameters and missing X-Registry-Auth: invalid X-Registry-Auth header: EOF")
    try:
        auth = gojson.decode(bodies.AUTH_CONFIG, body)
    except InvalidParameter as exc:
        raise InvalidParameter(f"bad parameters and missing X-Registry-Auth: invalid X-Registry-Auth header: {exc}") from None
    return encode_auth(auth)


def encode_auth(doc: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def push_platform(request: web.Request) -> str:
    """``platform`` of a push (API >= 1.46) is a JSON OCI platform; the job takes ``os/arch[/variant]``."""
    raw = request.query.get("platform", "")
    if not raw:
        return ""
    try:
        doc = gojson.loads(raw)
    except ValueError as exc:
        raise InvalidParameter(f"failed to parse platform: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidParameter("failed to parse platform: expected a JSON object")
    os_, arch = str(doc.get("os") or ""), str(doc.get("architecture") or "")
    if not os_ or not arch:
        raise InvalidParameter("both os and architecture must be set in platform")
    variant = str(doc.get("variant") or "")
    return "/".join(p for p in (os_, arch, variant) if p)


@routes.post("/images/{name:.+}/push")
async def push_image(request: web.Request) -> web.StreamResponse:
    auth = await push_auth(request)
    args = PushArgs(name=request.match_info["name"], tag=request.query.get("tag", ""), auth=auth,
                    platform=push_platform(request))
    return await stream_job(request, "push", args, on_error=error_message)


@routes.get("/images/search")
async def search_images(request: web.Request) -> web.Response:
    q = request.query
    term = q.get("term", "")
    if not term.strip():
        raise InvalidParameter("term is required")
    limit = 25
    raw_limit = q.get("limit", "")
    if raw_limit:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise InvalidParameter(f'invalid limit specified: strconv.Atoi: parsing "{raw_limit}": invalid syntax') from None
        if limit < 0:
            raise InvalidParameter("invalid limit specified")
        limit = limit or 25  # moby: 0 means the default
    filters = q.get("filters") or None
    parse_filters(filters, SEARCH_FILTERS)  # malformed or unknown keys: 400 before any registry call
    args = SearchArgs(term=term, limit=limit, filters=filters, auth=registry_auth(request))
    results = await run_job(request, "search", args)
    return json_response(list(results or []))


@routes.post("/auth")
async def login(request: web.Request) -> web.Response:
    body = await read_json(request, bodies.AUTH_CONFIG)
    result = await run_job(request, "auth", LoginArgs(body=body))
    if isinstance(result, tuple):
        status, token = (list(result) + ["", ""])[:2]
    else:
        result = result or {}
        status, token = result.get("Status", ""), result.get("IdentityToken", "")
    return json_response({"Status": status or "Login Succeeded", "IdentityToken": token or ""})


@routes.get("/distribution/{name:.+}/json")
async def distribution_inspect(request: web.Request) -> web.Response:
    """What the registry says of an image (its descriptor and platforms), without pulling it."""
    args = DistributionArgs(name=request.match_info["name"], auth=request.headers.get(AUTH_HEADER, ""))
    return json_response(await run_job(request, "distribution_inspect", args))
