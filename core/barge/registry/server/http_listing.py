"""Listings: ``tags/list`` and ``_catalog`` (``n``/``last`` pagination with
a ``Link: <...>; rel="next"`` header) and Docker's v1 search endpoint
``/v1/search`` (substring match over repository names, paged as the index
pages)."""

from __future__ import annotations

import json
import math
from urllib.parse import urlencode

from aiohttp import web

from barge.registry.server.context import registry
from barge.registry.server.errors import RegistryError
from barge.registry.server.routes import Op

SEARCH_PAGE_SIZE = 25
SEARCH_MAX_PAGE_SIZE = 100


def _int(request: web.Request, key: str, default: int | None) -> int | None:
    text = request.query.get(key)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise RegistryError("PAGINATION_NUMBER_INVALID", detail={key: text})
    return value


def _page(request: web.Request, items: list[str], path: str) -> tuple[list[str], dict[str, str]]:
    n = _int(request, "n", None)
    last = request.query.get("last")
    if last:
        items = [item for item in items if item > last]
    if n is None or len(items) <= n:
        return (items if n != 0 else []), {}
    page = items[:n]
    if not page:
        return [], {}
    return page, {"Link": f'<{path}?{urlencode({"n": n, "last": page[-1]})}>; rel="next"'}


def _json(body: dict, headers: dict[str, str]) -> web.Response:
    return web.Response(body=json.dumps(body).encode(), content_type="application/json", headers=headers)


async def list_tags(request: web.Request, op: Op) -> web.Response:
    reg = registry(request)
    if not reg.repos.exists(op.name):
        raise RegistryError("NAME_UNKNOWN", detail={"name": op.name})
    tags, headers = _page(request, reg.repos.tags(op.name), f"/v2/{op.name}/tags/list")
    return _json({"name": op.name, "tags": tags}, headers)


async def catalog(request: web.Request, op: Op) -> web.Response:
    names, headers = _page(request, registry(request).repos.catalog(), "/v2/_catalog")
    return _json({"repositories": names}, headers)


async def base(request: web.Request, op: Op) -> web.Response:
    return _json({}, {})


async def search(request: web.Request) -> web.Response:
    """``GET /v1/search?q=&n=&page=`` as Docker's index answers it."""
    query = request.query.get("q", "")
    size = min(_int(request, "n", SEARCH_PAGE_SIZE) or SEARCH_PAGE_SIZE, SEARCH_MAX_PAGE_SIZE)
    page = max(_int(request, "page", 1) or 1, 1)
    needle = query.lower()
    names = [name for name in registry(request).repos.catalog() if needle in name.lower()]
    chosen = names[(page - 1) * size: page * size]
    results = [{"name": name, "description": "", "star_count": 0, "is_official": False, "is_automated": False}
               for name in chosen]
    return _json({"num_results": len(names), "query": query, "results": results, "page": page,
                  "num_pages": max(math.ceil(len(names) / size), 1), "page_size": size}, {})


async def ping_v1(request: web.Request) -> web.Response:
    """``/v1/_ping``: docker's daemon probes it before a search."""
    return _json({"standalone": True}, {"X-Docker-Registry-Standalone": "True"})


HANDLERS = {
    ("base", "GET"): base,
    ("base", "HEAD"): base,
    ("tags", "GET"): list_tags,
    ("catalog", "GET"): catalog,
}
