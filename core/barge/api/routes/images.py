"""Image routes of the Engine API: thin, they parse the request and run a job.

Paths follow moby's image router; ``{name}`` may hold slashes
(``foo/bar:1``), so the routes without a suffix come first.
"""

from __future__ import annotations

from aiohttp import web

from barge.api.jobs import run_job, stream_job
from barge.api.routing import Routes, api_version
from barge.contracts.images import (
    HistoryArgs,
    ImageInspectArgs,
    ImagePruneArgs,
    ImagesArgs,
    ImportArgs,
    LoadArgs,
    RmiArgs,
    SaveArgs,
    TagArgs,
)
from barge.contracts.messages import error_message
from barge.errors import ImageNotFound, InvalidParameter, NotFound
from barge.filters import parse_filters

routes = Routes()

NAME = "{name:.+}"


def query_bool(request: web.Request, key: str, default: bool = False) -> bool:
    """Docker's ``BoolValue``: ``""``, 0, no, false and none are false."""
    if key not in request.query:
        return default
    return request.query[key].strip().lower() not in ("", "0", "no", "false", "none")


@routes.get("/images/json")
async def list_images(request: web.Request) -> web.Response:
    filters = parse_filters(request.query.get("filters"))
    if request.query.get("filter"):  # the pre-1.41 single reference filter
        filters.setdefault("reference", []).append(request.query["filter"])
    args = ImagesArgs(all=query_bool(request, "all"), filters=filters, digests=query_bool(request, "digests"))
    summaries = await run_job(request, "images", args)
    legacy_image_names(request, summaries, placeholders=True)
    return web.json_response(summaries)


def legacy_image_names(request: web.Request, summaries: list[dict], placeholders: bool = False) -> None:
    """Before API 1.43 an image summary's empty ``RepoTags``/``RepoDigests`` are null (dockerd 20.10's nil
    slices); moby 24 made them ``[]`` from 1.43 on. ``placeholders``: the image list's ``<none>:<none>`` and
    ``<none>@<none>`` for an image with neither."""
    version = api_version(request)
    if version is None or version >= (1, 43):
        return
    for s in summaries:
        if placeholders and not s["RepoTags"] and not s["RepoDigests"]:
            s["RepoTags"], s["RepoDigests"] = ["<none>:<none>"], ["<none>@<none>"]
        for key in ("RepoTags", "RepoDigests"):
            if not s.get(key):
                s[key] = None


@routes.get("/images/get")
async def save_images(request: web.Request) -> web.StreamResponse:
    names = request.query.getall("names", [])
    return await stream_job(request, "save", SaveArgs(names=list(names)), content_type="application/x-tar")


@routes.post("/images/load")
async def load_images(request: web.Request) -> web.StreamResponse:
    args = LoadArgs(quiet=query_bool(request, "quiet"))
    return await stream_job(request, "load", args, stdin=True, on_error=error_message, errors_in_stream=True)


@routes.post("/images/prune")
async def prune_images(request: web.Request) -> web.Response:
    """``docker image prune``: the job checks the filters against prune's own."""
    args = ImagePruneArgs(filters=parse_filters(request.query.get("filters"), None))
    return web.json_response(await run_job(request, "image_prune", args))


@routes.post("/images/create")
async def create_image(request: web.Request) -> web.StreamResponse:
    q = request.query
    if q.get("fromImage"):
        if "fromSrc" in q:
            raise InvalidParameter("fromImage and fromSrc are mutually exclusive")
        from barge.contracts.registry import PullArgs

        pull = PullArgs(image=q["fromImage"], tag=q.get("tag", ""), platform=q.get("platform", ""),
                        auth=request.headers.get("X-Registry-Auth", ""))
        return await stream_job(request, "pull", pull, on_error=error_message)
    if not q.get("fromSrc"):  # moby imports from the URL "http://" + fromSrc, which has no host
        raise InvalidParameter('Get "http:": http: no Host in request URL')
    args = ImportArgs(
        src=q.get("fromSrc", "-"),
        repo=q.get("repo", ""),
        tag=q.get("tag", ""),
        message=q.get("message", ""),
        changes=list(q.getall("changes", [])),
    )
    return await stream_job(request, "import", args, stdin=args.src in ("", "-"), on_error=error_message)


@routes.get(f"/images/{NAME}/json")
async def inspect_image(request: web.Request) -> web.Response:
    """dockerd 20.10's fields. ``VirtualSize`` goes from API 1.44, as moby drops it; ``Container`` and
    ``ContainerConfig`` stay at every version, as 20.10 sends them (moby 26 drops them from 1.45): docker-compose
    1.29 negotiates barge's API version and cannot recreate a container without ``ContainerConfig``."""
    name = request.match_info["name"]
    try:
        result = await run_job(request, "image_inspect", ImageInspectArgs(name=name))
    except ImageNotFound as exc:
        if (api_version(request) or (99, 0)) < (1, 42):  # 20.10 wraps it: "no such image: x: No such image: x:latest"
            raise NotFound(f"no such image: {name}: {exc}") from None
        raise
    if (api_version(request) or (99, 0)) >= (1, 44):  # no version: the latest
        result.pop("VirtualSize", None)
    return web.json_response(result)


@routes.get(f"/images/{NAME}/history")
async def image_history(request: web.Request) -> web.Response:
    result = await run_job(request, "history", HistoryArgs(name=request.match_info["name"]))
    return web.json_response(result)


@routes.get(f"/images/{NAME}/get")
async def save_image(request: web.Request) -> web.StreamResponse:
    args = SaveArgs(names=[request.match_info["name"]])
    return await stream_job(request, "save", args, content_type="application/x-tar")


@routes.post(f"/images/{NAME}/tag")
async def tag_image(request: web.Request) -> web.Response:
    args = TagArgs(name=request.match_info["name"], repo=request.query.get("repo", ""), tag=request.query.get("tag", ""))
    await run_job(request, "tag", args)
    return web.Response(status=201)


@routes.delete(f"/images/{NAME}")
async def remove_image(request: web.Request) -> web.Response:
    args = RmiArgs(
        name=request.match_info["name"],
        force=query_bool(request, "force"),
        prune=not query_bool(request, "noprune"),
    )
    return web.json_response(await run_job(request, "rmi", args))
