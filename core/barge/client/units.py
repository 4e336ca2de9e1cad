"""Human-readable sizes, durations and ids, printed the way the docker CLI does.

docker prints sizes with go-units (decimal ``HumanSizeWithPrecision``, binary
``BytesSize``) and ages with ``HumanDuration``; users compare our columns with
docker's, so the rounding and the unit names follow those functions.
"""

from __future__ import annotations

import time

from barge.units import bytes_size, human_duration, human_size  # go-units, shared with the daemon

__all__ = ["bytes_size", "human_duration", "human_size"]

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
