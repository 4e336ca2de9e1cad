"""Middlewares of the API server: version negotiation and Docker-shaped errors.

The docker CLI parses an error body only when ``Content-Type`` is exactly
``application/json``, so every error goes through :func:`error_response`.
An unexpected exception is answered with :func:`internal_error`: a generic
500 naming an error ID, never the exception's text, which may carry request
values; the log has the ID, the request's method and path, the exception's
type and its traceback's frames (its message only at DEBUG).
Headers every response carries (``Server``, ``Api-Version``, ``Ostype``) are
set from the ``on_response_prepare`` signal, which also covers streamed and
hijacked responses that never return through the middlewares.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import traceback

from aiohttp import web

import barge
from barge.errors import BargeError, InvalidParameter, NotModified

log = logging.getLogger("barge.api")

#: request key set once the response's headers went out (a stream began).
PREPARED = web.RequestKey("barge_prepared", bool)


def parse_version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


MIN_VERSION = parse_version(barge.MIN_API_VERSION)
MAX_VERSION = parse_version(barge.API_VERSION)


def error_response(status: int, message: str) -> web.Response:
    """``{"message": ...}`` with ``Content-Type: application/json``, no charset."""
    body = json.dumps({"message": message}).encode()
    return web.Response(status=status, body=body, content_type="application/json")


def check_version(raw: str | None) -> str:
    """The API version a request asked for; unversioned paths get the current one."""
    if raw is None:
        return barge.API_VERSION
    version = parse_version(raw)
    if version < MIN_VERSION:
        raise InvalidParameter(
            f"client version {raw} is too old. Minimum supported API version is "
            f"{barge.MIN_API_VERSION}, please upgrade your client to a newer version"
        )
    if version > MAX_VERSION:
        raise InvalidParameter(
            f"client version {raw} is too new. Maximum supported API version is {barge.API_VERSION}"
        )
    return raw


@web.middleware
async def version_middleware(request: web.Request, handler):
    request["api_version"] = check_version(request.match_info.get("api_version"))
    return await handler(request)


@web.middleware
async def error_middleware(request: web.Request, handler):
    """Turn every failure into Docker's error shape, and log each request."""
    started = time.monotonic()
    try:
        response = await handler(request)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if request.get(PREPARED):
            # Headers (and maybe body) are gone already: no second status
            # line can be sent, so the connection is closed on the client.
            if isinstance(exc, (BargeError, ConnectionResetError)):
                log.warning("%s %s failed after its response began: %s", request.method, _path(request),
                            type(exc).__name__)
                log.debug("%s %s: %s", request.method, _path(request), exc)
            else:
                log_internal_error(request.method, _path(request), exc)
            raise
        response = _error_for(request, exc)
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "%s %s -> %s (%.1f ms)", request.method, request.path_qs, response.status,
            (time.monotonic() - started) * 1000,
        )
    return response


def _error_for(request: web.Request, exc: Exception) -> web.StreamResponse:
    if isinstance(exc, NotModified):
        return web.Response(status=304)
    if isinstance(exc, BargeError):
        return error_response(exc.status, exc.message)
    if isinstance(exc, (web.HTTPNotFound, web.HTTPMethodNotAllowed)):
        return error_response(404, "page not found")  # dockerd's router: a wrong method is no route either
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            return exc  # redirects and the like pass through unchanged
        return error_response(exc.status, exc.text or exc.reason)
    if isinstance(exc, json.JSONDecodeError):
        return error_response(400, f"invalid JSON: {exc}")
    if isinstance(exc, ConnectionResetError):
        raise exc
    return internal_error(request.method, _path(request), exc)


def _path(request: web.Request) -> str:
    """The path as sent (still percent-encoded: no line breaks reach the log), without the query."""
    return request.rel_url.raw_path


def log_internal_error(method: str, path: str, exc: BaseException) -> str:
    """Log an unexpected exception under a new error ID, which is returned.

    At INFO the record has the type and the traceback's frames of the
    exception and of its causes, never their messages: those may quote the
    request's values. DEBUG adds the whole traceback.
    """
    error_id = secrets.token_hex(8)
    lines = [f"internal error {error_id}: {method} {path}"]
    chain: BaseException | None = exc
    for _ in range(8):  # causes, newest first; a cycle or a long chain stops here
        if chain is None:
            break
        lines.append(f"{type(chain).__module__}.{type(chain).__qualname__}, at (most recent call last):")
        lines.extend(line.rstrip("\n") for line in traceback.format_list(traceback.extract_tb(chain.__traceback__)))
        chain = chain.__cause__ or (None if chain.__suppress_context__ else chain.__context__)
    log.error("\n".join(lines))
    log.debug("internal error %s in full", error_id, exc_info=exc)
    return error_id


def internal_error(method: str, path: str, exc: BaseException) -> web.Response:
    """The answer to an unexpected exception: 500, an error ID, nothing of the exception."""
    error_id = log_internal_error(method, path, exc)
    return error_response(500, f"internal error (error ID {error_id}): see the daemon log")


async def common_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the headers moby's version middleware adds."""
    request[PREPARED] = True
    add_common_headers(response)


def add_common_headers(response: web.StreamResponse) -> None:
    response.headers["Server"] = f"Barge/{barge.__version__} (linux)"
    response.headers["Api-Version"] = barge.API_VERSION
    response.headers["Ostype"] = "linux"


__all__ = [
    "add_common_headers", "check_version", "common_headers", "error_middleware", "error_response", "internal_error",
    "log_internal_error", "parse_version", "version_middleware",
]
