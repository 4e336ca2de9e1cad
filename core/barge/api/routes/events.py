"""``GET /events``: Docker's event stream, one JSON object per line.

``since`` replays the events the hub kept from that time on; ``until`` in
the past ends the stream after that replay, in the future it ends the live
stream then; neither: live events until the client goes. Headers are sent
at once (the CLI waits for them before it prints anything).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiohttp import web

from barge.api.jobs import run_job
from barge.api.routing import Routes
from barge.contracts import events as jobs
from barge.contracts.events import encode, parse_time
from barge.errors import InvalidParameter

routes = Routes()
#: How often a quiet stream checks whether its client is gone.
POLL = 1.0
#: Events held for a client that reads slowly; past them its new events are dropped (moby's
#: pubsub keeps 1024 per subscriber and drops one it cannot hand over within 100 ms).
BUFFER = 1024


def _offer(queue: asyncio.Queue, msg: dict) -> None:
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(msg)


@routes.get("/events")
async def events(request: web.Request) -> web.StreamResponse:
    since = parse_time(request.query.get("since", ""))
    until = parse_time(request.query.get("until", ""))
    if until is not None and until < (since or 0):
        raise InvalidParameter(f"`since` time ({request.query.get('since')}) cannot be after "
                               f"`until` time ({request.query.get('until')})")
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue(maxsize=BUFFER)

    def deliver(msg: dict) -> None:
        loop.call_soon_threadsafe(_offer, queue, msg)

    args = jobs.SubscribeArgs(deliver, request.query.get("filters") or None, since)
    subscription: jobs.EventSubscription = await run_job(request, "events_subscribe", args)
    response = web.StreamResponse(status=200)
    response.content_type = "application/json"
    try:
        await response.prepare(request)
        for msg in subscription.backlog:
            if until is not None and msg["timeNano"] > until:
                break
            await response.write(encode(msg))
        while until is None or time.time_ns() < until:
            transport = request.transport
            if transport is None or transport.is_closing():
                break
            wait = POLL if until is None else max(0.0, min(POLL, (until - time.time_ns()) / 1e9))
            try:
                msg = await asyncio.wait_for(queue.get(), timeout=wait)
            except asyncio.TimeoutError:
                continue
            if until is not None and msg["timeNano"] > until:
                break
            if since is not None and msg["timeNano"] < since:
                continue
            await response.write(encode(msg))
        await response.write_eof()
    except ConnectionError:
        pass
    finally:
        subscription.close()
    return response
