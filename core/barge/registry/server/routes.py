"""Request paths under ``/v2/`` to operations, and the access each needs.

Repository names contain slashes, so aiohttp's router cannot split
``/v2/<name>/blobs/<digest>``; one catch-all route hands the tail here and
the patterns are tried in order (``blobs/uploads/`` before ``blobs/<digest>``).
An invalid name is NAME_INVALID, not a 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from barge.registry.server.auth import CATALOG, Scope, repository
from barge.registry.server.errors import RegistryError
from barge.registry.server.names import check_name

_PATTERNS = [
    ("tags", re.compile(r"(?P<name>.+)/tags/list")),
    ("manifest", re.compile(r"(?P<name>.+)/manifests/(?P<ref>[^/]+)")),
    ("uploads", re.compile(r"(?P<name>.+)/blobs/uploads/?")),
    ("upload", re.compile(r"(?P<name>.+)/blobs/uploads/(?P<uuid>[^/]+)")),
    ("blob", re.compile(r"(?P<name>.+)/blobs/(?P<digest>[^/]+)")),
    ("referrers", re.compile(r"(?P<name>.+)/referrers/(?P<digest>[^/]+)")),
]

#: method -> actions on the repository (a push needs pull too, as distribution asks)
_READ = ("GET", "HEAD")


@dataclass
class Op:
    kind: str  # base, catalog, tags, manifest, uploads, upload, blob, referrers
    name: str = ""
    ref: str = ""  # tag, digest or upload uuid

    def scopes(self, method: str) -> list[Scope]:
        if self.kind == "base":
            return []
        if self.kind == "catalog":
            return [CATALOG]
        if method in _READ:
            return [repository(self.name, "pull")]
        if method == "DELETE" and self.kind in ("manifest", "blob"):
            return [repository(self.name, "delete")]
        return [repository(self.name, "pull", "push")]


def parse(tail: str) -> Op | None:
    """The operation for ``/v2/<tail>``; None when no pattern matches."""
    if tail == "":
        return Op("base")
    if tail.rstrip("/") == "_catalog":
        return Op("catalog")
    for kind, pattern in _PATTERNS:
        m = pattern.fullmatch(tail)
        if m:
            name = check_name(m.group("name"))
            ref = m.groupdict().get("ref") or m.groupdict().get("uuid") or m.groupdict().get("digest") or ""
            return Op(kind, name, ref)
    return None


def not_found(tail: str) -> RegistryError:
    return RegistryError("UNSUPPORTED", f"no such endpoint: /v2/{tail}", status=404)
