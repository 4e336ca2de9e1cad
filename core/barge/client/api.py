"""The Engine API client: version negotiation and one method per call we use.

Negotiation follows the docker CLI: ``HEAD /_ping`` on the unversioned path
(``GET`` if HEAD fails with anything but a connection error), then every
path is prefixed with ``/v<min(server, client)>``. A ping without
``Api-Version`` means 1.24, as docker assumes.
"""

from __future__ import annotations

import json
from typing import IO, Any, Iterable, Iterator

from barge import API_VERSION
from barge.client import jsonmessage, transport
from barge.client.containers import ContainerAPI
from barge.client.errors import APIError, ClientError, DaemonUnreachable
from barge.client.transport import Endpoint, TLSOptions

FALLBACK_API_VERSION = "1.24"
PING_TIMEOUT = 2.0


def _version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (0,)


def _error_message(response) -> str:
    body = response.read()
    ctype = (response.getheader("Content-Type") or "").split(";")[0].strip()
    text = body.decode("utf-8", "replace").strip()
    if ctype == "application/json" or text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("message") is not None:
            return str(data["message"])
    if not text:
        return f"{response.status} {response.reason}"
    return text


class Response:
    """A streamed response body; use as a context manager or iterate chunks."""

    def __init__(self, raw):
        self.raw = raw

    @property
    def content_type(self) -> str:
        return (self.raw.getheader("Content-Type") or "").split(";")[0].strip()

    def chunks(self, size: int = transport.CHUNK) -> Iterator[bytes]:
        try:
            while True:
                data = self.raw.read1(size)
                if not data:
                    return
                yield data
        finally:
            self.close()

    def messages(self) -> Iterator[dict]:
        return jsonmessage.decode(self.chunks(65536))

    def json(self) -> Any:
        try:
            data = self.raw.read()
        finally:
            self.close()
        return json.loads(data) if data.strip() else None

    def close(self) -> None:
        self.raw.close()
        conn = getattr(self.raw, "_barge_conn", None)
        if conn is not None:
            conn.close()

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Client(ContainerAPI):
    """Talks to one daemon. Cheap to build; the first call negotiates."""

    def __init__(self, host: str | None = None, tls: TLSOptions | None = None, version: str | None = None):
        self.endpoint: Endpoint = transport.parse_host(host, tls)
        self.client_version = API_VERSION
        self._version = version  # fixed by the caller: no negotiation
        self.ping_headers: dict[str, str] = {}

    @property
    def host(self) -> str:
        return self.endpoint.url

    # ------------------------------------------------------------ plumbing
    @property
    def api_version(self) -> str:
        if self._version is None:
            self.negotiate()
        assert self._version is not None
        return self._version

    def negotiate(self) -> str:
        headers = self.ping()
        server = headers.get("api-version") or FALLBACK_API_VERSION
        if _version_tuple(server) < _version_tuple(self.client_version):
            self._version = server
        else:
            self._version = self.client_version
        return self._version

    def ping(self) -> dict[str, str]:
        """``HEAD /_ping`` (``GET`` as fallback); the response headers, lowercased."""
        response = None
        try:
            response = transport.send(self.endpoint, "HEAD", "/_ping", timeout=PING_TIMEOUT)
            response.read()
            if response.status not in (200, 500):
                raise ClientError("HEAD not answered")
        except DaemonUnreachable:
            raise
        except (ClientError, OSError, ValueError):
            if response is not None:
                Response(response).close()
            response = transport.send(self.endpoint, "GET", "/_ping", timeout=PING_TIMEOUT)
            response.read()
        finally:
            if response is not None:
                Response(response).close()
        self.ping_headers = {k.lower(): v for k, v in response.getheaders()}
        return self.ping_headers

    def request(
        self,
        method: str,
        path: str,
        query=None,
        body=None,
        headers: dict[str, str] | None = None,
        versioned: bool = True,
    ) -> Response:
        """Send a request; raise :class:`APIError` on any status >= 400."""
        full = f"/v{self.api_version}{path}" if versioned else path
        try:
            raw = transport.send(self.endpoint, method, full, query, body, headers)
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise ClientError(f"error during connect: {exc}") from None
        if raw.status >= 400:
            try:
                message = _error_message(raw)
            finally:
                Response(raw).close()
            raise APIError(raw.status, message)
        return Response(raw)

    def get_json(self, path: str, query=None, versioned: bool = True) -> Any:
        return self.request("GET", path, query, versioned=versioned).json()

    # ------------------------------------------------------------ system
    def version(self) -> dict:
        return self.get_json("/version")

    def info(self) -> dict:
        return self.get_json("/info")

    # ------------------------------------------------------------ images
    def images(self, all: bool = False, filters: dict[str, list[str]] | None = None) -> list[dict]:
        query: dict[str, Any] = {}
        if all:
            query["all"] = "1"
        if filters:
            query["filters"] = json.dumps({k: {v: True for v in vs} for k, vs in filters.items()})
        return self.get_json("/images/json", query)

    def inspect_image(self, name: str) -> dict:
        return self.get_json(f"/images/{_quote(name)}/json")

    def inspect_raw(self, kind: str, name: str) -> dict:
        """``GET /<kind>s/<name>/json`` for ``inspect`` of any object type."""
        return self.get_json(f"/{kind}s/{_quote(name)}/json")

    def history(self, name: str) -> list[dict]:
        return self.get_json(f"/images/{_quote(name)}/history")

    def tag(self, source: str, repo: str, tag: str | None = None) -> None:
        query = {"repo": repo, "tag": tag}
        self.request("POST", f"/images/{_quote(source)}/tag", query).close()

    def remove_image(self, name: str, force: bool = False, noprune: bool = False) -> list[dict]:
        query = {"force": "1" if force else None, "noprune": "1" if noprune else None}
        return self.request("DELETE", f"/images/{_quote(name)}", query).json() or []

    def import_image(
        self,
        source: IO[bytes] | Iterable[bytes] | bytes | str,
        repo: str | None = None,
        tag: str | None = None,
        message: str | None = None,
        changes: list[str] | None = None,
    ) -> Response:
        """``POST /images/create?fromSrc=-`` with the tar as the body.

        ``source`` may be a URL string, which the daemon fetches itself.
        Returns the JSON message stream; :func:`image_id_from` reads the id.
        """
        from_src = source if isinstance(source, str) else "-"
        query: list[tuple[str, Any]] = [("fromSrc", from_src), ("repo", repo), ("tag", tag), ("message", message)]
        query += [("changes", c) for c in changes or []]
        body = None if isinstance(source, str) else source
        headers = {"Content-Type": "application/x-tar"} if body is not None else None
        return self.request("POST", "/images/create", query, body, headers)

    def save(self, names: list[str]) -> Response:
        return self.request("GET", "/images/get", [("names", n) for n in names])

    def load(self, source: IO[bytes] | Iterable[bytes] | bytes, quiet: bool = False) -> Response:
        query = {"quiet": "1" if quiet else "0"}
        return self.request("POST", "/images/load", query, source, {"Content-Type": "application/x-tar"})


def image_id_from(messages: Iterable[dict]) -> str:
    """The image id an import stream ends with (``{"status": "sha256:..."}``)."""
    image_id = ""
    for msg in messages:
        error = jsonmessage.error_of(msg)
        if error is not None:
            from barge.client.errors import StreamError

            raise StreamError(error)
        status = msg.get("status") or ""
        if status.startswith("sha256:"):
            image_id = status.strip()
    if not image_id:
        raise ClientError("the daemon did not report the new image's id")
    return image_id


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="/:@")
