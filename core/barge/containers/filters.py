"""``GET /containers/json``: Docker's ps filters and listing rules (moby ``daemon/list.go``).

Containers are listed newest first. Without ``all`` only running ones
show, unless a ``status`` filter, a limit, ``before`` or ``since`` is given.
``name`` and ``id`` values are regular expressions searched in the name
(with its ``/``) and the id; ``before=X`` keeps containers created before X,
``since=X`` those created after it; ``ancestor`` matches the image and every
image built on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from barge.containers.store import Container
from barge.errors import InvalidParameter
from barge.filters import Filters, labels_match, parse_filters

CONTAINER_FILTERS = frozenset({
    "ancestor", "before", "exited", "health", "id", "isolation", "is-task", "label", "name", "network",
    "publish", "expose", "since", "status", "volume",
})
STATES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


PRUNE_FILTERS = frozenset({"until", "label", "label!"})


def parse(raw: str | None, accepted: frozenset[str] = CONTAINER_FILTERS) -> Filters:
    return parse_filters(raw, accepted)


def _search(patterns: list[str], value: str) -> bool:
    for pattern in patterns:
        try:
            if re.search(pattern, value):
                return True
        except re.error:
            if pattern in value:
                return True
    return False


@dataclass
class ListQuery:
    all: bool = False
    limit: int = -1
    filters: Filters | None = None


def select(
    containers: Iterable[Container],
    query: ListQuery,
    resolve: Callable[[str], Container],
    ancestors: Callable[[str], set[str]],
) -> list[Container]:
    """Apply the query to containers sorted newest first.

    ``resolve`` finds a container by name or id (before/since);
    ``ancestors(image_ref)`` returns the image ids matching an ancestor filter.
    Long on purpose: every ``ps`` filter, one after another over the same list.
    """
    filters = query.filters or {}
    show_all = query.all
    for status in filters.get("status", []):
        if status not in STATES:
            raise InvalidParameter(f"invalid filter 'status={status}'")
        show_all = True
    for health in filters.get("health", []):
        if health not in ("starting", "healthy", "unhealthy", "none"):
            raise InvalidParameter(f"Unrecognised filter value for health: {health}")
    exited = []
    for value in filters.get("exited", []):
        try:
            exited.append(int(value))
        except ValueError:
            raise InvalidParameter(f"invalid filter 'exited={value}'") from None
    before = [resolve(v) for v in filters.get("before", [])]
    since = [resolve(v) for v in filters.get("since", [])]
    images: set[str] | None = None
    if "ancestor" in filters:
        images = set()
        for ref in filters["ancestor"]:
            images |= ancestors(ref)
    for value in filters.get("is-task", []):
        if value not in ("true", "false", "1", "0"):
            raise InvalidParameter(f"invalid filter 'is-task={value}'")
    out: list[Container] = []
    for c in containers:
        running = c.state.Running
        if not running and not show_all and query.limit <= 0 and not before and not since:
            continue
        if "name" in filters and not _search(filters["name"], c.name):
            continue
        if "id" in filters and not _search(filters["id"], c.id):
            continue
        if "label" in filters and not labels_match(c.config.get("Labels"), filters["label"]):
            continue
        if before and not all(c.created_unix < b.created_unix and c.id != b.id for b in before):
            continue
        if since and not all(c.created_unix > s.created_unix and c.id != s.id for s in since):
            continue
        if exited and (running or c.state.ExitCode not in exited):
            continue
        if "status" in filters and c.state.status not in filters["status"]:
            continue
        if images is not None and c.image_id not in images:
            continue
        if "network" in filters and (c.host_config.get("NetworkMode") or "bridge") not in filters["network"]:
            continue
        if "volume" in filters and not any(
            m.get("Name") in filters["volume"] or m.get("Source") in filters["volume"]
            or m["Destination"] in filters["volume"] for m in c.mounts
        ):
            continue
        if "health" in filters and ((c.state.Health or {}).get("Status") or "none") not in filters["health"]:
            continue
        if "is-task" in filters and any(v in ("true", "1") for v in filters["is-task"]):
            continue
        if "expose" in filters and not any(p in (c.config.get("ExposedPorts") or {}) or f"{p}/tcp" in
                                           (c.config.get("ExposedPorts") or {}) for p in filters["expose"]):
            continue
        if "publish" in filters:
            continue  # nothing is published before the networking issue
        out.append(c)
        if query.limit > 0 and len(out) >= query.limit:
            break
    return out
