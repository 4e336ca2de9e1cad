"""Checking image references the user types (``busybox``, ``host:5000/a/b:1``).

The docker CLI refuses a malformed reference before sending anything
("invalid reference format"); so do we. The grammar is the daemon's own
(:mod:`barge.reference`, a pure module); this one only splits and turns its
errors into client errors.
"""

from __future__ import annotations

from barge.client.errors import ClientError


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
    """Split ``ref`` after checking it; raise :class:`InvalidReference`."""
    from barge import reference
    from barge.errors import InvalidParameter

    try:
        reference.parse(ref)
    except InvalidParameter as exc:
        raise InvalidReference(str(exc)) from None
    return split(ref)
