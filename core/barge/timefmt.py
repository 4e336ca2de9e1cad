"""Times as Docker writes them: RFC 3339 with nanoseconds, in UTC."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

_RFC3339_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})$"
)


def rfc3339_nano(ns: int | None = None) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: trailing zeros of the fraction dropped."""
    ns = time.time_ns() if ns is None else ns
    seconds, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{frac:09d}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def parse_rfc3339(value: str | None) -> float:
    """Seconds since the epoch; 0.0 for a missing or unreadable time."""
    if not value:
        return 0.0
    m = _RFC3339_RE.match(value.strip())
    if not m:
        return 0.0
    date, clock, frac, zone = m.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        dt = datetime.fromisoformat(f"{date}T{clock}{zone}")
    except ValueError:
        return 0.0
    return dt.timestamp() + (float("0." + frac) if frac else 0.0)


def from_unix(seconds: float) -> str:
    """A stored float time as RFC 3339 (nanosecond precision is not kept)."""
    return rfc3339_nano(int(round(seconds * 1_000_000)) * 1000)
