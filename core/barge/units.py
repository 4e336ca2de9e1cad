"""go-units' ``HumanDuration``, ``HumanSize`` and ``RAMInBytes``, shared by the daemon, the CLI and monitors.

The daemon needs it for ``ps``'s Status ("Up 3 seconds"), the client for
CREATED columns ("2 hours ago"), the log drivers in a container's monitor
for ``max-size``; it lives here, with nothing but builtins, so that the CLI
imports no server code to get it.
"""

from __future__ import annotations

import re

_RAM_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def human_duration(seconds: float) -> str:
    """go-units ``HumanDuration``: ``2 hours``, ``About a minute``.

    Hours round half up (``int(h + 0.5)``), as Go does.
    """
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _scaled(size: float, base: float, units: tuple[str, ...], precision: int) -> str:
    i = 0
    while size >= base and i < len(units) - 1:
        size /= base
        i += 1
    return f"{size:.{precision}g}{units[i]}"


def human_size(size: float, precision: int = 4) -> str:
    """go-units ``HumanSizeWithPrecision``: decimal units, ``4.26MB``."""
    return _scaled(float(size), 1000.0, _DECIMAL, precision)


def bytes_size(size: float) -> str:
    """go-units ``BytesSize``: binary units, ``23.47GiB``."""
    return _scaled(float(size), 1024.0, _BINARY, 4)


def ram_in_bytes(text: str) -> int:
    """go-units ``RAMInBytes`` as dockerd 20.10 vendors it: ``10m`` is 10 MiB; ValueError carries its text."""
    m = re.match(r"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$", str(text).strip())
    if not m:
        raise ValueError(f"invalid size: '{text}'")
    size = float(m.group(1)) * _RAM_UNITS[(m.group(2) or "").lower()]
    if not size < 1 << 63:  # also inf, from a number too long for a float
        raise ValueError(f"invalid size: '{text}': larger than 8 EiB")
    return int(size)
