"""HTTP/1.1 to registries with ``http.client``: a small keep-alive pool per host, thread-safe.

Pull fetches layers from a thread pool, so connections are never shared:
each request takes an idle connection of its (scheme, host) out of the pool
or opens one, and the response puts it back once its body has been read to
the end. A kept-alive connection the server has meanwhile closed is retried
once on a fresh one. Plain HTTP is refused unless the host is insecure
(loopback or configured), so a redirect cannot downgrade a secure registry.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from typing import Any, BinaryIO, Mapping
from urllib.parse import urlsplit

from barge.errors import BargeError, Forbidden, NotFound, Unauthorized
from barge.registry.endpoints import RegistryConfig, is_insecure, ssl_context

USER_AGENT = "barge (registry client)"
BLOCK = 1 << 20  # send/receive block: small blocks cost syscalls at loopback speed
_DRAIN_LIMIT = 64 << 10
_STALE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, http.client.BadStatusLine)


# --- errors: registry answers as barge errors ------------------------------


class RegistryError(BargeError):
    """A registry said no (or said nothing). ``status`` is the HTTP status the API answers
    with, ``code`` the registry's error code (``MANIFEST_UNKNOWN``, ...) when it sent one."""

    status = 500

    def __init__(self, message: str, status: int | None = None, code: str = ""):
        super().__init__(message)
        if status is not None:
            self.status = status
        self.code = code


class RegistryUnauthorized(RegistryError, Unauthorized):
    status = 401


class RegistryDenied(RegistryError, Forbidden):
    status = 403


class RegistryNotFound(RegistryError, NotFound):
    status = 404


class TooManyRequests(RegistryError):
    status = 429


class RegistryUnavailable(RegistryError):
    """5xx from the registry: worth retrying, then reported with the registry's message."""


class EndpointUnreachable(RegistryError):
    """No HTTP answer at all (refused, TLS failure, dropped): try the next endpoint."""


class PlainHTTPRefused(EndpointUnreachable):
    pass


class DigestMismatch(RegistryError):
    """Content whose digest is not the one asked for; whatever was written must be discarded."""


class TruncatedBlob(DigestMismatch):
    """The registry sent fewer bytes than the descriptor's size."""


_DEFAULT_MESSAGES = {
    401: ("UNAUTHORIZED", "authentication required"),
    403: ("DENIED", "requested access to the resource is denied"),
    429: ("TOOMANYREQUESTS", "too many requests"),
}


def format_errcode(code: str, message: str) -> str:
    """distribution's errcode text: ``MANIFEST_UNKNOWN`` + msg -> ``manifest unknown: msg``."""
    return f"{code.lower().replace('_', ' ')}: {message}" if code else message


def parse_error_body(body: bytes) -> tuple[str, str]:
    """(code, message) of the first error in ``{"errors":[{"code","message","detail"}]}``."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "", ""
    if isinstance(doc, dict):
        errors = doc.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return str(first.get("code") or ""), str(first.get("message") or "")
        if isinstance(doc.get("details"), str):  # the Hub's token server
            return "UNAUTHORIZED" if doc.get("details") else "", doc["details"]
        if isinstance(doc.get("error"), str):
            return "", doc["error"]
    return "", ""


def error_for(status: int, reason: str, body: bytes = b"", message: str | None = None) -> RegistryError:
    """The barge error for a registry's non-success answer; ``message`` overrides the text."""
    code, text = parse_error_body(body)
    if message is None:
        if code or text:
            message = format_errcode(code, text)
        elif status in _DEFAULT_MESSAGES:
            message = format_errcode(*_DEFAULT_MESSAGES[status])
            code = _DEFAULT_MESSAGES[status][0]
        else:
            message = f"received unexpected HTTP status: {status} {reason}".rstrip()
    if status == 401:
        return RegistryUnauthorized(message, code=code or "UNAUTHORIZED")
    if status == 403:
        return RegistryDenied(message, code=code or "DENIED")
    if status == 404:
        return RegistryNotFound(message, code=code)
    if status == 429:
        return TooManyRequests(message, code=code or "TOOMANYREQUESTS")
    if status >= 500:
        return RegistryUnavailable(message, status=500, code=code)
    return RegistryError(message, status=400 if code else 500, code=code)


