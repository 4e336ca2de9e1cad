"""The aiohttp application that serves the Docker Engine API.

Routes come from the route modules (each a :class:`barge.api.routing.Routes`),
registered with and without the ``/v1.NN`` prefix. Handlers run jobs through
:mod:`barge.api.jobs`; the middlewares in :mod:`barge.api.middleware` check
the API version and turn errors into Docker's shape.

Hijacking (attach, exec start), checked against aiohttp 3.14 and kept here
for the issue that builds it: aiohttp's request parser treats a request with
``Connection: Upgrade`` and ``Upgrade: tcp`` (or ``websocket``) as upgraded.
Its body, if it has a ``Content-Length``, is still parsed into
``request.content``. A handler answers with
``web.StreamResponse(status=101, reason="UPGRADED")`` carrying
``Connection: Upgrade`` and ``Upgrade: tcp``, calls ``await
resp.prepare(request)``, and from then on owns the connection: it writes
with ``await resp.write(...)`` and reads what the client sends after the
request with ``request.protocol.set_parser(reader)``, where ``reader`` is an
object with ``feed_data(data)`` and ``feed_eof()`` (an
``aiohttp.StreamReader`` fits); aiohttp first hands it the bytes that arrived
behind the request (``_message_tail``), then every later chunk. The
connection is never reused for HTTP: the handler ends it with
``resp.force_close()`` and ``write_eof()``. ``tests/integration/test_api_hijack.py``
exercises this on a scratch app.
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


def route_modules() -> list:
    """Every route module the daemon serves; a missing one fails the start."""
    from barge.api.routes import images, system

    return [system, images]


def make_app(services: "Services", modules: list | None = None) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware, version_middleware],
        client_max_size=CLIENT_MAX_SIZE,
    )
    with warnings.catch_warnings():
        # The conventions name these string keys; handlers everywhere use them.
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["services"] = services
        app["engine"] = services.engine
    app.on_response_prepare.append(common_headers)
    for module in route_modules() if modules is None else modules:
        module.routes.add_to(app)
    return app
