"""The Engine API client: version negotiation and one method per call we use.

Negotiation follows the docker CLI: ``HEAD /_ping`` on the unversioned path
(``GET`` if HEAD fails with anything but a connection error), then every
path is prefixed with ``/v<min(server, client)>``. A ping without
``Api-Version`` means 1.24, as docker assumes.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

from barge import API_VERSION
from barge.client import jsonmessage, transport
from barge.client.containers import ContainerAPI
from barge.client.errors import APIError, ClientError, DaemonUnreachable
from barge.client.images import ImageAPI
from barge.client.query import _filters_json, _quote, _quote_all
from barge.client.transport import Endpoint, TLSOptions
from barge.client.volumes import VolumeAPI

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

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Client(ContainerAPI, ImageAPI, VolumeAPI):
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

    def inspect_raw(self, kind: str, name: str) -> dict:
        """``GET /<kind>s/<name>/json`` for ``inspect`` of any object type."""
        return self.get_json(f"/{kind}s/{_quote(name)}/json")

    # ------------------------------------------------------------ files (cp, diff, export, commit)
    def stat_path(self, container: str, path: str) -> dict:
        """``HEAD /containers/{id}/archive``: the decoded path-stat header."""
        response = self.request("HEAD", f"/containers/{_quote_all(container)}/archive", {"path": path})
        try:
            return decode_path_stat(response.raw.getheader(PATH_STAT_HEADER))
        finally:
            response.close()

    def get_archive(self, container: str, path: str) -> tuple[Response, dict]:
        """``GET /containers/{id}/archive``: the tar stream and the path's stat."""
        response = self.request("GET", f"/containers/{_quote_all(container)}/archive", {"path": path})
        try:
            return response, decode_path_stat(response.raw.getheader(PATH_STAT_HEADER))
        except BaseException:
            response.close()
            raise

    def put_archive(self, container: str, path: str, body, copy_uid_gid: bool = False,
                    no_overwrite_dir_non_dir: bool = True) -> None:
        query = {"path": path, "noOverwriteDirNonDir": "true" if no_overwrite_dir_non_dir else None,
                 "copyUIDGID": "true" if copy_uid_gid else None}
        self.request("PUT", f"/containers/{_quote_all(container)}/archive", query, body,
                     {"Content-Type": "application/x-tar"}).close()

    def changes(self, container: str) -> list[dict]:
        return self.get_json(f"/containers/{_quote_all(container)}/changes") or []

    def export(self, container: str) -> Response:
        return self.request("GET", f"/containers/{_quote_all(container)}/export")

    def commit(self, container: str, repo: str = "", tag: str = "", comment: str = "", author: str = "",
               pause: bool = True, changes: list[str] | None = None) -> dict:
        query: list[tuple[str, Any]] = [("container", container), ("repo", repo or None), ("tag", tag or None),
                                        ("comment", comment or None), ("author", author or None),
                                        ("pause", None if pause else "0")]
        query += [("changes", c) for c in changes or []]
        return self.request("POST", "/commit", query, b"{}", {"Content-Type": "application/json"}).json() or {}

    # ------------------------------------------------------------ events
    def events(self, since: str | None = None, until: str | None = None,
               filters: dict[str, list[str]] | None = None) -> Response:
        """``GET /events``: a stream of JSON messages (``Response.messages``)."""
        query = {"since": since or None, "until": until or None, "filters": _filters_json(filters)}
        return self.request("GET", "/events", query)


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


PATH_STAT_HEADER = "X-Docker-Container-Path-Stat"


def decode_path_stat(value: str | None) -> dict:
    """The base64 JSON of ``X-Docker-Container-Path-Stat`` (``{}`` when absent)."""
    import base64

    if not value:
        return {}
    try:
        data = json.loads(base64.b64decode(value))
    except ValueError as exc:
        raise ClientError(f"unable to decode container path stat header: {exc}") from None
    return data if isinstance(data, dict) else {}
