"""Build routes: ``POST /build`` (the classic builder), ``/build/prune``, ``/build/cancel`` and ``/session``.

The query is read as moby's ``newImageBuildOptions`` reads it: ``rm`` is
true unless given, ``forcerm`` implies it, the JSON parameters
(``buildargs``, ``labels``, ``cachefrom``, ``ulimits``) and the
``X-Registry-Config`` header are decoded against :mod:`barge.api.bodies`,
and what the classic builder refuses on this platform is refused here,
with moby's words. The body (the context tar) is the job's stdin; a
client that hangs up cancels the build.
"""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from barge.api import bodies
from barge.api.jobs import run_job, stream_job
from barge.api.routing import Routes, api_version, decode_json, json_response, query_bool
from barge.contracts.build import BuildArgs, BuildCancelArgs, BuildPruneArgs
from barge.contracts.messages import error_message, json_message
from barge.errors import InvalidParameter
from barge.filters import parse_filters

routes = Routes()


def _int64(request: web.Request, name: str) -> int:
    """moby's ``Int64ValueOrZero``: a value that does not parse is 0."""
    try:
        return int(request.query.get(name, "") or 0)
    except ValueError:
        return 0


def _json_param(request: web.Request, name: str, schema, what: str):
    raw = request.query.get(name, "")
    if not raw:
        return None
    try:
        return decode_json(raw.encode(), schema)
    except InvalidParameter as exc:
        raise InvalidParameter(f"error reading {what}: {exc}") from None


def registry_configs(header: str) -> dict[str, dict]:
    """``X-Registry-Config``: base64url JSON of credentials by registry (moby's ``getAuthConfigs``)."""
    if not header:
        return {}
    try:
        raw = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
    except (binascii.Error, ValueError):
        return {}  # moby ignores a header it cannot decode
    try:
        return decode_json(raw, bodies.REGISTRY_CONFIG) or {}
    except InvalidParameter:
        return {}


def build_args(request: web.Request) -> BuildArgs:
    """The query as moby's ``newImageBuildOptions`` reads it."""
    q = request.query
    if q.get("squash") and query_bool(request, "squash"):
        raise InvalidParameter("squash is only supported with experimental mode")
    if q.getall("securityopt", []):
        raise InvalidParameter("The daemon on this platform does not support setting security options on build")
    isolation = q.get("isolation", "")
    if isolation and isolation.lower() != "default":
        raise InvalidParameter(f"Unsupported isolation: {isolation!r}")
    if q.get("version", "1") not in ("", "1", "2"):
        raise InvalidParameter(f'invalid version "{q["version"]}"')  # moby's BuilderVersion check
    if q.get("session") or q.get("version") == "2":
        raise InvalidParameter("BuildKit is not available on this daemon: use the classic builder (version=1)")
    shm = q.get("shmsize", "")
    try:
        shm_size = int(shm) if shm else 0
    except ValueError:
        raise InvalidParameter(f'strconv.ParseInt: parsing "{shm}": invalid syntax') from None
    version = api_version(request)
    return BuildArgs(
        tags=list(q.getall("t", [])),
        dockerfile=q.get("dockerfile", ""),
        remote=q.get("remote", ""),
        quiet=query_bool(request, "q"),
        nocache=query_bool(request, "nocache"),
        cache_from=_json_param(request, "cachefrom", bodies.BUILD_CACHE_FROM, "cache from") or [],
        pull=query_bool(request, "pull"),
        remove=query_bool(request, "rm", default=True) or query_bool(request, "forcerm"),
        force_remove=query_bool(request, "forcerm"),
        memory=_int64(request, "memory"),
        memory_swap=_int64(request, "memswap"),
        cpu_shares=_int64(request, "cpushares"),
        cpuset_cpus=q.get("cpusetcpus", ""),
        cpuset_mems=q.get("cpusetmems", ""),
        cpu_period=_int64(request, "cpuperiod"),
        cpu_quota=_int64(request, "cpuquota"),
        cgroup_parent=q.get("cgroupparent", ""),
        shm_size=shm_size,
        ulimits=_json_param(request, "ulimits", bodies.BUILD_ULIMITS, "ulimit settings") or [],
        build_args=_json_param(request, "buildargs", bodies.BUILD_ARGS, "build args") or {},
        labels=_json_param(request, "labels", bodies.BUILD_LABELS, "labels") or {},
        network_mode=q.get("networkmode", ""),
        extra_hosts=list(q.getall("extrahosts", [])),
        platform=q.get("platform", "") if version is None or version >= (1, 32) else "",
        target=q.get("target", ""),
        auth_configs=registry_configs(request.headers.get("X-Registry-Config", "")),
        build_id=q.get("buildid", ""),
        want_aux=version is None or version >= (1, 30),
    )


def build_error(exc: BaseException) -> bytes:
    """A build's error in the stream: a failed RUN carries its exit code, as moby's JSONError does."""
    code = getattr(exc, "code", None)
    if not isinstance(code, int):
        return error_message(exc)
    text = getattr(exc, "message", None) or str(exc)
    return json_message(errorDetail={"code": code, "message": text}, error=text)


@routes.post("/build")
async def build(request: web.Request) -> web.StreamResponse:
    args = build_args(request)
    return await stream_job(request, "build", args, stdin=True, on_error=build_error, cancel_on_hangup=True)


#: The build cache's prune filters dockerd 20.10 accepts (its BuildKit cache's fields, and the ages).
PRUNE_FILTERS = frozenset({"id", "parent", "type", "description", "inuse", "shared", "private", "until",
                           "unused-for"})


@routes.post("/build/prune")
async def prune(request: web.Request) -> web.Response:
    keep = request.query.get("keep-storage", "")
    try:
        keep_storage = int(keep) if keep else 0
    except ValueError:
        raise InvalidParameter(f"keep-storage is in bytes and expects an integer, got {keep}: "
                               f'strconv.Atoi: parsing "{keep}": invalid syntax') from None
    try:
        filters = parse_filters(request.query.get("filters"), PRUNE_FILTERS)
    except InvalidParameter as exc:
        text = str(exc).replace("invalid filter '", "Invalid filter '", 1)
        raise InvalidParameter(f"failed to prune build cache: {text}") from None
    args = BuildPruneArgs(all=query_bool(request, "all"), keep_storage=keep_storage, filters=filters)
    return json_response(await run_job(request, "build_prune", args))


@routes.post("/build/cancel")
async def cancel(request: web.Request) -> web.Response:
    build_id = request.query.get("id", "")
    if not build_id:
        raise InvalidParameter("build ID not provided")
    await run_job(request, "build_cancel", BuildCancelArgs(build_id=build_id))
    return web.Response(status=200)


@routes.post("/session")
async def session(request: web.Request) -> web.Response:
    """BuildKit's session (``Upgrade: h2c``, for BuildKit builds): barge builds with the classic builder only, so
    the upgrade is refused with a 400, as dockerd's session manager refuses a request it cannot take over."""
    proto = request.headers.get("Upgrade", "")
    if not proto:
        raise InvalidParameter("no upgrade proto in request")
    if proto != "h2c":
        raise InvalidParameter(f"protocol {proto} not supported")
    raise InvalidParameter("BuildKit is not available on this daemon: use the classic builder (version=1)")
