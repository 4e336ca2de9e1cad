"""Reading and showing the daemon's JSON message streams (import, load, pull).

Objects arrive concatenated with no framing (one per chunk, usually one per
line, but neither is promised), so they are decoded incrementally. Shown as
docker's ``jsonmessage`` shows them: on a terminal, progress lines with an
``id`` are redrawn in place; elsewhere progress is left out and every status
is one plain line. ``errorDetail`` ends the stream with an error.
"""

from __future__ import annotations

import json
from typing import IO, Iterable, Iterator

from barge.client import units
from barge.client.errors import StreamError

_decoder = json.JSONDecoder()


def decode(chunks: Iterable[bytes]) -> Iterator[dict]:
    """Yield each JSON object found in a byte stream, however it is split."""
    buf = ""
    pending = b""
    for chunk in chunks:
        pending += chunk
        try:
            buf += pending.decode("utf-8")
            pending = b""
        except UnicodeDecodeError as exc:
            # A multi-byte character split across chunks: keep its start.
            buf += pending[: exc.start].decode("utf-8")
            pending = pending[exc.start:]
        pos = 0
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos >= len(buf):
                break
            try:
                obj, end = _decoder.raw_decode(buf, pos)
            except json.JSONDecodeError:
                break  # incomplete: wait for more bytes
            pos = end
            if isinstance(obj, dict):
                yield obj
        buf = buf[pos:]
    rest = (buf + pending.decode("utf-8", "replace")).strip()
    if rest:
        raise StreamError(f"invalid JSON message from the daemon: {rest[:80]!r}")


def progress_bar(detail: dict, width: int = 80, now: float | None = None) -> str:
    """docker's ``JSONProgress.String()``: ``[====>   ]  12.3MB/45.6MB 3s``.

    The bar needs more than 110 columns, the time left more than 50 (and a
    ``start`` in the message); ``units`` counts things other than bytes and
    ``hidecounts`` leaves the numbers out.
    """
    current = _int(detail.get("current"))
    total = _int(detail.get("total"))
    unit = str(detail.get("units") or "")
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{units.human_size(current):>8}" if not unit else f"{current} {unit}"
    percentage = min(50, int(current / total * 100) // 2)
    bar = ""
    if width > 110:
        bar = "[" + "=" * percentage + ">" + " " * max(0, 50 - percentage) + "] "
    numbers = ""
    if detail.get("hidecounts"):
        pass
    elif not unit:
        numbers = f"{units.human_size(current):>8}/{units.human_size(total)}"
        if current > total:
            numbers = f"{units.human_size(current):>8}"
    else:
        numbers = f"{current}/{total} {unit}" if current <= total else f"{current} {unit}"
    left = ""
    start = _int(detail.get("start"))
    if width > 50 and current > 0 and start > 0 and percentage < 50:
        import time

        elapsed = max(0.0, (time.time() if now is None else now) - start)
        left = " " + _go_duration(round((total - current) * elapsed / current))
    return bar + numbers + left


def _int(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _go_duration(seconds: int) -> str:
    """Go's ``time.Duration.String()`` of whole seconds: ``0s``, ``42s``, ``1m5s``, ``2h0m1s``."""
    if seconds <= 0:
        return "0s"
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m}m{s}s"
    if m:
        return f"{m}m{s}s"
    return f"{s}s"


def _terminal_width(out: IO[str]) -> int:
    """The width of the terminal behind ``out`` (200 when unknown, as docker assumes)."""
    import os

    try:
        return os.get_terminal_size(out.fileno()).columns
    except (AttributeError, OSError, ValueError):
        pass
    import shutil

    return shutil.get_terminal_size((200, 24)).columns


def error_of(message: dict) -> str | None:
    detail = message.get("errorDetail")
    if isinstance(detail, dict) and detail.get("message"):
        return str(detail["message"])
    if message.get("error"):
        return str(message["error"])
    return None


def display(messages: Iterable[dict], out: IO[str], tty: bool = False) -> list[dict]:
    """Show every message as docker's ``DisplayJSONMessagesStream`` does;
    raise :class:`StreamError` on the first error.

    A message with an ``id`` and progress (``progressDetail``, even empty, or
    a pre-rendered ``progress``) owns a line: on a terminal it is redrawn in
    place with cursor moves, and the cursor rests on the line below them
    all. Any other message starts a new block (``pull -a`` across tags).
    Off a terminal, messages carrying a progress bar are left out.

    Returns the ``aux`` payloads seen (image ids of builds, digests of pushes).
    """
    lines: dict[str, int] = {}  # id -> line index in the current block
    aux: list[dict] = []
    width = _terminal_width(out) if tty else 200
    for msg in messages:
        error = error_of(msg)
        if error is not None:
            raise StreamError(error)
        if msg.get("aux") is not None:
            if isinstance(msg["aux"], dict):
                aux.append(msg["aux"])
            continue
        has_progress = isinstance(msg.get("progressDetail"), dict)
        ident = str(msg.get("id") or "")
        diff = 0
        if ident and (has_progress or msg.get("progress")):
            if ident not in lines:
                lines[ident] = len(lines)
                if tty:
                    out.write("\n")
            diff = len(lines) - lines[ident]
            if tty:
                out.write(f"\x1b[{diff}A")
        else:
            lines = {}
        _show(msg, ident, has_progress, out, tty, width)
        if ident and tty and diff:
            out.write(f"\x1b[{diff}B")
        out.flush()
    return aux


def _show(msg: dict, ident: str, has_progress: bool, out: IO[str], tty: bool, width: int) -> None:
    """docker's ``JSONMessage.Display`` of one message."""
    stream = msg.get("stream") or ""
    bar = progress_bar(msg["progressDetail"], width) if has_progress else ""
    endl = ""
    if tty and not stream and has_progress:
        out.write("\x1b[2K\r")
        endl = "\r"
    elif has_progress and bar:
        return  # no progress bars off a terminal
    if ident:
        out.write(f"{ident}: ")
    if msg.get("from"):
        out.write(f"(from {msg['from']}) ")
    status = msg.get("status") or ""
    if has_progress and tty:
        out.write(f"{status} {bar}{endl}")
    elif msg.get("progress"):
        out.write(f"{status} {msg['progress']}{endl}")
    elif stream:
        out.write(f"{stream}{endl}")
    else:
        out.write(f"{status}{endl}\n")
