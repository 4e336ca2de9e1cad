"""Routes on a container's files: ``/archive`` (HEAD, GET, PUT: ``docker cp``), ``/export``,
``/changes`` (``docker diff``), and ``POST /commit``.

Tars stream out of one job thread (it holds the container's root until the
end) through a bounded pipe: a slow client slows the job down instead of
filling the daemon's memory. Errors found before the first byte (404 for a
missing path) are proper error responses; ``GET /archive`` sends the path's
stat header, as Docker does, with the tar.
"""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from barge.api import bodies
from barge.api.jobs import run_job
from barge.api.routing import Routes, json_response, query_bool, read_json
from barge.api.workload import run_streamed
from barge.contracts import archive as jobs
from barge.contracts.archive import PATH_STAT_HEADER
from barge.errors import InvalidParameter

routes = Routes()
TAR = "application/x-tar"
#: Bytes gathered before a chunk goes to the event loop, and chunks in flight.
PIPE_CHUNK = 256 << 10
PIPE_DEPTH = 8


class _Gone(ConnectionError):
    pass


class _Pipe:
    """A job's stdout: coalesces writes, blocks the job when the client lags, fails it when the client left."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue = asyncio.Queue()
        self.slots = threading.Semaphore(PIPE_DEPTH)
        self.buf = bytearray()
        self.closed = threading.Event()

    def write(self, data: bytes) -> int:
        self.buf += data
        while len(self.buf) >= PIPE_CHUNK:  # chunks of PIPE_CHUNK: a 1 MiB write does not take one slot
            self._send(PIPE_CHUNK)
        return len(data)

    def flush(self) -> None:
        while self.buf:
            self._send(PIPE_CHUNK)

    def _send(self, size: int) -> None:
        while not self.slots.acquire(timeout=0.5):
            if self.closed.is_set():
                raise _Gone("the client went away")
        if self.closed.is_set():
            raise _Gone("the client went away")
        chunk = bytes(self.buf[:size])
        del self.buf[:size]
        self.loop.call_soon_threadsafe(self.queue.put_nowait, chunk)


async def _stream(request: web.Request, name: str, args, headers: dict | None = None,
                  content_type: str = TAR) -> web.StreamResponse:
    """Run a job writing a tar, streamed as the response; headers go out with the first chunk."""
    loop = asyncio.get_running_loop()
    pipe = _Pipe(loop)
    engine = request.app["engine"]
    job = engine.job(name, args, stdout=pipe)
    end = object()

    def run() -> None:
        try:
            engine.run(job)
            pipe.flush()
        finally:
            loop.call_soon_threadsafe(pipe.queue.put_nowait, end)

    task = run_streamed(request, run)  # a thread of its own: a client that stops reading keeps it
    response: web.StreamResponse | None = None
    try:
        while True:
            item = await pipe.queue.get()
            if item is end:
                break
            pipe.slots.release()
            if response is None:
                response = web.StreamResponse(status=200, headers=headers)
                response.content_type = content_type
                await response.prepare(request)
            await response.write(item)
        try:
            await task
        except _Gone:
            return response
        except Exception:
            if response is None:
                raise  # nothing sent yet: a proper error answer
            request.transport.close()  # mid-tar: the client must not take a truncated tar for a whole one
            return response
        if response is None:
            response = web.StreamResponse(status=200, headers=headers)
            response.content_type = TAR
            await response.prepare(request)
        await response.write_eof()
        return response
    except (ConnectionError, asyncio.CancelledError):
        pipe.closed.set()
        raise
    finally:
        pipe.closed.set()


def _path(request: web.Request) -> str:
    path = request.query.get("path", "")
    if not path:
        raise InvalidParameter("bad parameter: path cannot be empty")
    return path


# ---------------------------------------------------------------------------
# cp
# ---------------------------------------------------------------------------


@routes.head("/containers/{id}/archive")
async def stat_path(request: web.Request) -> web.Response:
    st = await run_job(request, "container_archive_stat", jobs.PathArgs(request.match_info["id"], _path(request)))
    return web.Response(status=200, headers={PATH_STAT_HEADER: st.header_value()})


@routes.get("/containers/{id}/archive")
async def get_archive(request: web.Request) -> web.StreamResponse:
    args = jobs.PathArgs(request.match_info["id"], _path(request))
    st = await run_job(request, "container_archive_stat", args)
    return await _stream(request, "container_archive_get", args, {PATH_STAT_HEADER: st.header_value()})


@routes.put("/containers/{id}/archive")
async def put_archive(request: web.Request) -> web.Response:
    args = jobs.PutArchiveArgs(request.match_info["id"], _path(request),
                               query_bool(request, "noOverwriteDirNonDir"), query_bool(request, "copyUIDGID"))
    await run_job(request, "container_archive_put", args, stdin=True)
    return web.Response(status=200)


# ---------------------------------------------------------------------------
# export, diff, commit
# ---------------------------------------------------------------------------


@routes.get("/containers/{id}/export")
async def export(request: web.Request) -> web.StreamResponse:
    # dockerd sets no type on an export: Go's sniffing names it application/octet-stream
    return await _stream(request, "container_export", jobs.ContainerArgs(request.match_info["id"]),
                         content_type="application/octet-stream")


@routes.get("/containers/{id}/changes")
async def changes(request: web.Request) -> web.Response:
    changes = await run_job(request, "container_changes", jobs.ContainerArgs(request.match_info["id"]))
    return json_response(changes or None)  # no change: null, dockerd's nil slice


@routes.post("/commit")
async def commit(request: web.Request) -> web.Response:
    q = request.query
    body = await read_json(request, bodies.COMMIT)
    if not q.get("container"):
        raise InvalidParameter("No container name or ID supplied")
    changes = q.getall("changes", [])
    args = jobs.CommitArgs(container=q.get("container", ""), repo=q.get("repo", ""), tag=q.get("tag", ""),
                           comment=q.get("comment", ""), author=q.get("author", ""),
                           pause=query_bool(request, "pause", default=True), changes=list(changes),
                           config=body or None)
    return json_response(await run_job(request, "commit", args), status=201)

