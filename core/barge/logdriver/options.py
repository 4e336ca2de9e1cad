"""Option parsing every driver shares, with Go's error texts (dockerd prints them as they are).

``mode``, ``max-buffer-size`` and the dual-logging cache's ``cache-*`` keys
are taken by every driver (moby's built-in log opts).
"""

from __future__ import annotations

import re
from typing import Mapping

from barge.logdriver.base import LogDriverError
from barge.units import ram_in_bytes

CACHE_PREFIX = "cache-"
#: The local driver's options, prefixed: the cache of a driver ``docker logs`` cannot read.
CACHE_OPTS = frozenset({"cache-max-size", "cache-max-file", "cache-compress", "cache-disabled"})
BUILTIN_OPTS = frozenset({"mode", "max-buffer-size"}) | CACHE_OPTS
MODES = ("", "blocking", "non-blocking")


def parse_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def atoi(text: str) -> int:
    """Go's ``strconv.Atoi``."""
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    raise ValueError(f'strconv.Atoi: parsing "{text}": invalid syntax')


def validate_builtin(opts: Mapping[str, str]) -> None:
    """dockerd's checks of the keys every driver takes, made at create."""
    mode = opts.get("mode", "")
    if mode not in MODES:
        raise LogDriverError(f"logger: logging mode not supported: {mode}")
    if mode == "non-blocking" and opts.get("max-buffer-size"):
        try:
            ram_in_bytes(opts["max-buffer-size"])
        except ValueError as exc:
            raise LogDriverError(f"error parsing option max-buffer-size: {exc}") from None
    if opts.get("cache-disabled"):
        try:
            parse_bool(opts["cache-disabled"])
        except ValueError:
            raise LogDriverError(f"invalid value for option cache-disabled: {opts['cache-disabled']}") from None


def cache_options(opts: Mapping[str, str]) -> dict[str, str] | None:
    """The local cache's options (``cache-max-size`` -> ``max-size``), or None when ``cache-disabled``."""
    if opts.get("cache-disabled") and parse_bool(opts["cache-disabled"]):
        return None
    return {k[len(CACHE_PREFIX):]: v for k, v in opts.items() if k in CACHE_OPTS and k != "cache-disabled"}
