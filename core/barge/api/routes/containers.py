"""Container routes: create, start, attach, wait, logs, stop, kill, rm, ps, inspect, ...

Thin, like every route module: parse the query and body into a job's typed
arguments and run it. Three answers need more than a JSON body:

* ``wait`` flushes its 200 headers at once (the docker CLI starts the
  container only after they arrive) and writes ``{"StatusCode": N}`` at the
  exit, awaiting the job's future without holding a thread;
* ``attach`` takes over the connection (:mod:`barge.api.hijack`) and proxies
  it to the container monitor's attach socket: stdin in (a half-close is
  stdin's EOF, the detach keys end the attach), frames out, closed when the
  process exits;
* ``logs`` and ``stats`` stream until the container stops (``follow``,
  ``stream``) or the client goes.
"""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web

from barge import gojson
from barge.api import bodies, websocket
from barge.api.hijack import RAW_STREAM, frame, hijack, stream_content_type
from barge.api.jobs import run_job
from barge.api.proxy import proxy
from barge.api.routing import Routes, api_version, json_response, json_response_off_loop, query_bool, read_json
from barge.contracts import containers as jobs
from barge.contracts.attach import DEFAULT_DETACH_KEYS, parse_detach_keys
from barge.contracts.containers import LogOptions
from barge.errors import BargeError, InvalidParameter, NotFound

log = logging.getLogger("barge.api")

routes = Routes()
ID = "{id:[^/]+}"  # aiohttp's default [^{}/]+ would refuse braces: dockerd's router takes them (then 404s the name)
#: How often a wait or a log follower checks whether its client is gone, and
#: how often a follower looks for new log lines.
POLL = 0.1
STATS_INTERVAL = 1.0


def _ref(request: web.Request) -> str:
    return request.match_info["id"]


