"""The aiohttp application that serves the Docker Engine API.

Routes come from the route modules (each a :class:`barge.api.routing.Routes`),
registered with and without the ``/v1.NN`` prefix. Handlers run jobs through
:mod:`barge.api.jobs`; the middlewares in :mod:`barge.api.middleware` check
the API version and turn errors into Docker's shape.

Hijacking (attach, exec start), tried on aiohttp 3.14 and kept here for
the issue that builds it (``tests/integration/test_api_hijack.py`` runs the
recipe on a scratch app with the real middlewares):

1. Read the request body first (exec start carries JSON); aiohttp parses it
   into ``request.content`` as for any request.
2. *Before* answering, take the connection's incoming bytes:
   ``request.protocol.set_parser(reader)``, where ``reader`` has
   ``feed_data(data) -> (False, b"")`` and ``feed_eof()`` and forwards into
   an ``aiohttp.StreamReader``. Clients send their stream as soon as they
   read the 101, so this must happen before ``prepare``.
3. Wrap the protocol: ``request.transport.set_protocol(wrapper)``, the
   wrapper delegating ``data_received``, ``connection_lost``,
   ``pause_writing`` and ``resume_writing`` to ``request.protocol``, and
   answering ``eof_received`` by feeding EOF to the reader and returning
   ``True``. aiohttp's own protocol lets asyncio close the transport on a
   client half-close, but the CLI half-closes when stdin ends and still
   reads the output.
4. Answer ``web.StreamResponse(status=101, reason="UPGRADED")`` with
   ``Connection: Upgrade``, ``Upgrade: tcp``, call ``resp.force_close()``
   (the connection never returns to HTTP) and ``await resp.prepare(request)``;
   then ``resp.write(...)`` the output and ``write_eof()`` at the end.

Caveat: aiohttp's C parser recognises only ``Upgrade: websocket`` (its pure
Python parser also ``tcp``). Bytes a client pipelines behind the request
*before* reading the 101 are then parsed as HTTP and lost; the docker CLI
and docker-py wait for the 101 first, so this does not bite them.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from aiohttp import web

from barge.api.middleware import common_headers, error_middleware, version_middleware

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services

#: Largest body read whole (JSON). Streamed bodies (image tars) read
#: ``request.content`` and are not bounded by this.
CLIENT_MAX_SIZE = 10 << 20
#: Worker threads for jobs. asyncio's default (cores + 4) is too few when
#: several ``stop``s each wait out a container's stop timeout.
JOB_THREADS = 64


async def _job_threads(app: web.Application) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(JOB_THREADS, thread_name_prefix="job"))


def route_modules() -> list:
    """Every route module the daemon serves; a missing one fails the start."""
    from barge.api.routes import archive, containers, events, exec, images, networks, registry, system, volumes

    return [system, images, registry, containers, exec, archive, events, volumes, networks]


def make_app(services: "Services", modules: list | None = None) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware, version_middleware],
        client_max_size=CLIENT_MAX_SIZE,
    )
    # The project's conventions name string keys (app["engine"],
    # request["api_version"]); aiohttp 3.14 would warn on each use.
    warnings.filterwarnings("ignore", category=web.NotAppKeyWarning)
    app["services"] = services
    app["engine"] = services.engine
    app.on_response_prepare.append(common_headers)
    app.on_startup.append(_job_threads)
    for module in route_modules() if modules is None else modules:
        module.routes.add_to(app)
    return app
