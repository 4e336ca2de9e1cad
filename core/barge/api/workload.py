"""What the API has at work: the job threads' pool, and ``GET /info``'s ``NGoroutines``.

dockerd's ``NGoroutines`` counts its goroutines. barge's nearest things are
the daemon's threads at work and the event loop's tasks (one per open
connection, one per request being handled, a stream's pumps). A job
thread idle in the pool is not work (Go has no such pool) and is left
out, so the figure comes back to where it was once the clients that made
the work are gone, and a thread or task stuck on a dead client shows.

The figure is summed by the ``/info`` route: the info job (in a worker
thread, below the API) counts the daemon's threads; the pool and the loop
are the API's own, so the route adds what only it can see.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from aiohttp import web

#: Worker threads for jobs. asyncio's default (cores + 4) is too few when
#: several ``stop``s each wait out a container's stop timeout. Streamed
#: jobs (pull, build, save, export...) do not use it: each has a thread of
#: its own for as long as its client (:func:`barge.api.jobs.in_own_thread`),
#: so clients that stop reading cannot take the pool from everyone else.
JOB_THREADS = 64


class JobThreads(ThreadPoolExecutor):
    """The job pool, counting the threads it started and those running a call."""

    def __init__(self, max_workers: int = JOB_THREADS) -> None:
        self._count_lock = threading.Lock()
        self.started = 0
        self.busy = 0
        self._alone: set[threading.Thread] = set()
        super().__init__(max_workers, thread_name_prefix="job", initializer=self._thread_started)

    def _thread_started(self) -> None:
        with self._count_lock:
            self.started += 1

    def submit(self, fn, /, *args, **kwargs):
        def counted():
            with self._count_lock:
                self.busy += 1
            try:
                return fn(*args, **kwargs)
            finally:
                with self._count_lock:
                    self.busy -= 1

        return super().submit(counted)

    @property
    def idle(self) -> int:
        with self._count_lock:
            return self.started - self.busy

    def run_alone(self, fn: Callable[[], Any]) -> Future:
        """``fn()`` in a thread of its own, joined at shutdown as the pool's are: for a job that lasts
        as long as its client (a stream), which must not hold one of the pool's threads meanwhile."""
        future: Future = Future()

        def target() -> None:
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn())
                    except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits the job
                        future.set_exception(exc)
            finally:
                with self._count_lock:
                    self._alone.discard(thread)

        thread = threading.Thread(target=target, name="job-stream", daemon=True)
        with self._count_lock:
            self._alone.add(thread)
        thread.start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait, cancel_futures=cancel_futures)
        if wait:
            with self._count_lock:
                alone = list(self._alone)
            for thread in alone:
                thread.join()


async def install_job_threads(app: web.Application) -> None:
    """``on_startup``: the pool as the loop's default executor, kept on the app for :func:`goroutines`."""
    pool = JobThreads()
    app["job_threads"] = pool
    asyncio.get_running_loop().set_default_executor(pool)


def run_streamed(request: web.Request, fn: Callable[[], Any]) -> asyncio.Future:
    """Run a streamed job's ``fn`` in a thread of its own (the pool's when the app has no :class:`JobThreads`)."""
    loop = asyncio.get_running_loop()
    pool = request.app.get("job_threads")
    if pool is None:
        return loop.run_in_executor(None, fn)
    return asyncio.wrap_future(pool.run_alone(fn), loop=loop)


def goroutines(app: web.Application, threads: int) -> int:
    """``NGoroutines``: the daemon's ``threads`` less the idle job threads, plus the loop's live tasks."""
    pool = app.get("job_threads")
    idle = pool.idle if pool is not None else 0
    return threads - idle + len(asyncio.all_tasks())
