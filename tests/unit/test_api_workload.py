"""The API's side of slow and broken clients, without a daemon: the header timeout of
:class:`barge.api.server.ApiRunner`, the job pool's counts (:mod:`barge.api.workload`) and the
bounded stdout of a streamed job (:class:`barge.api.jobs.LoopWriter`).
``tests/integration/test_broken_clients.py`` has the same things against a real daemon."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

from aiohttp import web

from barge.api import jobs, server
from barge.api.workload import JobThreads


async def _recv(sock: socket.socket, timeout: float) -> bytes:
    loop = asyncio.get_running_loop()
    return await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout)


def test_a_connection_without_a_whole_head_is_closed_after_the_header_timeout(tmp_path, monkeypatch):
    """Idle and half-sent connections are closed once :data:`HEADER_TIMEOUT` passed; a slow handler's is not."""
    monkeypatch.setattr(server, "HEADER_TIMEOUT", 0.5)
    path = str(tmp_path / "api.sock")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.5)
        return web.Response(text="done")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/slow", slow)
        runner = server.ApiRunner(app)
        await runner.setup()
        await web.UnixSite(runner, path).start()
        loop = asyncio.get_running_loop()
        socks = []
        try:
            for _ in range(3):
                s = socket.socket(socket.AF_UNIX)
                s.setblocking(False)
                await loop.sock_connect(s, path)
                socks.append(s)
            idle, half, busy = socks
            await loop.sock_sendall(half, b"GET /slow HTTP/1.1\r\nHost: x\r\n")
            await loop.sock_sendall(busy, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            started = time.monotonic()
            assert await _recv(idle, 3) == b""
            assert await _recv(half, 3) == b""
            assert time.monotonic() - started < 1.4
            assert b"done" in await _recv(busy, 3)  # a request being handled is not cut
        finally:
            for s in socks:
                s.close()
            await runner.cleanup()

    asyncio.run(main())


def test_the_default_header_timeout_is_dockerds():
    assert server.HEADER_TIMEOUT == 300.0


def test_job_threads_count_the_busy_and_join_the_alone():
    pool = JobThreads(4)
    release = threading.Event()
    try:
        held = [pool.submit(release.wait, 10) for _ in range(2)]
        time.sleep(0.2)
        assert (pool.started, pool.busy, pool.idle) == (2, 2, 0)
        alone = pool.run_alone(lambda: release.wait(10) and "alone")
        assert pool.started == 2  # not one of the pool's
        release.set()
        assert [f.result(5) for f in held] == [True, True]
        assert alone.result(5) == "alone"
        time.sleep(0.1)
        assert (pool.busy, pool.idle) == (0, 2)
    finally:
        release.set()
        pool.shutdown(wait=True)


def test_a_streamed_jobs_stdout_is_bounded_and_fails_once_the_client_is_gone():
    async def main() -> None:
        loop = asyncio.get_running_loop()
        out: asyncio.Queue = asyncio.Queue()
        gone = threading.Event()
        writer = jobs.LoopWriter(loop, out, gone)
        written: list[int] = []

        def job() -> None:
            try:
                for _ in range(64):
                    writer.write(b"x" * (64 << 10))
                    written.append(1)
            except ConnectionResetError:
                written.append(-1)

        thread = threading.Thread(target=job)
        thread.start()
        await asyncio.sleep(0.5)
        assert len(written) == jobs.MAX_PENDING // (64 << 10)  # it waits: no one took anything
        item = await out.get()
        writer.taken(len(item))
        await asyncio.sleep(0.5)
        assert len(written) == jobs.MAX_PENDING // (64 << 10) + 1
        gone.set()
        await loop.run_in_executor(None, thread.join, 5)
        assert written[-1] == -1

    asyncio.run(main())

