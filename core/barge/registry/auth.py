"""Registry credentials and the auth handshake (Basic, and the Bearer token flow).

A registry answers 401 with ``WWW-Authenticate``; for ``Bearer`` the client
fetches a token for the scopes it needs from the realm (with Basic
credentials, or an OAuth2 refresh-token grant when it holds an identity
token) and retries. Tokens are cached per scope set until they expire, so a
pull's parallel layer downloads share one token.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from dataclasses import dataclass, fields
from typing import Any, Sequence
from urllib.parse import urlencode, urljoin, urlsplit

from barge import gojson
from barge.errors import InvalidParameter
from barge.registry.transport import (
    RegistryError,
    RegistryUnauthorized,
    Transport,
    error_for,
    format_errcode,
    parse_error_body,
)

CLIENT_ID = "docker"  # what dockerd sends; some token servers key refresh tokens on it
_MIN_TTL = 60


@dataclass
class AuthConfig:
    """Docker's ``types/registry.AuthConfig``, as sent in ``X-Registry-Auth`` and ``POST /auth``."""

    username: str = ""
    password: str = ""
    auth: str = ""
    email: str = ""
    serveraddress: str = ""
    identitytoken: str = ""
    registrytoken: str = ""

    @classmethod
    def from_json(cls, body: Any) -> "AuthConfig":
        """From a decoded JSON object; keys are matched case-insensitively, as Go's decoder does."""
        if body is None:
            return cls()
        if not isinstance(body, dict):
            raise InvalidParameter("invalid auth configuration: expected a JSON object")
        names = {f.name for f in fields(cls)}
        values: dict[str, str] = {}
        for key, value in body.items():
            name = str(key).lower()
            if name in names and value is not None:
                if not isinstance(value, str):
                    raise InvalidParameter(f"invalid auth configuration: {key} must be a string")
                values[name] = value
        return cls(**values)

    @classmethod
    def from_header(cls, value: str | None) -> "AuthConfig":
        """Decode ``X-Registry-Auth``: base64url (or standard) JSON, padding optional."""
        value = (value or "").strip()
        if not value:
            return cls()
        padded = value + "=" * (-len(value) % 4)
        try:
            raw = base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
            doc = gojson.loads(raw)
        except (binascii.Error, ValueError):
            raise InvalidParameter("invalid X-Registry-Auth header: not base64-encoded JSON") from None
        return cls.from_json(doc)

    def to_header(self) -> str:
        """The ``X-Registry-Auth`` value the docker CLI would send."""
        doc = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()

    def credentials(self) -> tuple[str, str] | None:
        """(user, password) from username/password or the ``auth`` field (base64 ``user:pass``)."""
        if self.username or self.password:
            return self.username, self.password
        if self.auth:
            try:
                user, sep, password = base64.b64decode(self.auth + "=" * (-len(self.auth) % 4)).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise InvalidParameter("invalid auth configuration: auth is not base64 user:password") from None
            if not sep:
                raise InvalidParameter("invalid auth configuration: auth is not base64 user:password")
            return user, password
        return None

    @property
    def anonymous(self) -> bool:
        return not (self.credentials() or self.identitytoken or self.registrytoken)


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "basic", "bearer"
    params: dict[str, str]


