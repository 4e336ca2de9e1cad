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


def progress_bar(detail: dict, width: int = 80) -> str:
    """docker's ``JSONProgress.String()``: ``[====>   ]  12.3MB/45.6MB``."""
    current = int(detail.get("current") or 0)
    total = int(detail.get("total") or 0)
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{units.human_size(current):>8}"
    percentage = min(50, int(current / total * 100) // 2)
    bar = ""
    if width > 110:
        bar = "[" + "=" * percentage + ">" + " " * max(0, 50 - percentage) + "] "
    numbers = f"{units.human_size(current):>8}/{units.human_size(total)}"
    if current > total:
        numbers = f"{units.human_size(current):>8}"
    return bar + numbers


def _terminal_width(out: IO[str]) -> int:
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
    """Show every message; raise :class:`StreamError` on the first error.

    Returns the ``aux`` payloads seen (image ids of builds, digests of pushes).
    """
    lines: dict[str, int] = {}  # id -> line index, for redrawing progress in place
    aux: list[dict] = []
    width = _terminal_width(out) if tty else 80
    for msg in messages:
        error = error_of(msg)
        if error is not None:
            raise StreamError(error)
        if "aux" in msg:
            if isinstance(msg["aux"], dict):
                aux.append(msg["aux"])
            continue
        detail = msg.get("progressDetail") or {}
        bar = progress_bar(detail, width) if detail else (msg.get("progress") or "")
        ident = msg.get("id") or ""
        if not tty:
            if bar:
                continue
            _plain(msg, ident, out)
            continue
        up = 0
        if ident:
            if ident not in lines:
                lines[ident] = len(lines)
                out.write("\n")
            up = len(lines) - lines[ident]
            out.write(f"\x1b[{up}A")
        else:
            lines.clear()
        out.write("\r\x1b[2K")
        if ident:
            out.write(f"{ident}: ")
        if msg.get("stream"):
            out.write(msg["stream"])
        elif bar:
            out.write(f"{msg.get('status', '')} {bar}\r")
        else:
            out.write(f"{msg.get('status', '')}" + ("" if ident else "\n"))
        if ident:
            out.write(f"\x1b[{up}B\r")
        out.flush()
    if tty and lines:
        out.write("\n")
        out.flush()
    return aux


def _plain(msg: dict, ident: str, out: IO[str]) -> None:
    if ident:
        out.write(f"{ident}: ")
    if msg.get("stream"):
        out.write(msg["stream"])
    else:
        out.write(f"{msg.get('status', '')}\n")
    out.flush()
