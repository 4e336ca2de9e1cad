"""Image calls of the Engine API (list, inspect, history, tag, rmi, import, save, load).

Mixed into :class:`barge.client.api.Client`, which supplies ``request`` and
``get_json``.
"""

from __future__ import annotations

import json
from typing import IO, TYPE_CHECKING, Any, Iterable

from barge.client.query import _quote

if TYPE_CHECKING:  # pragma: no cover
    from barge.client.api import Response


class ImageAPI:
    def images(self, all: bool = False, filters: dict[str, list[str]] | None = None) -> list[dict]:
        query: dict[str, Any] = {}
        if all:
            query["all"] = "1"
        if filters:
            query["filters"] = json.dumps({k: {v: True for v in vs} for k, vs in filters.items()})
        return self.get_json("/images/json", query)

    def inspect_image(self, name: str) -> dict:
        return self.get_json(f"/images/{_quote(name)}/json")

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

    def build(self, context: Iterable[bytes] | None, query: list[tuple[str, str]], registry_config: str) -> Response:
        """``POST /build`` with the context tar streamed as the body (chunked,
        as the docker CLI sends it); returns the JSON message stream."""
        headers = {"X-Registry-Config": registry_config, "Content-Type": "application/x-tar"}
        return self.request("POST", "/build", query, context, headers)
