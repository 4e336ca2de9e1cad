"""How the client writes names and filters into a path or a query, as the docker client does."""

from __future__ import annotations

import json


def _filters_json(filters: dict[str, list[str]] | None) -> str | None:
    if not filters:
        return None
    return json.dumps({k: {v: True for v in vs} for k, vs in filters.items()})


def _quote_all(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="/:@")
