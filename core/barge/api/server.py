"""The aiohttp application that serves the Docker Engine API.

Routes come from the route modules (each a :class:`barge.api.routing.Routes`),
registered with and without the ``/v1.NN`` prefix. Handlers run jobs through
:mod:`barge.api.jobs`; the middlewares in :mod:`barge.api.middleware` check
the API version and turn errors into Docker's shape.

Hijacking (attach, exec start) on aiohttp 3.14, the recipe
:func:`barge.api.hijack.hijack` follows (``tests/integration/test_api_hijack.py``
drives that module on a scratch app with the real middlewares):

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
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler

from barge.api.middleware import (
    add_common_headers,
    common_headers,
    error_middleware,
    error_response,
    internal_error,
    log,
    log_internal_error,
    version_middleware,
)
from barge.api.workload import install_job_threads

if TYPE_CHECKING:  # pragma: no cover
    from barge.engine.job import Engine

#: Largest body read whole: the JSON bodies (413 beyond). docker-compose's
#: biggest create requests (hundreds of env entries, labels and mounts) are
#: tens of KiB; 4 MiB is ample for them and bounds what one request makes
#: the daemon parse. Streamed bodies (image tars, archives) read
#: ``request.content`` and are not bounded by this.
CLIENT_MAX_SIZE = 4 << 20
#: Longest request line and longest header value. aiohttp's 8 KiB default
#: is short for a request line with JSON ``filters`` or an
#: ``X-Registry-Auth`` carrying an identity token; Go's server allows 1 MiB
#: of headers in all. Beyond them the parser's 400 is answered in Docker's
#: shape (:class:`ApiProtocol`).
MAX_LINE_SIZE = MAX_FIELD_SIZE = 64 << 10
#: Headers per request (aiohttp's default; clients send about ten).
MAX_HEADERS = 128
#: Seconds a connection has to send a whole request head: dockerd's ``ReadHeaderTimeout`` (5 minutes).
#: aiohttp's keep-alive timer is what enforces it: it closes a connection whose handler still waits
#: for a request that long after the connect or the last answer, so a connection that sends
#: nothing or half a head (slowloris) is closed then. So is a keep-alive connection idle as long,
#: which Go's server keeps: clients open a new one.
HEADER_TIMEOUT = 300.0


def route_modules() -> list:
    """Every route module the daemon serves; a missing one fails the start."""
    from barge.api.routes import (
        archive,
        build,
        containers,
        events,
        exec,
        images,
        networks,
        plugins,
        registry,
        swarm,
        system,
        volumes,
    )

    return [system, images, registry, build, containers, exec, archive, events, volumes, networks, swarm, plugins]


def make_app(engine: "Engine", modules: list | None = None) -> web.Application:
    """The API over ``engine``: every route runs its jobs (it reaches no service)."""
    app = web.Application(
        middlewares=[error_middleware, version_middleware],
        client_max_size=CLIENT_MAX_SIZE,
        handler_args={"max_line_size": MAX_LINE_SIZE, "max_field_size": MAX_FIELD_SIZE, "max_headers": MAX_HEADERS},
    )
    # The project's conventions name string keys (app["engine"],
    # request["api_version"]); aiohttp 3.14 would warn on each use.
    warnings.filterwarnings("ignore", category=web.NotAppKeyWarning)
    app["engine"] = engine
    app.on_response_prepare.append(common_headers)
    app.on_startup.append(install_job_threads)
    for module in route_modules() if modules is None else modules:
        module.routes.add_to(app)
    return app


class ApiProtocol(RequestHandler):
    """aiohttp's connection protocol, its own error answers in Docker's shape.

    A request aiohttp's parser rejects (a header over :data:`MAX_FIELD_SIZE`,
    a malformed request line) never reaches the middlewares: the protocol
    answers it with ``handle_error``, in text/plain. Here that answer is
    ``{"message": ...}`` with ``Content-Type: application/json``, and a 500
    (an exception that escaped the middlewares) is the generic one with an
    error ID. Nothing of the request goes to the log at INFO.
    """

    def handle_error(self, request, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if request.writer.output_size > 0:  # a response began: no second one, the connection ends
            raise ConnectionError("the response began before the error")
        if status >= 500:
            response = internal_error(request.method, request.rel_url.raw_path, exc or RuntimeError(message))
        else:
            log.debug("bad request refused by the HTTP parser: %s %s", status, message)
            if isinstance(exc, LineTooLong):
                message = f"request line or header too large (over {max(self.max_line_size, self.max_field_size)} bytes)"
            response = error_response(status, f"bad request: {message or exc or status}")
        add_common_headers(response)  # no app signal runs for a request that never reached the app
        response.force_close()
        return response

    def log_exception(self, *args, exc_info=None, **kw) -> None:
        """aiohttp's own failures: an exception's type and frames, never its message."""
        if isinstance(exc_info, BaseException):
            log_internal_error("-", "-", exc_info)
        else:
            log.error(*args, **kw)  # aiohttp's fixed texts ("Missing return statement on request handler")


class _ApiServer(web.Server):
    def __call__(self) -> RequestHandler:
        return ApiProtocol(self, loop=self._loop, **self._kwargs)


class ApiRunner(web.AppRunner):
    """``AppRunner`` whose connections are :class:`ApiProtocol`.

    aiohttp builds its ``Server`` inside the runner with no hook for the
    protocol class; the subclass adds only the protocol factory, so the
    server built is retyped to it. Its connections get :data:`HEADER_TIMEOUT`.
    """

    def __init__(self, app: web.Application, **kwargs) -> None:
        kwargs.setdefault("keepalive_timeout", HEADER_TIMEOUT)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _ApiServer
        return server
