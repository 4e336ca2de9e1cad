"""Bearer tokens of the token service: JWT-shaped (``header.claims.mac``),
HMAC-SHA256 signed with a secret only this server knows, carrying the granted
access and an expiry. Clients treat them as opaque; the registry checks them
on every request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

#: the spec's default lifetime is 60 s; clients refresh as needed
DEFAULT_EXPIRY = 300


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(path: Path | None) -> bytes:
    """The signing key from ``path`` (created with a random key when missing),
    or a fresh one for this process only."""
    if path is None:
        return secrets.token_bytes(32)
    path = Path(path)
    try:
        data = path.read_bytes().strip()
    except FileNotFoundError:
        data = secrets.token_hex(32).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data + b"\n")
    if len(data) < 16:
        raise ValueError(f"token secret in {path} is too short (16 bytes at least)")
    return data


@dataclass
class Issued:
    token: str
    issued_at: str
    expires_in: int


class TokenIssuer:
    def __init__(self, secret: bytes, service: str, expiry: int = DEFAULT_EXPIRY):
        self.secret, self.service, self.expiry = secret, service, expiry
        self._header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())

    def _mac(self, signing_input: str) -> str:
        return _b64(hmac.new(self.secret, signing_input.encode(), hashlib.sha256).digest())

    def mint(self, subject: str, access: list[dict]) -> Issued:
        now = int(time.time())
        claims = {"iss": self.service, "sub": subject, "aud": self.service, "iat": now, "nbf": now - 5,
                  "exp": now + self.expiry, "jti": secrets.token_hex(8), "access": access}
        signing_input = f"{self._header}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
        token = f"{signing_input}.{self._mac(signing_input)}"
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        return Issued(token, issued, self.expiry)

    def verify(self, token: str) -> dict | None:
        """The claims of a valid, unexpired token for this service, else None."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        signing_input = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._mac(signing_input), parts[2]):
            return None
        try:
            claims = json.loads(_unb64(parts[1]))
        except ValueError:
            return None
        now = time.time()
        if claims.get("aud") != self.service or not (claims.get("nbf", 0) <= now < claims.get("exp", 0)):
            return None
        return claims