def _int(request: web.Request, name: str, default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidParameter(f"invalid value for {name}: {raw!r}") from None


def _timestamp(request: web.Request, name: str) -> float:
    """``since``/``until``: a Unix time with an optional fraction (what the CLI sends); 0 is unset."""
    raw = request.query.get(name, "")
    if not raw:
        return 0.0
    try:
        return float(raw)
    except ValueError:
        from barge.timefmt import parse_rfc3339

        value = parse_rfc3339(raw)
        if not value:
            raise InvalidParameter(f"invalid value for {name}: {raw!r}") from None
        return value


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


# ---------------------------------------------------------------------------
# create, list, inspect
# ---------------------------------------------------------------------------


@routes.post("/containers/create")
async def create(request: web.Request) -> web.Response:
    body = await read_json(request, bodies.CONTAINER_CREATE)
    if (api_version(request) or (99, 0)) < (1, 42):  # moby ignores the field before API 1.42
        for mount in (body.get("HostConfig") or {}).get("Mounts") or []:
            (mount.get("BindOptions") or {}).pop("CreateMountpoint", None)
    result = await run_job(request, "container_create", jobs.CreateArgs(body, request.query.get("name", "")))
    return json_response(result, status=201)


@routes.get("/containers/json")
async def list_containers(request: web.Request) -> web.Response:
    raw_filters = request.query.get("filters")
    legacy = {k: request.query[k] for k in ("before", "since") if request.query.get(k)}
    if legacy:
        try:
            merged = gojson.loads(raw_filters) if raw_filters else {}
        except ValueError as exc:
            raise InvalidParameter(f"invalid filter: {exc}") from None
        if not isinstance(merged, dict):
            raise InvalidParameter("invalid filter: expected a JSON object")
        for key, value in legacy.items():
            entry = merged.setdefault(key, {})
            if isinstance(entry, dict):
                entry[value] = True
            elif isinstance(entry, list):
                entry.append(value)
            else:
                raise InvalidParameter(f"invalid filter: bad value for {key!r}")
        raw_filters = json.dumps(merged)
    limit = _int(request, "limit", -1)
    if query_bool(request, "latest"):
        limit = 1
    args = jobs.ListArgs(all=query_bool(request, "all"), limit=limit if limit is not None else -1,
                         size=query_bool(request, "size"), filters=raw_filters)
    return await json_response_off_loop(await run_job(request, "container_list", args))


@routes.post("/containers/prune")
async def prune(request: web.Request) -> web.Response:
    args = jobs.PruneArgs(request.query.get("filters"))
    return json_response(await run_job(request, "container_prune", args))


@routes.get("/containers/{id:.+}/json")  # also a link's name: /containers/web/db/json
async def inspect(request: web.Request) -> web.Response:
    args = jobs.InspectArgs(_ref(request), query_bool(request, "size"))
    return json_response(await run_job(request, "container_inspect", args))


# ---------------------------------------------------------------------------
# lifecycle
# ---------------------------------------------------------------------------


def _no_content() -> web.Response:
    return web.Response(status=204)


@routes.post(f"/containers/{ID}/start")
async def start(request: web.Request) -> web.Response:
    await request.read()
    await run_job(request, "container_start", jobs.RefArgs(_ref(request)))
    return _no_content()


@routes.post(f"/containers/{ID}/stop")
async def stop(request: web.Request) -> web.Response:
    args = jobs.StopArgs(_ref(request), _int(request, "t"), request.query.get("signal") or None)
    await run_job(request, "container_stop", args)
    return _no_content()


@routes.post(f"/containers/{ID}/restart")
async def restart(request: web.Request) -> web.Response:
    args = jobs.StopArgs(_ref(request), _int(request, "t"), request.query.get("signal") or None)
    await run_job(request, "container_restart", args)
    return _no_content()


@routes.post(f"/containers/{ID}/kill")
async def kill(request: web.Request) -> web.Response:
    await run_job(request, "container_kill", jobs.KillArgs(_ref(request), request.query.get("signal") or None))
    return _no_content()


@routes.post(f"/containers/{ID}/pause")
async def pause(request: web.Request) -> web.Response:
    await run_job(request, "container_pause", jobs.RefArgs(_ref(request)))
    return _no_content()


@routes.post(f"/containers/{ID}/unpause")
async def unpause(request: web.Request) -> web.Response:
    await run_job(request, "container_unpause", jobs.RefArgs(_ref(request)))
    return _no_content()


@routes.delete("/containers/{id:.+}")  # a link's name has a slash: DELETE /containers/web/db?link=1
async def remove(request: web.Request) -> web.Response:
    args = jobs.RemoveArgs(_ref(request), query_bool(request, "force"), query_bool(request, "v"),
                           query_bool(request, "link"))
    await run_job(request, "container_remove", args)
    return _no_content()


@routes.post(f"/containers/{ID}/rename")
async def rename(request: web.Request) -> web.Response:
    await run_job(request, "container_rename", jobs.RenameArgs(_ref(request), request.query.get("name", "")))
    return _no_content()


@routes.post(f"/containers/{ID}/update")
async def update(request: web.Request) -> web.Response:
    body = await read_json(request, bodies.CONTAINER_UPDATE)
    return json_response(await run_job(request, "container_update", jobs.UpdateArgs(_ref(request), body)))


@routes.post(f"/containers/{ID}/resize")
async def resize(request: web.Request) -> web.Response:
    args = jobs.ResizeArgs(_ref(request), _int(request, "h", 0) or 0, _int(request, "w", 0) or 0)
    await run_job(request, "container_resize", args)
    return web.Response(status=200)


@routes.get(f"/containers/{ID}/top")
async def top(request: web.Request) -> web.Response:
    args = jobs.TopArgs(_ref(request), request.query.get("ps_args", ""))
    return json_response(await run_job(request, "container_top", args))


# ---------------------------------------------------------------------------
# wait
# ---------------------------------------------------------------------------


@routes.post(f"/containers/{ID}/wait")
async def wait(request: web.Request) -> web.StreamResponse:
    args = jobs.WaitArgs(_ref(request), request.query.get("condition") or "not-running")
    future = await run_job(request, "container_wait", args)  # 404 / 400 before any header
    response = web.StreamResponse(status=200)
    response.content_type = "application/json"
    await response.prepare(request)  # headers go out now: the CLI starts the container after them
    waiting = asyncio.wrap_future(future)
    while True:
        try:
            code, error = await asyncio.wait_for(asyncio.shield(waiting), timeout=1.0)
            break
        except asyncio.TimeoutError:
            if _client_gone(request):
                future.cancel()
                return response
    body = {"Error": {"Message": error} if error else None, "StatusCode": code}
    await response.write(json.dumps(body).encode() + b"\n")
    await response.write_eof()
    return response


# ---------------------------------------------------------------------------
# attach
# ---------------------------------------------------------------------------


async def _replay_logs(hj, session, multiplexed: bool, stdout: bool, stderr: bool) -> None:
    loop = asyncio.get_running_loop()
    entries = await loop.run_in_executor(None, session.replay, stdout, stderr)
    for e in entries:
        stream = 2 if e.stream == "stderr" else 1
        await hj.write(frame(stream, e.data) if multiplexed else e.data)


def _attach_refused(exc: BargeError) -> web.Response:
    """dockerd's refusal of an attach: the status, the stream's Content-Type and the text plain (moby
    writes it on the taken-over connection); clients read a body that is not JSON as the message."""
    return web.Response(status=exc.status, body=f"{exc.message}\r\n".encode(),
                        headers={"Content-Type": RAW_STREAM})


@routes.post(f"/containers/{ID}/attach")
async def attach(request: web.Request) -> web.StreamResponse:
    q = request.query
    keys_text = q.get("detachKeys") or None
    args = jobs.AttachArgs(_ref(request), stream=query_bool(request, "stream"), stdin=query_bool(request, "stdin"),
                           stdout=query_bool(request, "stdout"), stderr=query_bool(request, "stderr"),
                           detach_keys=keys_text)
    try:
        session: jobs.AttachSession = await run_job(request, "container_attach", args)
    except BargeError as exc:
        return _attach_refused(exc)
    tty = session.tty
    try:
        hj = await hijack(request, stream_content_type(request, tty))
    except BaseException:
        session.cancel()
        raise
    return await _stream_attach(request, hj, session, args, multiplexed=not tty)


@routes.get(f"/containers/{ID}/attach/ws")
async def attach_ws(request: web.Request) -> web.StreamResponse:
    """The attach over a WebSocket (:mod:`barge.api.websocket`): output never multiplexed.

    Before API 1.42 moby attaches stdin, stdout and stderr whatever the
    query says; from 1.42 on it reads them as ``attach`` does.
    """
    version = api_version(request) or (1, 24)
    every = version < (1, 42)
    args = jobs.AttachArgs(_ref(request), stream=query_bool(request, "stream"),
                           stdin=every or query_bool(request, "stdin"),
                           stdout=every or query_bool(request, "stdout"),
                           stderr=every or query_bool(request, "stderr"),
                           detach_keys=request.query.get("detachKeys") or None)
    session: jobs.AttachSession = await run_job(request, "container_attach", args)
    try:
        if not web.WebSocketResponse().can_prepare(request).ok:  # golang.org/x/net/websocket's answer
            raise InvalidParameter("not websocket protocol")
        ws = await websocket.accept(request, binary=version >= (1, 28))
    except BaseException:
        session.cancel()
        raise
    return await _stream_attach(request, ws, session, args, multiplexed=False)


async def _stream_attach(request: web.Request, hj, session: jobs.AttachSession, args: jobs.AttachArgs,
                         multiplexed: bool) -> web.StreamResponse:
    """The taken-over connection (``hj``: hijacked or a WebSocket) until the exit, a detach or the client's end."""
    keys = parse_detach_keys(args.detach_keys or DEFAULT_DETACH_KEYS)
    try:
        if query_bool(request, "logs"):
            await _replay_logs(hj, session, multiplexed, args.stdout, args.stderr)
        if not args.stream:
            return hj.response
        waiting = asyncio.wrap_future(session.future)
        lost = asyncio.ensure_future(hj.lost.wait())
        done, _ = await asyncio.wait({waiting, lost}, return_when=asyncio.FIRST_COMPLETED)
        if waiting not in done:
            lost.cancel()
            session.cancel()
            return hj.response
        lost.cancel()
        sock = waiting.result()
        if sock is None:  # the start this attach waited for failed, or the container exited as it came
            return hj.response
        # entered and left in a worker thread: they take the container's lock, which a start holds
        # while it runs (hundreds of ms under load), and the event loop must not wait for it
        loop = asyncio.get_running_loop()
        live = session.live()
        entering = loop.run_in_executor(None, live.__enter__)
        try:
            await asyncio.shield(entering)
            ended = await proxy(hj, sock, tty=not multiplexed, stdin=session.stdin, stdout=args.stdout,
                                stderr=args.stderr, keys=keys, close_stdin=session.close_stdin)
        finally:  # once entered, left, even when this handler is cancelled meanwhile
            entering.add_done_callback(lambda _: loop.run_in_executor(None, live.__exit__, None, None, None))
        if ended.detached:
            await asyncio.get_running_loop().run_in_executor(None, session.detached)
        return hj.response
    except (ConnectionError, asyncio.IncompleteReadError):
        return hj.response
    finally:
        await hj.close()


# ---------------------------------------------------------------------------
# logs
# ---------------------------------------------------------------------------


@routes.get(f"/containers/{ID}/logs")
async def logs(request: web.Request) -> web.StreamResponse:
    tail_raw = request.query.get("tail", "all")
    if tail_raw in ("", "all"):
        tail = -1
    else:
        try:
            tail = int(tail_raw)
        except ValueError:
            raise InvalidParameter(f'invalid value for "tail": "{tail_raw}"') from None
    opts = LogOptions(stdout=query_bool(request, "stdout"), stderr=query_bool(request, "stderr"), tail=tail,
                      since=_timestamp(request, "since"), until=_timestamp(request, "until"),
                      timestamps=query_bool(request, "timestamps"))
    follow = query_bool(request, "follow")
    session: jobs.LogSession = await run_job(request, "container_logs", jobs.LogsArgs(_ref(request), opts))
    loop = asyncio.get_running_loop()
    tty = session.tty
    response = web.StreamResponse(status=200)
    response.content_type = stream_content_type(request, tty)
    multiplexed = not tty

    async def emit(entries) -> None:
        if not entries:
            return
        chunks = []
        for e in entries:
            data = e.render(opts.timestamps)
            chunks.append(frame(2 if e.stream == "stderr" else 1, data) if multiplexed else data)
        await response.write(b"".join(chunks))

    try:
        entries = await loop.run_in_executor(None, session.initial)
        await response.prepare(request)
        await emit(entries)
        if follow and not session.done:
            while not _client_gone(request):
                running = await loop.run_in_executor(None, session.running)
                await emit(await loop.run_in_executor(None, session.poll))
                if not running or session.done:
                    break
                await asyncio.sleep(POLL)
        await response.write_eof()
    except ConnectionError:
        pass
    finally:
        session.close()
    return response


# ---------------------------------------------------------------------------
# stats
# ---------------------------------------------------------------------------


@routes.get(f"/containers/{ID}/stats")
async def stats(request: web.Request) -> web.StreamResponse:
    stream = query_bool(request, "stream", default=True)
    one_shot = query_bool(request, "one-shot")
    container, sample = await run_job(request, "container_stats", jobs.RefArgs(_ref(request)))
    loop = asyncio.get_running_loop()
    if not stream:
        first = await loop.run_in_executor(None, sample)
        if one_shot or first["read"].startswith("0001"):
            return json_response(first)
        await asyncio.sleep(STATS_INTERVAL / 2)  # a second sample gives the CPU delta `docker stats` shows
        second = await loop.run_in_executor(None, sample)
        _chain(second, first)
        return json_response(second)
    response = web.StreamResponse(status=200)
    response.content_type = "application/json"
    await response.prepare(request)
    previous = None
    try:
        while not _client_gone(request):
            try:
                current = await loop.run_in_executor(None, sample)
            except NotFound:
                break  # removed: the stream ends, as Docker's does
            if previous is not None:
                _chain(current, previous)
            await response.write(json.dumps(current).encode() + b"\n")
            previous = current
            await asyncio.sleep(STATS_INTERVAL)
        await response.write_eof()
    except ConnectionError:
        pass
    return response


def _chain(current: dict, previous: dict) -> None:
    current["precpu_stats"] = previous["cpu_stats"]
    current["preread"] = previous["read"]

