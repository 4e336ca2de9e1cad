"""Who may do what: no auth, htpasswd Basic auth, or Bearer tokens from the
token service (:mod:`.http_token`).

Access is expressed as scopes, as the token spec does:
``repository:<name>:pull,push`` and ``registry:catalog:*``. With Basic auth
any user of the htpasswd file may do everything; with tokens a request needs
a token granting its scope, and the 401 challenge names the scope to ask for.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from barge.registry.server.errors import RegistryError
from barge.registry.server.tokens import TokenIssuer

log = logging.getLogger("barge.registry")

#: verified (user, sha256(password)) pairs kept so bcrypt runs once per client, not per request
_CACHE_MAX = 1024


@dataclass(frozen=True)
class Scope:
    type: str
    name: str
    actions: frozenset[str]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"

    @staticmethod
    def parse(text: str) -> "Scope | None":
        kind, _, rest = text.partition(":")
        name, _, actions = rest.rpartition(":")
        if not kind or not name:
            return None
        return Scope(kind, name, frozenset(a for a in actions.split(",") if a))


def repository(name: str, *actions: str) -> Scope:
    return Scope("repository", name, frozenset(actions))


CATALOG = Scope("registry", "catalog", frozenset({"*"}))


class Htpasswd:
    """Users of an htpasswd file with bcrypt hashes (``htpasswd -B``); re-read when it changes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._mtime: float | None = None
        self._users: dict[str, bytes] = {}
        self._verified: set[tuple[str, bytes, bytes]] = set()
        self._load()

    def _load(self) -> None:
        st = os.stat(self.path)
        if st.st_mtime == self._mtime:
            return
        users: dict[str, bytes] = {}
        for n, line in enumerate(self.path.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not hashed.startswith(("$2y$", "$2a$", "$2b$")):
                log.warning("%s:%d: skipped: only bcrypt entries (htpasswd -B) are supported", self.path, n)
                continue
            users[user] = hashed.encode()
        self._users, self._mtime = users, st.st_mtime
        self._verified.clear()

    def check(self, user: str, password: str) -> bool:
        self._load()
        hashed = self._users.get(user)
        if hashed is None:
            return False
        key = (user, hashed, hashlib.sha256(password.encode()).digest())
        if key in self._verified:
            return True
        try:
            ok = bcrypt.checkpw(password.encode(), hashed)
        except ValueError:
            ok = False
        if ok:
            if len(self._verified) >= _CACHE_MAX:
                self._verified.clear()
            self._verified.add(key)
        return ok

    async def acheck(self, user: str, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(None, self.check, user, password)


def basic_credentials(header: str) -> tuple[str, str] | None:
    kind, _, value = header.partition(" ")
    if kind.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _unauthorized(challenge: str, message: str = "authentication required", detail=None) -> RegistryError:
    return RegistryError("UNAUTHORIZED", message, detail, headers={"WWW-Authenticate": challenge})


class NoAuth:
    kind = "none"

    async def check(self, request, scopes: list[Scope]) -> str:
        return ""

    def grants(self, request, scope: Scope) -> bool:
        return True


class BasicAuth:
    kind = "basic"

    def __init__(self, htpasswd: Htpasswd, realm: str):
        self.htpasswd, self.realm = htpasswd, realm

    async def check(self, request, scopes: list[Scope]) -> str:
        challenge = f'Basic realm="{self.realm}"'
        creds = basic_credentials(request.headers.get("Authorization", ""))
        if creds is None:
            raise _unauthorized(challenge)
        if not await self.htpasswd.acheck(*creds):
            raise _unauthorized(challenge, "invalid username or password")
        request["registry_user"] = creds[0]
        return creds[0]

    def grants(self, request, scope: Scope) -> bool:
        return True  # every authenticated user may do everything


class TokenAuth:
    """Requests carry ``Authorization: Bearer <token>`` from our token service."""

    kind = "token"

    def __init__(self, issuer: TokenIssuer, htpasswd: Htpasswd | None, realm: str | None,
                 anonymous: frozenset[str] = frozenset()):
        self.issuer, self.htpasswd, self.realm = issuer, htpasswd, realm
        #: actions granted without credentials ("pull" for a public registry)
        self.anonymous = anonymous

    def realm_for(self, request) -> str:
        return self.realm or f"{request.scheme}://{request.host}/token"

    def challenge(self, request, scopes: list[Scope], error: str | None = None) -> str:
        text = f'Bearer realm="{self.realm_for(request)}",service="{self.issuer.service}"'
        if scopes:
            text += ',scope="' + " ".join(str(s) for s in scopes) + '"'
        if error:
            text += f',error="{error}"'
        return text

    def _claims(self, request) -> dict | None:
        kind, _, token = request.headers.get("Authorization", "").partition(" ")
        if kind.lower() != "bearer":
            return None
        return self.issuer.verify(token.strip())

    @staticmethod
    def _allowed(claims: dict, scope: Scope) -> bool:
        for entry in claims.get("access") or []:
            if entry.get("type") == scope.type and entry.get("name") == scope.name:
                granted = set(entry.get("actions") or [])
                if "*" in granted or scope.actions <= granted:
                    return True
        return False

    async def check(self, request, scopes: list[Scope]) -> str:
        claims = self._claims(request)
        if claims is None:
            raise _unauthorized(self.challenge(request, scopes))
        for scope in scopes:
            if not self._allowed(claims, scope):
                raise _unauthorized(self.challenge(request, scopes, "insufficient_scope"),
                                    "authentication required: token lacks the needed access",
                                    [{"Type": s.type, "Name": s.name, "Action": a}
                                     for s in scopes for a in sorted(s.actions)])
        request["registry_claims"] = claims
        return claims.get("sub", "")

    def grants(self, request, scope: Scope) -> bool:
        claims = request.get("registry_claims")
        return claims is not None and self._allowed(claims, scope)

    def grant(self, user: str | None, scope: Scope) -> dict | None:
        """What the token service grants ``user`` (None: anonymous) of ``scope``."""
        if user:
            actions = set(scope.actions)
        else:
            actions = set(scope.actions) & set(self.anonymous)
            if scope.type != "repository":
                actions = set()
        if scope.type == "registry" and scope.name != "catalog":
            actions = set()
        if not actions:
            return None
        return {"type": scope.type, "name": scope.name, "actions": sorted(actions)}
