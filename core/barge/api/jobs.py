"""Running engine jobs from request handlers without blocking the event loop.

Handlers are synchronous (pluggy and the drivers are), so a job runs in a
worker thread. When a job reads stdin, the request body is fed to it through
a bounded queue; when it writes stdout, the bytes are streamed back to the
client as they come (progress messages, tar archives).
"""

from __future__ import annotations

import asyncio
import io
import queue
import threading
from typing import Any

from aiohttp import web

from barge.api.workload import run_streamed

_EOF = object()
#: Chunks in flight between the event loop and a job's thread, each way.
QUEUE_DEPTH = 64
#: Bytes a streamed job wrote that its client has not taken yet, at most (one write may exceed it).
MAX_PENDING = 1 << 20


class QueueReader(io.RawIOBase):
    """A blocking file-like object fed from the event loop, read in a job thread."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
        self._buf = memoryview(b"")
        self._eof = False
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            if self._eof:
                return 0
            item = self.queue.get()
            if item is _EOF:
                self._eof = True
                if self.error is not None:
                    raise self.error
                return 0
            self._buf = memoryview(item)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if not self._buf and not self._eof:
            item = self.queue.get()
            if item is _EOF:
                self._eof = True
                if self.error is not None:
                    raise self.error
                return b""
            self._buf = memoryview(item)
        if len(self._buf) <= size:
            out, self._buf = bytes(self._buf), memoryview(b"")
            return out
        out, self._buf = bytes(self._buf[:size]), self._buf[size:]
        return out


async def _feed(request: web.Request, reader: QueueReader, done: threading.Event) -> None:
    loop = asyncio.get_running_loop()

    async def put(item) -> None:
        while not done.is_set():
            try:
                reader.queue.put_nowait(item)
                return
            except queue.Full:
                await loop.run_in_executor(None, _put_wait, reader.queue, item, done)
                return

    try:
        async for chunk in request.content.iter_any():
            if done.is_set():
                return
            await put(chunk)
    except Exception as exc:  # noqa: BLE001 - the client went away mid-body, in whatever way aiohttp says
        reader.error = ConnectionError(f"request body ended early: {exc}")
    await put(_EOF)


def _put_wait(q: queue.Queue, item, done: threading.Event) -> None:
    while not done.is_set():
        try:
            q.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


class LoopWriter:
    """A job's stdout that hands each write to the event loop's queue.

    At most :data:`MAX_PENDING` bytes wait there; past them the job waits
    (a client that reads slowly slows the job down instead of filling the
    daemon's memory). Once the stream is over (``gone``: the client left) a
    write raises ``ConnectionResetError``, which ends a job no one reads
    (dockerd's pull, push and save stop with their request's context).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, q: asyncio.Queue, gone: threading.Event) -> None:
        self._loop = loop
        self._q = q
        self._gone = gone
        self._cond = threading.Condition()
        self._pending = 0

    def write(self, data: bytes) -> int:
        if not data:
            return 0
        data = bytes(data)
        with self._cond:
            while self._pending and self._pending + len(data) > MAX_PENDING and not self._gone.is_set():
                self._cond.wait(0.2)
            if self._gone.is_set():
                raise ConnectionResetError("the client went away")
            self._pending += len(data)
        self._loop.call_soon_threadsafe(self._q.put_nowait, data)
        return len(data)

    def taken(self, n: int) -> None:
        """The loop sent ``n`` bytes on: room for the job's next writes."""
        with self._cond:
            self._pending -= n
            self._cond.notify_all()


def _engine(request: web.Request):
    return request.app["engine"]