def parse_www_authenticate(values: str | Sequence[str] | None) -> list[Challenge]:
    """All challenges of one or more ``WWW-Authenticate`` headers (RFC 7235, quoted strings)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out: list[Challenge] = []
    for text in values:
        i, n = 0, len(text)
        current: Challenge | None = None
        while i < n:
            while i < n and text[i] in " \t,":
                i += 1
            start = i
            while i < n and text[i] not in " \t,=":
                i += 1
            token = text[start:i]
            if not token:
                break
            j = i
            while j < n and text[j] in " \t":
                j += 1
            if j < n and text[j] == "=" and current is not None:
                i = j + 1
                while i < n and text[i] in " \t":
                    i += 1
                if i < n and text[i] == '"':
                    i += 1
                    chars = []
                    while i < n and text[i] != '"':
                        if text[i] == "\\" and i + 1 < n:
                            i += 1
                        chars.append(text[i])
                        i += 1
                    i += 1
                    value = "".join(chars)
                else:
                    start = i
                    while i < n and text[i] not in " \t,":
                        i += 1
                    value = text[start:i]
                current.params[token.lower()] = value
            else:
                current = Challenge(token.lower(), {})
                out.append(current)
                i = j
    return out


def repository_scope(name: str, actions: Sequence[str]) -> str:
    return f"repository:{name}:{','.join(actions)}"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Authorizer:
    """Answers a registry's challenges for one (endpoint, credentials); safe across threads."""

    def __init__(self, auth: AuthConfig, transport: Transport, *, offline_token: bool = False):
        self.auth = auth
        self.transport = transport
        self.offline_token = offline_token
        #: refresh token handed out by the token server (``docker login`` returns it as IdentityToken)
        self.refresh_token = ""
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None
        self._tokens: dict[str, tuple[str, float]] = {}
        self._fetch_locks: dict[str, threading.Lock] = {}

    @property
    def challenge_scheme(self) -> str:
        return self._challenge.scheme if self._challenge else ""

    def authorization(self, scopes: Sequence[str]) -> str | None:
        """The ``Authorization`` value for a request needing ``scopes``, or None (anonymous)."""
        if self.auth.registrytoken:
            return f"Bearer {self.auth.registrytoken}"
        with self._lock:
            challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            creds = self.auth.credentials()
            return _basic(*creds) if creds else None
        return f"Bearer {self._token(challenge, scopes)}"

    def challenged(self, www_authenticate: Sequence[str], scopes: Sequence[str], sent: str | None) -> bool:
        """Record a 401's challenge. True when retrying with :meth:`authorization` may succeed."""
        if self.auth.registrytoken:
            return False
        known = [c for c in parse_www_authenticate(www_authenticate) if c.scheme in ("bearer", "basic")]
        if not known:
            return False
        challenge = next((c for c in known if c.scheme == "bearer"), known[0])
        if challenge.scheme == "bearer" and not challenge.params.get("realm"):
            return False
        with self._lock:
            self._challenge = challenge
            if sent and sent.startswith("Bearer "):
                token = sent[len("Bearer "):]
                for key, (cached, _) in list(self._tokens.items()):
                    if cached == token:
                        del self._tokens[key]
        if challenge.scheme == "basic":
            creds = self.auth.credentials()
            return bool(creds) and sent != _basic(*creds)
        return True

    # --- tokens ------------------------------------------------------------

    def _token(self, challenge: Challenge, scopes: Sequence[str]) -> str:
        extra = challenge.params.get("scope", "")
        wanted = sorted(set(scopes) | set(extra.split()))
        key = " ".join(wanted)
        with self._lock:
            cached = self._tokens.get(key)
            if cached and cached[1] > time.monotonic():
                return cached[0]
            lock = self._fetch_locks.setdefault(key, threading.Lock())
        with lock:  # one fetch per scope set even with many layer threads
            with self._lock:
                cached = self._tokens.get(key)
                if cached and cached[1] > time.monotonic():
                    return cached[0]
            token, ttl = self._fetch_token(challenge, wanted)
            with self._lock:
                self._tokens[key] = (token, time.monotonic() + max(ttl - 10, 5))
            return token

    def _fetch_token(self, challenge: Challenge, scopes: list[str]) -> tuple[str, int]:
        realm = challenge.params["realm"]
        service = challenge.params.get("service", "")
        creds = self.auth.credentials()
        if self.auth.identitytoken:
            form = {"grant_type": "refresh_token", "refresh_token": self.auth.identitytoken,
                    "service": service, "client_id": CLIENT_ID, "access_type": "offline" if self.offline_token else ""}
            if scopes:
                form["scope"] = " ".join(scopes)
            body = urlencode({k: v for k, v in form.items() if v}).encode()
            resp = self._realm_request("POST", realm, body=body,
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        else:
            query: list[tuple[str, str]] = []
            if service:
                query.append(("service", service))
            query += [("scope", s) for s in scopes]
            if self.offline_token and creds:
                query += [("offline_token", "true"), ("client_id", CLIENT_ID)]
            sep = "&" if urlsplit(realm).query else "?"
            url = realm + (sep + urlencode(query) if query else "")
            headers = {"Authorization": _basic(*creds)} if creds else {}
            resp = self._realm_request("GET", url, headers=headers)
        status, reason, data = resp
        if status != 200:
            message = None
            if status == 401 and creds:
                code, text = parse_error_body(data)
                message = format_errcode(code or "UNAUTHORIZED", text or "incorrect username or password")
            raise error_for(status, reason, data, message)
        try:
            doc = json.loads(data)
        except ValueError:
            raise RegistryError(f"token server {realm}: invalid JSON answer") from None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryUnauthorized(f"token server {realm}: answer without a token")
        if isinstance(doc.get("refresh_token"), str) and doc["refresh_token"]:
            self.refresh_token = doc["refresh_token"]
        ttl = doc.get("expires_in")
        ttl = ttl if isinstance(ttl, int) and not isinstance(ttl, bool) and ttl > 0 else _MIN_TTL
        return token, max(ttl, _MIN_TTL)

    def _realm_request(self, method: str, url: str, *, headers: dict[str, str],
                       body: bytes | None = None) -> tuple[int, str, bytes]:
        current = url
        for _ in range(5):
            with self.transport.request(method, current, headers=headers, body=body) as resp:
                if resp.status in (301, 302, 303, 307, 308) and resp.header("Location"):
                    current = urljoin(current, resp.header("Location"))
                    if urlsplit(current).netloc != urlsplit(url).netloc:
                        headers = {k: v for k, v in headers.items() if k != "Authorization"}
                    continue
                return resp.status, resp.reason, resp.read_limited(1 << 20)
        raise RegistryError(f"token server {url}: too many redirects")
