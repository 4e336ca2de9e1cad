"""Docker's JSON progress messages for pull and push, written as work happens.

Several download or upload threads report at once, so writes are
serialised; byte counts are throttled (a message per 1% or 100 ms per
layer), as moby's progress reader does, so a fast pull does not spend its
time printing.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any


class Progress:
    def __init__(self, out) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._last: dict[str, tuple[float, int]] = {}

    def _write(self, msg: dict[str, Any]) -> None:
        data = json.dumps(msg, separators=(",", ":")).encode() + b"\r\n"
        with self._lock:
            self._out.write(data)

    def status(self, status: str, id: str | None = None) -> None:
        """A message; ``id`` makes it a layer's line (with moby's empty ``progressDetail``, which
        tells clients to rewrite that line in place rather than print a new one)."""
        msg: dict[str, Any] = {"status": status}
        if id:
            msg["progressDetail"] = {}
            msg["id"] = id
        self._write(msg)

    def header(self, status: str, id: str) -> None:
        """``Pulling from ...`` with the tag as id: a line of its own, not a layer's."""
        self._write({"status": status, "id": id})

    def bytes(self, action: str, id: str, current: int, total: int | None, force: bool = False) -> None:
        """``Downloading``/``Extracting``/``Pushing`` with ``progressDetail``."""
        now = time.monotonic()
        last_t, last_n = self._last.get(id + action, (0.0, -1))
        step = max(1, (total or 0) // 100)
        if not force and current != total and now - last_t < 0.1 and current - last_n < step:
            return
        self._last[id + action] = (now, current)
        detail: dict[str, Any] = {"current": current}
        if total:
            detail["total"] = total
        self._write({"status": action, "progressDetail": detail, "progress": bar(current, total), "id": id})

    def aux(self, value: dict[str, Any]) -> None:
        self._write({"progressDetail": {}, "aux": value})


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1000
    return f"{n}B"


def bar(current: int, total: int | None, width: int = 50) -> str:
    """The pre-rendered ``progress`` string old clients print."""
    if not total:
        return human(current)
    filled = min(width, int(width * current / total))
    arrow = ">" if filled < width else ""
    return f"[{'=' * max(0, filled - (1 if arrow else 0))}{arrow}{' ' * (width - filled)}] {human(current)}/{human(total)}"
