"""Times as Docker writes them (RFC 3339 with nanoseconds, in UTC) and reads them (Go durations,
RFC 3339 dates and times, Unix seconds: moby's ``timetypes.GetTimestamp``)."""

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


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_NUMERIC = re.compile(r"^-?\d+(?:\.\d+)?$")


def parse_duration(text: str) -> float | None:
    """Go's ``time.ParseDuration`` in seconds, or None if ``text`` is not one."""
    s = text.strip()
    sign = 1.0
    if s[:1] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            return None
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * total if s else None


def _parse_go_time(text: str) -> float | None:
    """The RFC 3339 layouts ``GetTimestamp`` tries, down to a bare date; a time without zone is local."""
    value = text.strip()
    if value.endswith("Z") or value.endswith("z"):
        value = value[:-1] + "+00:00"
    frac = ""
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", value)
    if m:
        value, frac = m.group(1) + m.group(3), m.group(2) or ""
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M%z", "%Y-%m-%dT%H:%M",
                "%Y-%m-%dT%H%z", "%Y-%m-%dT%H", "%Y-%m-%d%z", "%Y-%m-%d"):
        try:
            dt = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=datetime.now().astimezone().tzinfo)
        return dt.timestamp() + (float(frac) if frac else 0.0)
    return None


def get_timestamp(value: str, now: float | None = None) -> str:
    """moby's ``timetypes.GetTimestamp``: ``seconds.nanoseconds`` for a Unix time (passed through), a Go
    duration (counted back from ``now``) or an RFC 3339 time; ValueError in Docker's words otherwise."""
    now = time.time() if now is None else now
    if _NUMERIC.match(value.strip()):
        return value.strip()
    seconds = parse_duration(value) if value.strip() else None
    if seconds is not None:
        when = now - seconds
    else:
        when = _parse_go_time(value)
        if when is None:
            raise ValueError(f'failed to parse value as time or duration: "{value}"')
    whole = int(when // 1)
    nanos = int(round((when - whole) * 1e9))
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    return f"{whole}.{nanos:09d}"
