"""A registry client for one repository: manifests, blobs, uploads, tags; plus search and login.

The OCI distribution API as Docker's daemon uses it. Every byte that comes
back is checked against the digest that named it; a blob download survives
dropped connections and 5xx/429 answers (backoff, ``Retry-After``) and
resumes with ``Range`` where the registry allows, else re-reads and skips
what it already has. No daemon knowledge here: callers decide what to store.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import io
import json
import re
import time
from typing import BinaryIO, Callable, Iterable, Sequence, TypeVar
from urllib.parse import quote, urlencode, urljoin, urlsplit

from barge.registry.auth import AuthConfig, Authorizer, repository_scope
from barge.registry.endpoints import Endpoint, RegistryConfig
from barge.registry.mediatypes import ALL_MANIFEST_TYPES, is_digest, sniff_media_type
from barge.registry.transport import (  # noqa: F401  (re-exported: the errors callers catch)
    DigestMismatch,
    EndpointUnreachable,
    PlainHTTPRefused,
    RegistryDenied,
    RegistryError,
    RegistryNotFound,
    RegistryUnauthorized,
    RegistryUnavailable,
    Response,
    TooManyRequests,
    Transport,
    TruncatedBlob,
    error_for,
    shared_transport,
)

MANIFEST_LIMIT = 4 << 20  # what registries must accept; anything larger is refused unread
CHUNK = 1 << 20
_REDIRECTS = (301, 302, 303, 307, 308)
_LINK_NEXT_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
ProgressFn = Callable[[int], None]


class ManifestTooLarge(RegistryError):
    pass


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def _hasher(digest: str):
    algorithm = digest.split(":", 1)[0]
    if not is_digest(digest):
        raise RegistryError(f"invalid digest {digest!r}", status=400, code="DIGEST_INVALID")
    return hashlib.new(algorithm)


def _retry_after(resp: Response, cap: float) -> float | None:
    value = resp.header("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), cap))


def _with_query(url: str, **params: str) -> str:
    return url + ("&" if urlsplit(url).query else "?") + urlencode(params)


class Session:
    """Requests to one endpoint with the auth handshake, redirects and retries."""

    retry_attempts = 5
    retry_base = 0.5  # seconds; doubled per attempt
    retry_cap = 30.0

    def __init__(self, endpoint: Endpoint, authorizer: Authorizer, transport: Transport):
        if endpoint.plain_http and not transport.insecure(endpoint.host):
            raise PlainHTTPRefused(f"refusing plain HTTP to {endpoint.host}: not an insecure registry")
        self.endpoint, self.authorizer, self.transport = endpoint, authorizer, transport
        self._netloc = urlsplit(endpoint.url).netloc
        self.sleep = time.sleep

    def backoff(self, attempt: int) -> float:
        return min(self.retry_base * (2 ** attempt), self.retry_cap)

    def send(self, method: str, url: str, *, headers: dict[str, str] | None = None,
             body: bytes | BinaryIO | None = None, scopes: Sequence[str] = (), follow: bool = True) -> Response:
        """One logical request: answers a 401 challenge once and follows GET/HEAD redirects
        (dropping ``Authorization`` when the host changes). Raises on a final 401."""
        headers = dict(headers or {})
        start = body.tell() if body is not None and not isinstance(body, (bytes, bytearray)) else None
        challenged = False
        current = url
        for _ in range(11):
            own = urlsplit(current).netloc == self._netloc
            hdrs = dict(headers)
            sent = self.authorizer.authorization(scopes) if own else None
            if sent:
                hdrs["Authorization"] = sent
            resp = self.transport.request(method, current, hdrs, body,
                                          insecure=self.endpoint.insecure_tls if own else None)
            if resp.status == 401 and own:
                data = _small_body(resp)
                www = resp.headers.get_all("WWW-Authenticate") or []
                if not challenged and self.authorizer.challenged(www, scopes, sent):
                    challenged = True
                    if start is not None:
                        body.seek(start)  # type: ignore[union-attr]
                    continue
                raise error_for(401, resp.reason, data)
            if follow and resp.status in _REDIRECTS and method in ("GET", "HEAD") and resp.header("Location"):
                resp.close()
                current = urljoin(current, resp.header("Location"))
                continue
            return resp
        raise RegistryError(f"{method} {url}: too many redirects")

    def call(self, method: str, url: str, *, expect: Iterable[int] = (200,), retry: bool = True,
             not_found: str | None = None, **kw) -> Response:
        """:meth:`send` until the status is one of ``expect``; 5xx, 429 and lost connections are
        retried with backoff when the body can be replayed. Other statuses raise."""
        expect = tuple(expect)
        body = kw.get("body")
        start = body.tell() if body is not None and not isinstance(body, (bytes, bytearray)) \
            and hasattr(body, "seek") else None
        replayable = body is None or isinstance(body, (bytes, bytearray)) or start is not None
        attempt = 0
        while True:
            try:
                resp = self.send(method, url, **kw)
            except PlainHTTPRefused:
                raise
            except EndpointUnreachable:
                if not (retry and replayable) or attempt >= self.retry_attempts - 1:
                    raise
                delay = self.backoff(attempt)
            else:
                if resp.status in expect:
                    return resp
                data = _small_body(resp)
                err = error_for(resp.status, resp.reason, data, not_found if resp.status == 404 else None)
                transient = resp.status == 429 or resp.status >= 500
                if not (transient and retry and replayable) or attempt >= self.retry_attempts - 1:
                    raise err
                delay = _retry_after(resp, self.retry_cap)
                delay = self.backoff(attempt) if delay is None else delay
            self.sleep(delay)
            attempt += 1
            if start is not None:
                body.seek(start)  # type: ignore[union-attr]


def _small_body(resp: Response) -> bytes:
    try:
        return resp.read_limited(64 << 10)
    except (ValueError, OSError, http.client.HTTPException):
        resp.close()
        return b""


class BlobReader(io.RawIOBase):
    """A blob as a stream: hashed as it is read, resumed after a drop, verified at EOF.

    At EOF a wrong digest raises :class:`DigestMismatch` and a short blob
    :class:`TruncatedBlob`, so a consumer (a decompressor, a file) never takes a
    bad blob for a good one.
    """

    def __init__(self, repo: "Repository", digest: str, size: int | None = None, *,
                 offset: int = 0, hasher=None, progress: ProgressFn | None = None):
        super().__init__()
        self.repo, self.digest, self.size = repo, digest, size
        self.pos = offset
        self._hash = hasher or _hasher(digest)
        self._progress = progress
        self._resp: Response | None = None
        self._failures = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def _open(self) -> None:
        headers = {"Accept-Encoding": "identity"}
        if self.pos:
            headers["Range"] = f"bytes={self.pos}-"
        resp = self.repo.session.call("GET", self.repo._url(f"blobs/{self.digest}"), headers=headers,
                                      scopes=self.repo.scopes, expect=(200, 206))
        if resp.status == 206:
            m = re.match(r"bytes (\d+)-", resp.header("Content-Range") or "")
            if not m or int(m.group(1)) != self.pos:
                resp.close()
                raise RegistryError(f"blob {self.digest}: registry answered range "
                                    f"{resp.header('Content-Range')!r} for bytes={self.pos}-")
        elif self.pos:  # no range support: read again from the start, skip what we have
            skip, buf = self.pos, bytearray(CHUNK)
            while skip:
                n = resp.readinto(memoryview(buf)[:min(skip, CHUNK)])
                if not n:
                    resp.close()
                    raise TruncatedBlob(f"blob {self.digest} truncated: registry sent fewer than {self.pos} bytes")
                skip -= n
        self._resp = resp

    def _dropped(self, exc: BaseException) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None
        self._failures += 1
        if self._failures >= self.repo.session.retry_attempts:
            raise EndpointUnreachable(f"downloading blob {self.digest}: {exc or type(exc).__name__}") from exc
        self.repo.session.sleep(self.repo.session.backoff(self._failures - 1))

    def readinto(self, b) -> int:
        if self._eof or not len(b):
            return 0
        while True:
            if self._resp is None:
                self._open()  # Session.call already retried 5xx, 429 and lost connections
            try:
                n = self._resp.readinto(b)  # type: ignore[union-attr]
            except (OSError, http.client.HTTPException) as exc:
                self._dropped(exc)  # dropped mid-body: reopen from self.pos
                continue
            break
        if n == 0:
            self._resp = None
            self._finish()
            return 0
        if self.size is not None and self.pos + n > self.size:
            self.close()
            raise DigestMismatch(f"blob {self.digest}: registry sent more than the expected {self.size} bytes")
        self._hash.update(memoryview(b)[:n])
        self.pos += n
        self._failures = 0
        if self._progress is not None:
            self._progress(self.pos)
        return n

    def _finish(self) -> None:
        self._eof = True
        if self.size is not None and self.pos < self.size:
            raise TruncatedBlob(f"blob {self.digest} truncated: got {self.pos} of {self.size} bytes")
        actual = f"{self.digest.split(':', 1)[0]}:{self._hash.hexdigest()}"
        if actual != self.digest:
            raise DigestMismatch(f"filesystem layer verification failed for digest {self.digest} (got {actual})")

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None
        super().close()


class Repository:
    """One repository on one endpoint, with the scopes of ``actions`` (pull, push)."""

    def __init__(self, endpoint: Endpoint, name: str, auth: AuthConfig, actions: tuple[str, ...] = ("pull",),
                 cfg: RegistryConfig | None = None, authorizer: Authorizer | None = None, *,
                 display: str | None = None, transport: Transport | None = None):
        self.endpoint, self.name = endpoint, name
        self.cfg = cfg or RegistryConfig()
        self.transport = transport or (authorizer.transport if authorizer else shared_transport(self.cfg))
        self.authorizer = authorizer or Authorizer(auth, self.transport)
        self.session = Session(endpoint, self.authorizer, self.transport)
        self.scopes = [repository_scope(name, actions)]
        #: the name in messages (``busybox`` rather than ``library/busybox``)
        self.display = display or name

    def _url(self, tail: str) -> str:
        return f"{self.endpoint.url}/v2/{self.name}/{tail}"

    def _ref_text(self, ref: str) -> str:
        return f"{self.display}@{ref}" if is_digest(ref) else f"{self.display}:{ref}"

    # --- base ----------------------------------------------------------------

    def ping(self) -> None:
        """``GET /v2/`` with the handshake. Raises EndpointUnreachable when nothing answers
        (try the next endpoint), RegistryUnauthorized when credentials are missing or wrong."""
        self.session.call("GET", f"{self.endpoint.url}/v2/", scopes=(), retry=False).close()

    # --- manifests -----------------------------------------------------------

    def get_manifest(self, ref: str, accept: Sequence[str] = ALL_MANIFEST_TYPES) -> tuple[bytes, str, str]:
        """(body, media type, digest). A digest ``ref`` is verified; a tag's digest is computed
        (and checked against ``Docker-Content-Digest`` when the registry sends one)."""
        resp = self.session.call(
            "GET", self._url(f"manifests/{quote(ref, safe=':')}"), headers={"Accept": ", ".join(accept)},
            scopes=self.scopes, not_found=f"manifest for {self._ref_text(ref)} not found: manifest unknown: "
                                          "manifest unknown")
        try:
            body = resp.read_limited(MANIFEST_LIMIT)
        except ValueError:
            raise ManifestTooLarge(f"manifest for {self._ref_text(ref)} is larger than "
                                   f"{MANIFEST_LIMIT >> 20} MiB") from None
        media_type = (resp.header("Content-Type") or "").split(";", 1)[0].strip()
        if media_type in ("", "application/json", "text/plain", "application/octet-stream"):
            media_type = sniff_media_type(body) or media_type
        if is_digest(ref):
            actual = compute_digest(body, ref.split(":", 1)[0])
            if actual != ref:
                raise DigestMismatch(f"manifest verification failed for digest {ref} (got {actual})")
            return body, media_type, ref
        digest = compute_digest(body)
        announced = resp.header("Docker-Content-Digest")
        if announced and announced.startswith("sha256:") and announced != digest:
            raise DigestMismatch(f"manifest verification failed for digest {announced} (got {digest})")
        if announced and is_digest(announced) and not announced.startswith("sha256:"):
            if compute_digest(body, announced.split(":", 1)[0]) != announced:
                raise DigestMismatch(f"manifest verification failed for digest {announced}")
        return body, media_type, digest

    def head_manifest(self, ref: str) -> tuple[str, str, int] | None:
        """(digest, media type, size) of a manifest, or None if the registry does not have it."""
        resp = self.session.call("HEAD", self._url(f"manifests/{quote(ref, safe=':')}"),
                                 headers={"Accept": ", ".join(ALL_MANIFEST_TYPES)}, scopes=self.scopes,
                                 expect=(200, 404))
        resp.close()
        if resp.status == 404:
            return None
        digest = resp.header("Docker-Content-Digest") or ""
        media_type = (resp.header("Content-Type") or "").split(";", 1)[0].strip()
        size = resp.content_length
        if not is_digest(digest) or size is None:
            body, media_type, digest = self.get_manifest(ref)
            size = len(body)
        return digest, media_type, size

    def put_manifest(self, ref: str, body: bytes, media_type: str) -> str:
        digest = compute_digest(body)
        if is_digest(ref) and compute_digest(body, ref.split(":", 1)[0]) != ref:
            raise DigestMismatch(f"manifest digest {digest} does not match reference {ref}")
        if len(body) > MANIFEST_LIMIT:
            raise ManifestTooLarge(f"manifest is larger than {MANIFEST_LIMIT >> 20} MiB")
        resp = self.session.call("PUT", self._url(f"manifests/{quote(ref, safe=':')}"), body=body,
                                 headers={"Content-Type": media_type}, scopes=self.scopes, expect=(200, 201, 202))
        resp.close()
        announced = resp.header("Docker-Content-Digest")
        if announced and announced.startswith("sha256:") and announced != digest:
            raise DigestMismatch(f"registry stored manifest as {announced}, expected {digest}")
        return digest

    # --- blobs -----------------------------------------------------------------

    def blob_size(self, digest: str) -> int | None:
        resp = self.session.call("HEAD", self._url(f"blobs/{digest}"), scopes=self.scopes, expect=(200, 404))
        resp.close()
        if resp.status == 404:
            return None
        size = resp.content_length
        if size is None:
            raise RegistryError(f"blob {digest}: registry answered HEAD without Content-Length")
        return size

    def open_blob(self, digest: str, size: int | None = None) -> BlobReader:
        """A verifying, resuming stream of the blob (for decompress-while-downloading)."""
        return BlobReader(self, digest, size)

    def fetch_blob(self, digest: str, out: BinaryIO, size: int | None = None,
                   progress: ProgressFn | None = None, offset: int = 0) -> None:
        """Stream the blob into ``out``. ``offset`` > 0 resumes: ``out`` (readable, seekable)
        already holds that many bytes of the blob, which are hashed, not fetched again.
        ``progress`` gets the number of bytes of the blob held so far. On DigestMismatch /
        TruncatedBlob the caller must discard ``out``."""
        hasher = _hasher(digest)
        if offset:
            out.seek(0)
            left = offset
            while left:
                chunk = out.read(min(left, CHUNK))
                if not chunk:
                    raise RegistryError(f"resume of blob {digest}: output holds fewer than {offset} bytes")
                hasher.update(chunk)
                left -= len(chunk)
            out.seek(offset)
            out.truncate()
        reader = BlobReader(self, digest, size, offset=offset, hasher=hasher, progress=progress)
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        try:
            while True:
                n = reader.readinto(view)
                if not n:
                    break
                out.write(view[:n])
        finally:
            reader.close()

    def mount_blob(self, digest: str, from_repo: str) -> bool:
        """Cross-repository mount. True when mounted; False (session cancelled) when the
        registry would rather have the blob uploaded."""
        scopes = self.scopes + [repository_scope(from_repo, ("pull",))]
        url = _with_query(self._url("blobs/uploads/"), mount=digest, **{"from": from_repo})
        resp = self.session.call("POST", url, scopes=scopes, expect=(201, 202))
        resp.close()
        if resp.status == 201:
            return True
        location = resp.header("Location")
        if location:
            try:
                self.session.call("DELETE", urljoin(url, location), scopes=self.scopes,
                                  expect=(200, 202, 204, 404), retry=False).close()
            except RegistryError:
                pass  # an abandoned session expires on its own
        return False

    def _start_upload(self) -> str:
        url = self._url("blobs/uploads/")
        resp = self.session.call("POST", url, scopes=self.scopes, expect=(202,))
        resp.close()
        location = resp.header("Location")
        if not location:
            raise RegistryError("registry started an upload without a Location")
        return urljoin(url, location)

    def upload_blob(self, source: BinaryIO, digest: str, size: int, progress: ProgressFn | None = None,
                    chunk_size: int | None = None) -> None:
        """Upload ``size`` bytes of ``source`` as blob ``digest``: one PUT, or PATCH chunks of
        ``chunk_size`` and a closing PUT. A failed upload starts over (from a new session)
        when ``source`` can seek back."""
        _hasher(digest)
        start = source.tell() if source.seekable() else None
        attempt = 0
        while True:
            try:
                location = self._start_upload()
                if chunk_size is None or size <= chunk_size:
                    self._put_whole(location, source, digest, size, progress)
                else:
                    self._put_chunks(location, source, digest, size, progress, chunk_size)
                return
            except (RegistryUnavailable, TooManyRequests, EndpointUnreachable) as exc:
                if isinstance(exc, PlainHTTPRefused) or start is None or \
                        attempt >= self.session.retry_attempts - 1:
                    raise
                self.session.sleep(self.session.backoff(attempt))
                attempt += 1
                source.seek(start)

    def _closed(self, resp: Response, digest: str) -> None:
        resp.close()
        announced = resp.header("Docker-Content-Digest")
        if announced and announced != digest:
            raise DigestMismatch(f"registry stored blob as {announced}, expected {digest}")

    def _put_whole(self, location: str, source: BinaryIO, digest: str, size: int,
                   progress: ProgressFn | None) -> None:
        body = _Counted(source, size, progress)
        try:
            resp = self.session.call("PUT", _with_query(location, digest=digest), body=body, retry=False,
                                     headers={"Content-Type": "application/octet-stream",
                                              "Content-Length": str(size)},
                                     scopes=self.scopes, expect=(201,))
        except RegistryError as exc:
            raise _upload_error(exc) from None
        body.check()
        self._closed(resp, digest)

    def _put_chunks(self, location: str, source: BinaryIO, digest: str, size: int,
                    progress: ProgressFn | None, chunk_size: int) -> None:
        done = 0
        while done < size:
            chunk = _read_exactly(source, min(chunk_size, size - done))
            try:
                resp = self.session.call(
                    "PATCH", location, body=chunk, scopes=self.scopes, expect=(202,),
                    headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(chunk)),
                             "Content-Range": f"{done}-{done + len(chunk) - 1}"})
            except RegistryError as exc:
                raise _upload_error(exc) from None
            resp.close()
            got = re.match(r"(?:bytes=)?0-(\d+)$", resp.header("Range") or "")
            if got and int(got.group(1)) != done + len(chunk) - 1:
                raise RegistryError(f"upload of {digest}: registry holds {resp.header('Range')}, "
                                    f"sent 0-{done + len(chunk) - 1}")
            location = urljoin(location, resp.header("Location") or location)
            done += len(chunk)
            if progress is not None:
                progress(done)
        try:
            resp = self.session.call("PUT", _with_query(location, digest=digest), scopes=self.scopes,
                                     expect=(201,), headers={"Content-Length": "0"})
        except RegistryError as exc:
            raise _upload_error(exc) from None
        self._closed(resp, digest)

    # --- discovery -------------------------------------------------------------

    def tags(self) -> list[str]:
        """Every tag, following ``Link: <...>; rel="next"`` pagination."""
        out: list[str] = []
        url: str | None = self._url("tags/list")
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            resp = self.session.call("GET", url, scopes=self.scopes)
            try:
                doc = _json(resp.read_limited(32 << 20))
            except ValueError:
                raise RegistryError("tags list larger than 32 MiB") from None
            tags = doc.get("tags") if isinstance(doc, dict) else None
            out.extend(t for t in (tags or []) if isinstance(t, str))
            m = _LINK_NEXT_RE.search(resp.header("Link") or "")
            url = urljoin(url, m.group(1)) if m else None
        return out


class _Counted(io.RawIOBase):
    """Exactly ``size`` bytes of ``source`` as a request body, with progress."""

    def __init__(self, source: BinaryIO, size: int, progress: ProgressFn | None):
        super().__init__()
        self.source, self.left, self.sent, self.progress = source, size, 0, progress
        self._start = source.tell() if source.seekable() else None
        self._size = size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._start is not None

    def tell(self) -> int:
        return self.sent

    def seek(self, pos: int, whence: int = 0) -> int:
        if self._start is None or whence != 0:
            raise io.UnsupportedOperation("seek")
        self.source.seek(self._start + pos)
        self.sent, self.left = pos, self._size - pos
        return pos

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.source.read(n)
        if not data:
            raise RegistryError(f"upload source ended {self.left} bytes early")
        self.left -= len(data)
        self.sent += len(data)
        if self.progress is not None:
            self.progress(self.sent)
        return data

    def check(self) -> None:
        if self.left:
            raise RegistryError(f"upload source ended {self.left} bytes early")


def _read_exactly(source: BinaryIO, n: int) -> bytes:
    parts, left = [], n
    while left:
        data = source.read(left)
        if not data:
            raise RegistryError(f"upload source ended {left} bytes early")
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


def _upload_error(exc: RegistryError) -> RegistryError:
    if exc.code == "DIGEST_INVALID":
        return DigestMismatch(str(exc), status=400, code=exc.code)
    return exc


def _json(data: bytes):
    try:
        return json.loads(data)
    except ValueError:
        raise RegistryError("registry answered invalid JSON") from None


# --- index operations ------------------------------------------------------------


T = TypeVar("T")


def first_answering(endpoints: Iterable[Endpoint], call: Callable[[Endpoint], T]) -> T:
    """``call(endpoint)`` on the first endpoint that answers at all: https, then plain http for an
    insecure registry, as Docker tries them. Errors other than no answer are the registry's."""
    last: BaseException | None = None
    for endpoint in endpoints:
        try:
            return call(endpoint)
        except EndpointUnreachable as exc:
            last = exc
    raise last or EndpointUnreachable("no endpoint to try")


