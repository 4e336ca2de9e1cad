"""The registry's aiohttp application: one catch-all ``/v2/`` route whose
tail :mod:`.routes` parses, the auth check for the operation's scope, then
the handler; ``/v1/search`` and ``/v1/_ping``; ``/token`` with token auth.
Every answer carries ``Docker-Distribution-API-Version: registry/2.0`` and
errors the spec's JSON body."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from barge.registry.server import http_blobs, http_listing, http_manifests, http_token, routes
from barge.registry.server.auth import BasicAuth, Htpasswd, NoAuth, Scope, TokenAuth, basic_credentials
from barge.registry.server.config import ServerConfig
from barge.registry.server.context import REGISTRY, Registry, registry
from barge.registry.server.errors import RegistryError
from barge.registry.server.repos import Repos
from barge.registry.server.storage import BlobStore
from barge.registry.server.tokens import TokenIssuer, load_secret

log = logging.getLogger("barge.registry")

HANDLERS = {**http_blobs.HANDLERS, **http_manifests.HANDLERS, **http_listing.HANDLERS}
SEARCH = Scope("registry", "catalog", frozenset({"search"}))


@web.middleware
async def errors(request: web.Request, handler):
    try:
        return await handler(request)
    except RegistryError as exc:
        return exc.response()
    except web.HTTPException:
        raise
    except (ConnectionResetError, OSError) as exc:
        log.info("%s %s: connection lost: %s", request.method, request.path, exc)
        raise
    except Exception:  # noqa: BLE001 - the registry's last line: a bug becomes an UNKNOWN answer, logged
        log.exception("%s %s failed", request.method, request.path)
        return RegistryError("UNKNOWN").response()


async def _api_version(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Docker-Distribution-API-Version"] = "registry/2.0"


async def dispatch(request: web.Request) -> web.StreamResponse:
    tail = request.match_info.get("tail", "")
    op = routes.parse(tail)
    if op is None:
        raise routes.not_found(tail)
    await registry(request).auth.check(request, op.scopes(request.method))
    handler = HANDLERS.get((op.kind, request.method))
    if handler is None:
        raise RegistryError("UNSUPPORTED", f"{request.method} is not supported on /v2/{tail}", status=405)
    return await handler(request, op)


async def search(request: web.Request) -> web.StreamResponse:
    """v1 search: Basic credentials work in every auth mode, a token needs catalog access."""
    auth = registry(request).auth
    creds = basic_credentials(request.headers.get("Authorization", ""))
    if isinstance(auth, TokenAuth):
        if creds and auth.htpasswd is not None:
            if not await auth.htpasswd.acheck(*creds):
                raise RegistryError("UNAUTHORIZED", "invalid username or password",
                                    headers={"WWW-Authenticate": f'Basic realm="{auth.issuer.service}"'})
        elif not auth.anonymous:  # anonymous pull implies anonymous search
            await auth.check(request, [SEARCH])
    else:
        await auth.check(request, [SEARCH])
    return await http_listing.search(request)


def make_auth(cfg: ServerConfig):
    htpasswd = Htpasswd(cfg.htpasswd) if cfg.htpasswd is not None else None
    if cfg.auth == "basic":
        return BasicAuth(htpasswd, cfg.realm or "barge-registry")
    if cfg.auth == "token":
        issuer = TokenIssuer(load_secret(cfg.token_secret), cfg.service, cfg.token_expiry)
        return TokenAuth(issuer, htpasswd, cfg.realm, frozenset(cfg.anonymous))
    return NoAuth()


def make_app(cfg: ServerConfig) -> web.Application:
    root = Path(cfg.root)
    blobs = BlobStore(root)
    app = web.Application(middlewares=[errors], client_max_size=1 << 20)
    app[REGISTRY] = Registry(blobs, Repos(root, blobs), make_auth(cfg), cfg.delete)
    app.on_response_prepare.append(_api_version)
    app.router.add_route("*", "/v2", dispatch)
    app.router.add_route("*", "/v2/{tail:.*}", dispatch)
    app.router.add_get("/v1/search", search)
    app.router.add_get("/v1/_ping", http_listing.ping_v1)
    if cfg.auth == "token":
        app.router.add_get("/token", http_token.get_token)
        app.router.add_post("/token", http_token.post_token)
    return app