async def run_job(request: web.Request, name: str, args: Any = None, *, stdin: bool = False) -> Any:
    """Run job ``name`` in a worker thread and return its result.

    With ``stdin=True`` the request body is the job's stdin, streamed.
    Domain errors propagate to the error middleware.
    """
    engine = _engine(request)
    loop = asyncio.get_running_loop()
    streams: dict[str, Any] = {}
    feeder = None
    done = threading.Event()
    if stdin:
        reader = QueueReader()
        streams["stdin"] = io.BufferedReader(reader, buffer_size=1 << 16)
        feeder = asyncio.ensure_future(_feed(request, reader, done))
    job = engine.job(name, args, **streams)
    try:
        return await loop.run_in_executor(None, engine.run, job)
    finally:
        done.set()
        if feeder is not None:
            feeder.cancel()


async def stream_job(
    request: web.Request,
    name: str,
    args: Any = None,
    *,
    stdin: bool = False,
    content_type: str = "application/json",
    status: int = 200,
    on_error=None,
    cancel_on_hangup: bool = False,
    errors_in_stream: bool = False,
) -> web.StreamResponse:
    """Run job ``name``, streaming what it writes to stdout as the response body.

    Headers go out with the first byte of output, so an error raised before
    any output still becomes a proper error response. An error after output
    has begun is passed to ``on_error(exc) -> bytes`` (Docker's JSON message
    streams carry ``{"errorDetail": ...}``) or ends the connection. With
    ``cancel_on_hangup``, a client that goes away sets ``job.cancelled``
    (a build stops; its containers go), even while the job writes nothing.
    With ``errors_in_stream`` even an error before any output goes to
    ``on_error`` under ``status`` (dockerd's image load answers 200 whatever
    happens, the error in its JSON stream).

    Long on purpose: the event loop's side of one job (stdin fed, output
    forwarded, the error before or after the first byte, the clean-up)
    shares its locals; split, they would travel in a state object.
    """
    engine = _engine(request)
    loop = asyncio.get_running_loop()
    out: asyncio.Queue = asyncio.Queue()
    done = threading.Event()
    writer = LoopWriter(loop, out, done)
    streams: dict[str, Any] = {"stdout": writer}
    feeder = None
    if stdin:
        reader = QueueReader()
        streams["stdin"] = io.BufferedReader(reader, buffer_size=1 << 16)
        feeder = asyncio.ensure_future(_feed(request, reader, done))
    job = engine.job(name, args, **streams)
    finished = object()

    def run() -> None:
        try:
            engine.run(job)
        finally:
            loop.call_soon_threadsafe(out.put_nowait, finished)

    task = run_streamed(request, run)  # a thread of its own: the job lasts as long as its client
    watcher = asyncio.ensure_future(_watch_hangup(request, job, task)) if cancel_on_hangup else None
    response: web.StreamResponse | None = None
    try:
        while True:
            item = await out.get()
            if item is finished:
                break
            if response is None:
                response = web.StreamResponse(status=status)
                response.content_type = content_type
                await response.prepare(request)
            await response.write(item)
            writer.taken(len(item))
        try:
            await task
        except Exception as exc:
            if on_error is None or (response is None and not errors_in_stream):
                raise
            if response is None:
                response = web.StreamResponse(status=status)
                response.content_type = content_type
                await response.prepare(request)
            await response.write(on_error(exc))
        if response is None:
            response = web.StreamResponse(status=status)
            response.content_type = content_type
            await response.prepare(request)
        await response.write_eof()
        return response
    except BaseException:
        job.cancelled.set()  # the client went (a failed write, the handler cancelled): the job stops
        task.add_done_callback(_retrieved)  # how it ends is no one's to hear now
        raise
    finally:
        done.set()
        if feeder is not None:
            feeder.cancel()
        if watcher is not None:
            watcher.cancel()


def _retrieved(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()


async def _watch_hangup(request: web.Request, job, task: asyncio.Future) -> None:
    """Set ``job.cancelled`` when the client's connection closes before the job ends."""
    while not task.done():
        transport = request.transport
        if transport is None or transport.is_closing():
            job.cancelled.set()
            return
        await asyncio.sleep(0.2)