def pinged(repo: "Repository") -> "Repository":
    """``repo`` once its ``/v2/`` answered (for :func:`first_answering`)."""
    repo.ping()
    return repo


def _session(endpoint: Endpoint, auth: AuthConfig, cfg: RegistryConfig | None, *,
             offline_token: bool = False) -> Session:
    transport = shared_transport(cfg)
    return Session(endpoint, Authorizer(auth, transport, offline_token=offline_token), transport)


def search(endpoint: Endpoint, term: str, limit: int, auth: AuthConfig,
           cfg: RegistryConfig | None = None) -> list[dict]:
    """The v1 search API: ``GET /v1/search?q=&n=`` (Docker's search_session)."""
    session = _session(endpoint, auth, cfg)
    url = f"{endpoint.url}/v1/search?" + urlencode({"q": term, "n": str(limit)})
    resp = session.call("GET", url, scopes=("registry:catalog:search",), retry=False)
    try:
        doc = _json(resp.read_limited(16 << 20))
    except ValueError:
        raise RegistryError("search answer larger than 16 MiB") from None
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, list):
        raise RegistryError("invalid search answer: no results list")
    out = []
    for r in results:
        if not isinstance(r, dict) or not isinstance(r.get("name"), str):
            continue
        out.append({
            "name": r["name"],
            "description": str(r.get("description") or ""),
            "star_count": int(r.get("star_count") or 0),
            "is_official": bool(r.get("is_official")),
            "is_automated": bool(r.get("is_automated")),
        })
    return out


def login(endpoint: Endpoint, auth: AuthConfig, cfg: RegistryConfig | None = None) -> dict:
    """Check credentials as Docker's ``POST /auth`` does: ``GET /v2/`` through the handshake."""
    session = _session(endpoint, auth, cfg, offline_token=True)
    try:
        session.call("GET", f"{endpoint.url}/v2/", scopes=(), retry=False).close()
    except RegistryUnauthorized as exc:
        if auth.credentials() or auth.identitytoken:
            raise RegistryUnauthorized("unauthorized: incorrect username or password", code=exc.code) from None
        raise
    return {"Status": "Login Succeeded", "IdentityToken": session.authorizer.refresh_token}
