"""The token service (``--auth token``): ``GET /token?service=&scope=`` with
optional Basic credentials checked against the htpasswd file, and the OAuth2
password grant (``POST /token``). It answers a signed token granting what
the user may have of each requested scope: everything for a known user,
the configured anonymous actions (e.g. ``pull``) without credentials.
No refresh tokens are issued, so clients keep using their credentials."""

from __future__ import annotations

import json

from aiohttp import web

from barge.registry.server.auth import Scope, TokenAuth, basic_credentials
from barge.registry.server.context import registry
from barge.registry.server.errors import RegistryError


def _auth(request: web.Request) -> TokenAuth:
    auth = registry(request).auth
    assert isinstance(auth, TokenAuth)
    return auth


def _scopes(values: list[str]) -> list[Scope]:
    scopes = []
    for value in values:
        for text in value.split():
            scope = Scope.parse(text)
            if scope is not None:
                scopes.append(scope)
    return scopes


async def _user(auth: TokenAuth, username: str | None, password: str | None, realm: str) -> str | None:
    """The authenticated user, None for anonymous; 401 for bad credentials or anonymity not allowed."""
    challenge = {"WWW-Authenticate": f'Basic realm="{realm}"'}
    if username is None:
        if not auth.anonymous:
            raise RegistryError("UNAUTHORIZED", "credentials required", headers=challenge)
        return None
    if auth.htpasswd is None or not await auth.htpasswd.acheck(username, password or ""):
        raise RegistryError("UNAUTHORIZED", "invalid username or password", headers=challenge)
    return username


def _check_service(auth: TokenAuth, service: str | None) -> None:
    if service and service != auth.issuer.service:
        raise RegistryError("DENIED", f"unknown service {service!r}", status=400)


async def get_token(request: web.Request) -> web.Response:
    auth = _auth(request)
    _check_service(auth, request.query.get("service"))
    creds = basic_credentials(request.headers.get("Authorization", ""))
    user = await _user(auth, *(creds or (None, None)), auth.issuer.service)
    access = [grant for scope in _scopes(request.query.getall("scope", []))
              if (grant := auth.grant(user, scope)) is not None]
    issued = auth.issuer.mint(user or "", access)
    return web.json_response({"token": issued.token, "access_token": issued.token,
                              "expires_in": issued.expires_in, "issued_at": issued.issued_at})


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.Response(status=status, content_type="application/json",
                        body=json.dumps({"error": error, "error_description": description}).encode())


async def post_token(request: web.Request) -> web.Response:
    auth = _auth(request)
    form = await request.post()
    if form.get("grant_type") != "password":
        return _oauth_error(400, "unsupported_grant_type", "only the password grant is supported")
    if form.get("service") and form.get("service") != auth.issuer.service:
        return _oauth_error(400, "invalid_request", "unknown service")
    username, password = form.get("username"), form.get("password")
    if not username or auth.htpasswd is None or not await auth.htpasswd.acheck(str(username), str(password or "")):
        return _oauth_error(401, "invalid_grant", "invalid username or password")
    scopes = _scopes([str(form.get("scope") or "")])
    access = [grant for scope in scopes if (grant := auth.grant(str(username), scope)) is not None]
    issued = auth.issuer.mint(str(username), access)
    return web.json_response({"access_token": issued.token, "scope": " ".join(map(str, scopes)),
                              "expires_in": issued.expires_in, "issued_at": issued.issued_at})
