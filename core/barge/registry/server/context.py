"""What every handler reaches through ``request.app[REGISTRY]``."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from barge.registry.server.repos import Repos
from barge.registry.server.storage import BlobStore


@dataclass
class Registry:
    blobs: BlobStore
    repos: Repos
    auth: object  # NoAuth | BasicAuth | TokenAuth
    delete_enabled: bool = True


REGISTRY = web.AppKey("registry", Registry)


def registry(request) -> Registry:
    return request.app[REGISTRY]
