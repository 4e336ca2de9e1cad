"""Checking image references the user types (``busybox``, ``host:5000/a/b:1``).

The docker CLI refuses a malformed reference before sending anything
("invalid reference format"); so do we, with the same grammar.
"""

from __future__ import annotations

import re

from barge.client.errors import ClientError

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_NAME = re.compile(rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")


class InvalidReference(ClientError):
    pass


def split(ref: str) -> tuple[str, str | None, str | None]:
    """``name[:tag][@digest]`` -> (name, tag, digest); a registry port stays in the name."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    tag = None
    slash, colon = ref.rfind("/"), ref.rfind(":")
    if colon > slash:
        ref, tag = ref[:colon], ref[colon + 1:]
    return ref, tag, digest


def validate(ref: str) -> tuple[str, str | None, str | None]:
    """Split ``ref`` and check each part; raise :class:`InvalidReference`."""
    name, tag, digest = split(ref)
    if not name or len(name) > 255:
        raise InvalidReference("invalid reference format")
    if not _NAME.match(name):
        # Only the path part must be lowercase; a domain may have capitals.
        first, _, rest = name.partition("/")
        path = rest if rest and ("." in first or ":" in first or first == "localhost") else name
        if path != path.lower() and _NAME.match(name.lower()):
            raise InvalidReference(f"invalid reference format: repository name ({name}) must be lowercase")
        raise InvalidReference("invalid reference format")
    if tag is not None and not _TAG.match(tag):
        raise InvalidReference("invalid reference format")
    if digest is not None and not _DIGEST.match(digest):
        raise InvalidReference("invalid reference format")
    return name, tag, digest
