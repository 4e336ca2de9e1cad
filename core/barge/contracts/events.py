"""``events_subscribe``: its arguments, the subscription it returns, and the stream's wire helpers.

Shared by the API routes (which build them) and the job handlers in
:mod:`barge.daemon.jobs` (which take them): neither imports the other.
``parse_time`` reads ``since``/``until`` (the network service's ``until``
filter too); ``encode`` writes one event as a line of the stream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Callable, Protocol

from barge.errors import InvalidParameter
from barge.timefmt import parse_rfc3339


@dataclass
class SubscribeArgs:
    #: called with each new matching event (from whichever thread published it)
    deliver: Callable[[dict], None] = lambda msg: None
    filters: str | None = None
    since_ns: int | None = None


class EventSubscription(Protocol):
    """A live subscriber of the event hub."""

    @property
    def backlog(self) -> list[dict]:
        """The kept events from ``since_ns`` on, matching the filters (no gap, no repeat with the live ones)."""

    def close(self) -> None:
        """Stop delivering (the client went)."""


def parse_time(value: str, now: float | None = None) -> int | None:
    """``since``/``until`` as nanoseconds: ``seconds[.fraction]`` (what the CLI sends) or RFC 3339."""
    if not value:
        return None
    try:
        return int(Decimal(value) * 1_000_000_000)
    except InvalidOperation:
        pass
    seconds = parse_rfc3339(value)
    if not seconds:
        raise InvalidParameter(f"invalid value for time: {value!r}")
    return int(seconds * 1_000_000_000)


def encode(msg: dict) -> bytes:
    """One event as a line of ``GET /events``."""
    return json.dumps(msg, separators=(",", ":")).encode() + b"\n"