class Response:
    """One HTTP answer; the connection goes back to the pool when the body is consumed."""

    def __init__(self, transport: "Transport", key: tuple, conn: http.client.HTTPConnection,
                 resp: http.client.HTTPResponse, method: str, url: str):
        self._transport, self._key, self._conn, self._resp = transport, key, conn, resp
        self.method, self.url = method, url
        self.status: int = resp.status
        self.reason: str = resp.reason
        self.headers = resp.headers
        self._done = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    def readinto(self, buf: Any) -> int:
        """Like ``HTTPResponse.readinto`` but a body cut short raises ``IncompleteRead``."""
        if self._done:
            return 0
        n = self._resp.readinto(buf)
        if n == 0 and len(buf):
            remaining = self._resp.length
            if remaining:
                self._abort()
                raise http.client.IncompleteRead(b"", remaining)
            self._finish()
        elif self._resp.isclosed():
            self._finish()
        return n

    def read(self, n: int = -1) -> bytes:
        if self._done:
            return b""
        if n is None or n < 0:
            data = self._resp.read()  # raises IncompleteRead on a short body
            self._finish()
            return data
        buf = bytearray(n)
        got = self.readinto(buf)
        return bytes(buf[:got])

    def read_limited(self, limit: int) -> bytes:
        """The whole body, or ``ValueError`` once it exceeds ``limit`` bytes."""
        length = self.content_length
        if length is not None and length > limit:
            self.close()
            raise ValueError(f"body of {length} bytes exceeds the limit of {limit}")
        chunks, total = [], 0
        while True:
            chunk = self.read(min(BLOCK, limit + 1 - total) or 1)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                self.close()
                raise ValueError(f"body exceeds the limit of {limit} bytes")

    def close(self) -> None:
        """Release the connection: drain a short rest of the body to keep it alive, else drop it."""
        if self._done:
            return
        remaining = self._resp.length
        if self.method != "HEAD" and (remaining is None or remaining > _DRAIN_LIMIT) and not self._resp.isclosed():
            self._abort()
            return
        try:
            self._resp.read()
        except (OSError, http.client.HTTPException):
            self._abort()
            return
        self._finish()

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        self._resp.close()
        if self._resp.will_close:
            self._conn.close()
        else:
            self._transport._release(self._key, self._conn)

    def _abort(self) -> None:
        if not self._done:
            self._done = True
            self._resp.close()
            self._conn.close()

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Transport:
    """Pooled HTTP(S) connections for one registry configuration."""

    def __init__(self, cfg: RegistryConfig | None = None, timeout: float = 60.0, max_idle: int = 8):
        self.cfg = cfg or RegistryConfig()
        self.timeout = timeout
        self.max_idle = max_idle
        self._lock = threading.Lock()
        self._idle: dict[tuple, list[http.client.HTTPConnection]] = {}
        self._insecure: dict[str, bool] = {}

    def insecure(self, host: str) -> bool:
        with self._lock:
            cached = self._insecure.get(host)
        if cached is None:
            cached = is_insecure(host, self.cfg)
            with self._lock:
                self._insecure[host] = cached
        return cached

    def _acquire(self, key: tuple, method: str = "GET", url: str = "") -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop(), True
        scheme, netloc, insecure = key
        try:
            if scheme == "https":
                ctx = ssl_context(netloc, insecure, self.cfg)
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    netloc, timeout=self.timeout, context=ctx, blocksize=BLOCK)
            else:
                conn = http.client.HTTPConnection(netloc, timeout=self.timeout, blocksize=BLOCK)
            conn.connect()
        except ConnectionRefusedError as exc:
            raise EndpointUnreachable(_refused(method, url or f"{scheme}://{netloc}/", scheme, netloc)) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise EndpointUnreachable(f"{scheme}://{netloc}: {_describe(exc)}") from exc
        try:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        return conn, False

    def _release(self, key: tuple, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.max_idle and conn.sock is not None:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()

    def request(self, method: str, url: str, headers: Mapping[str, str] | None = None,
                body: bytes | BinaryIO | None = None, *, insecure: bool | None = None) -> Response:
        """Send one request (no redirects followed, no auth); return the answer with its body unread."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise EndpointUnreachable(f"unsupported URL {url!r}")
        netloc = parts.netloc
        tls_insecure = self.insecure(netloc) if insecure is None else insecure
        if parts.scheme == "http" and not (tls_insecure and self.insecure(netloc)):
            raise PlainHTTPRefused(f"refusing plain HTTP to {netloc}: not an insecure registry")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        hdrs = {"User-Agent": USER_AGENT}
        hdrs.update(headers or {})
        if body is None and method in ("POST", "PUT", "PATCH"):
            hdrs.setdefault("Content-Length", "0")
        start = body.tell() if body is not None and not isinstance(body, (bytes, bytearray)) and \
            hasattr(body, "seek") else None
        key = (parts.scheme, netloc, tls_insecure)
        for attempt in range(2):
            conn, reused = self._acquire(key, method, url)
            try:
                conn.request(method, target, body=body, headers=hdrs)
                resp = conn.getresponse()
            except _STALE as exc:
                conn.close()
                replayable = body is None or isinstance(body, (bytes, bytearray)) or start is not None
                if reused and attempt == 0 and replayable:
                    if start is not None:
                        body.seek(start)  # type: ignore[union-attr]
                    continue
                raise EndpointUnreachable(f"{method} {url}: {_describe(exc)}") from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise EndpointUnreachable(f"{method} {url}: {_describe(exc)}") from exc
            return Response(self, key, conn, resp, method, url)
        raise AssertionError("unreachable")


def _refused(method: str, url: str, scheme: str, netloc: str) -> str:
    """Go's ``Get "<url>": dial tcp <ip>:<port>: connect: connection refused``, which users know."""
    host, _, port = netloc.rpartition(":") if netloc.rsplit(":", 1)[-1].isdigit() else (netloc, "", "")
    port = port or ("443" if scheme == "https" else "80")
    try:
        address = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)[0][4][0]
    except (OSError, ValueError):
        address = host
    address = f"[{address}]" if ":" in address else address
    return f'{method[:1].upper()}{method[1:].lower()} "{url}": dial tcp {address}:{port}: connect: connection refused'


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return "http: server gave HTTP response to HTTPS client"  # Go's wording, which users search for
    return text


_shared_lock = threading.Lock()
_shared: dict[tuple, Transport] = {}


def shared_transport(cfg: RegistryConfig | None = None) -> Transport:
    """One pool per registry configuration, shared by every Repository using it."""
    cfg = cfg or RegistryConfig()
    key = (cfg.certs_dir, tuple(cfg.insecure_registries))
    with _shared_lock:
        transport = _shared.get(key)
        if transport is None:
            transport = _shared[key] = Transport(cfg)
        return transport
