"""``--since``/``--until`` values as docker's ``timetypes.GetTimestamp`` turns
them into the API's ``seconds.nanoseconds``: a Go duration (``42m``,
``1h30m``) counts back from now; RFC 3339 dates and times (with or without
zone or fraction) are absolute; a plain number passes through.
"""

from __future__ import annotations

import re
import time
from datetime import datetime

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


def _parse_time(text: str) -> float | None:
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
            # Go parses a time without zone in the local zone.
            dt = dt.replace(tzinfo=datetime.now().astimezone().tzinfo)
        return dt.timestamp() + (float(frac) if frac else 0.0)
    return None


def timestamp(value: str, now: float | None = None) -> str:
    """The API form of a ``--since``/``--until`` value; ValueError if invalid."""
    now = time.time() if now is None else now
    if _NUMERIC.match(value.strip()):
        return value.strip()
    seconds = parse_duration(value) if value.strip() else None
    if seconds is not None:
        when = now - seconds
    else:
        when = _parse_time(value)
        if when is None:
            raise ValueError(f'failed to parse value as time or duration: "{value}"')
    whole = int(when // 1)
    nanos = int(round((when - whole) * 1e9))
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    return f"{whole}.{nanos:09d}"

