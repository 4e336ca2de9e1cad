"""The build's answer: Docker's JSON message stream, as the classic builder writes it.

Every write of the builder's stdout is one ``{"stream": ...}`` message; a
RUN's stderr is the same, wrapped in red as dockerd's stderr formatter
does; ``{"aux": {"ID": ...}}`` names each stage's image (API >= 1.30);
pulls of base images write their progress messages. With ``q`` everything
is held back and only the image id is sent at the end; a failed quiet
build sends what it held back, then the error, as dockerd does.
"""

from __future__ import annotations

import io
import json
from typing import Any

from barge.units import human_size


def go_progress(current: int, total: int) -> str:
    """jsonmessage's ``JSONProgress.String`` as the daemon renders it (a wide bar)."""
    if total <= 0:
        return f"{human_size(current):>8}" if current > 0 else ""
    percent = min(50, int(current / total * 100) // 2)
    bar = f"[{'=' * percent}>{' ' * (50 - percent)}] "
    numbers = f"{human_size(current):>8}/{human_size(total)}" if current <= total else ""
    return bar + numbers


def _message(**fields: Any) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode() + b"\r\n"


class BuildOutput:
    def __init__(self, out, *, quiet: bool = False, want_aux: bool = True):
        self._out = out
        self.quiet = quiet
        self.want_aux = want_aux
        self._held = io.BytesIO() if quiet else None

    def _write(self, data: bytes) -> None:
        if self._held is not None:
            self._held.write(data)
        else:
            self._out.write(data)

    def stdout(self, text: str) -> None:
        if text:
            self._write(_message(stream=text))

    def stderr(self, text: str) -> None:
        if text:
            self._write(_message(stream="\x1b[91m" + text + "\x1b[0m"))

    def aux(self, image_id: str) -> None:
        if self.want_aux and image_id:
            self._write(_message(aux={"ID": image_id}))

    def write(self, data: bytes) -> int:
        """File-like, for a pull writing its progress here."""
        self._write(bytes(data))
        return len(data)

    def release_held(self) -> None:
        """A quiet build failed: what it held back goes out before the error."""
        if self._held is not None and self._held.tell():
            self._out.write(self._held.getvalue())
            self._held = io.BytesIO()

    def result(self, image_id: str) -> None:
        """A quiet build succeeded: only its image id is sent."""
        if self.quiet:
            self._out.write(_message(stream=image_id + "\n"))

    def download_progress(self, current: int, total: int) -> None:
        """An ADD download's progress message, as moby's progress reader writes it (no id)."""
        detail = {"current": current, "total": total} if total > 0 else {"current": current}
        self._write(_message(status="Downloading", progressDetail=detail, progress=go_progress(current, total)))

    def progress(self, message: dict) -> None:
        """A message of a remote context's download."""
        self._write(_message(**message))
