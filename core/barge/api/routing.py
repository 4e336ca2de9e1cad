"""Routes of the Engine API, each served with and without a version prefix.

Moby registers every route twice, ``/v{version}/path`` and ``/path``; the
version middleware checks the prefix and stores the negotiated version in
``request["api_version"]``.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

VERSION_PREFIX = r"/v{api_version:[0-9]+\.[0-9]+}"


class Routes:
    """Collects ``(method, path, handler)`` and adds them to an app twice."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, str, Handler]] = []

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def decorate(fn: Handler) -> Handler:
            self._routes.append((method, path, fn))
            return fn

        return decorate

    def get(self, path: str):
        return self.route("GET", path)

    def post(self, path: str):
        return self.route("POST", path)

    def put(self, path: str):
        return self.route("PUT", path)

    def delete(self, path: str):
        return self.route("DELETE", path)

    def head(self, path: str):
        return self.route("HEAD", path)

    def add_to(self, app: web.Application) -> None:
        for method, path, handler in self._routes:
            for prefix in (VERSION_PREFIX, ""):
                app.router.add_route(method, prefix + path, handler, allow_head=False)
