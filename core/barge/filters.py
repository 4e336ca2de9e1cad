"""The ``filters`` query parameter of ``GET /images/json``, as Docker reads it.

The JSON is ``{"key": {"value": true}}`` (or the older ``{"key": ["value"]}``);
``reference`` patterns match like Go's ``path.Match`` (``*`` stops at ``/``)
against the familiar name with and without its tag.
"""

from __future__ import annotations

import re
from functools import lru_cache

from barge import gojson, timefmt
from barge.errors import InvalidParameter

IMAGE_FILTERS = frozenset({"dangling", "label", "before", "since", "reference", "until"})

Filters = dict[str, list[str]]


def parse_filters(raw: str | None, accepted: frozenset[str] | None = IMAGE_FILTERS) -> Filters:
    """Decode and validate; malformed JSON or an unknown key is InvalidParameter
    (``accepted`` None: any key, for a caller that words the refusal itself)."""
    if not raw:
        return {}
    try:
        data = gojson.loads(raw)
    except ValueError as exc:
        raise InvalidParameter(f"invalid filter: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidParameter("invalid filter: expected a JSON object")
    out: Filters = {}
    for key, value in data.items():
        if isinstance(value, dict):
            values = [str(k) for k, v in value.items() if v]
        elif isinstance(value, list):
            values = [str(v) for v in value]
        elif isinstance(value, str):
            values = [value]
        else:
            raise InvalidParameter(f"invalid filter: bad value for {key!r}")
        if accepted is not None and key not in accepted:
            raise InvalidParameter(f"invalid filter '{key}'")
        out[key] = values
    return out


def dangling_value(values: list[str]) -> bool | None:
    """The ``dangling`` filter: ``True``, ``False`` or ``None`` when absent."""
    if not values:
        return None
    normalised = {v.lower() for v in values}
    if normalised <= {"true", "1"}:
        return True
    if normalised <= {"false", "0"}:
        return False
    raise InvalidParameter(f"invalid filter 'dangling={', '.join(values)}'")


def prune_until(values: list[str]) -> float | None:
    """A prune's ``until`` filter as a Unix time (moby's ``getUntilFromPruneFilters``): a timestamp,
    an RFC 3339 time, or a Go duration back from now; None without one."""
    if not values:
        return None
    if len(values) > 1:
        raise InvalidParameter("more than one until filter specified")
    try:
        return float(timefmt.get_timestamp(values[0]))
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None


def labels_match(labels: dict[str, str] | None, wanted: list[str]) -> bool:
    """Every ``key`` or ``key=value`` in ``wanted`` holds."""
    labels = labels or {}
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels:
            return False
        if sep and labels[key] != value:
            return False
    return True


@lru_cache(maxsize=256)
def _glob_re(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                raise InvalidParameter(f"invalid filter 'reference={pattern}': syntax error in pattern")
            body = pattern[i + 1:end]
            if body.startswith("^"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("^" + "".join(out) + "$")


def path_match(pattern: str, name: str) -> bool:
    """Go's ``path.Match``."""
    return bool(_glob_re(pattern).match(name))


def reference_matches(pattern: str, familiar_ref: str, familiar_name: str) -> bool:
    """Docker's ``FamiliarMatch``: the full familiar string, then the bare name."""
    return path_match(pattern, familiar_ref) or path_match(pattern, familiar_name)
