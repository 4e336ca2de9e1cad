"""Human-readable sizes, durations and ids, printed the way the docker CLI does.

docker prints sizes with go-units (decimal ``HumanSizeWithPrecision``, binary
``BytesSize``) and ages with ``HumanDuration``; users compare our columns with
docker's, so the rounding and the unit names follow those functions.
"""

from __future__ import annotations

import time

from barge.units import human_duration  # go-units HumanDuration, shared with the daemon

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


def since(timestamp: float, now: float | None = None) -> str:
    """``2 hours ago`` for a unix timestamp, as ``docker images`` shows CREATED."""
    now = time.time() if now is None else now
    return human_duration(max(0.0, now - timestamp)) + " ago"


def truncate_id(image_id: str) -> str:
    """moby ``stringid.TruncateID``: drop the algorithm, keep 12 hex digits."""
    if ":" in image_id:
        image_id = image_id.split(":", 1)[1]
    return image_id[:12]


def ellipsis(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` characters, ending in ``…`` when cut."""
    if len(text) <= width:
        return text
    if width <= 0:
        return ""
    return text[: width - 1] + "…"
