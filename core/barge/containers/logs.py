"""Reading a container's json-file log: its rotations, tail, since/until, follow.

The monitor writes one JSON object per line, ``{"log": ..., "stream":
"stdout"|"stderr", "time": RFC3339Nano}``, and rotates ``<path>`` to
``<path>.1`` (older ones shift to ``.2`` ...). ``tail`` counts raw lines
before the stream filter, as Docker does. A follower keeps the file it
reads open, so a rotation never loses the lines written before it.
"""

from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from barge.contracts.containers import LogOptions
from barge.timefmt import parse_rfc3339

BLOCK = 64 << 10


@dataclass
class Entry:
    stream: str
    data: bytes
    time: str

    def render(self, timestamps: bool) -> bytes:
        if not timestamps:
            return self.data
        return fixed_nano(self.time).encode() + b" " + self.data


def fixed_nano(value: str) -> str:
    """RFC3339Nano with exactly nine fraction digits (Docker's ``RFC3339NanoFixed``)."""
    if "T" not in value:
        return value
    head, zone = value, ""
    for sep in ("Z", "+", "-"):
        idx = value.rfind(sep)
        if idx > value.index("T"):
            head, zone = value[:idx], value[idx:]
            break
    base, _, frac = head.partition(".")
    return f"{base}.{(frac + '000000000')[:9]}{zone}"


def parse_line(line: bytes) -> Entry | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    return Entry(str(obj.get("stream", "stdout")), str(obj.get("log", "")).encode("utf-8", "surrogateescape"),
                 str(obj.get("time", "")))


def rotations(path: Path) -> list[Path]:
    """The log's files, oldest first: ``<path>.N`` ... ``<path>.1``, ``<path>``."""
    numbered = []
    parent = path.parent
    if parent.is_dir():
        prefix = path.name + "."
        for entry in parent.iterdir():
            suffix = entry.name[len(prefix):] if entry.name.startswith(prefix) else ""
            if suffix.isdigit():
                numbered.append((int(suffix), entry))
    out = [p for _, p in sorted(numbered, reverse=True)]
    if path.exists():
        out.append(path)
    return out


def _reverse_lines(path: Path) -> Iterator[bytes]:
    """Complete (newline-terminated) lines of a file, last first, reading blocks from the end."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return
    with fh:
        pos = fh.seek(0, os.SEEK_END)
        rest = None  # bytes after the last newline seen so far, going backwards
        while pos > 0:
            step = min(BLOCK, pos)
            pos -= step
            fh.seek(pos)
            chunk = fh.read(step)
            if rest is None:
                cut = chunk.rfind(b"\n")
                if cut < 0:
                    continue  # still inside a partial last line
                chunk, rest = chunk[:cut], b""
            chunk += rest
            lines = chunk.split(b"\n")
            rest = lines.pop(0)
            for line in reversed(lines):
                if line:
                    yield line
        if rest:
            yield rest


class LogReader:
    """Entries of one container's log, then (``follow``) the ones written later."""

    def __init__(self, path: str | Path, opts: LogOptions):
        self.path = Path(path)
        self.opts = opts
        self._fh = None
        self._ino = None
        self._buf = b""
        self.done = False  # past ``until``

    def _wanted(self, e: Entry) -> bool:
        if e.stream == "stdout" and not self.opts.stdout:
            return False
        if e.stream == "stderr" and not self.opts.stderr:
            return False
        if self.opts.since and parse_rfc3339(e.time) < self.opts.since:
            return False
        return True

    def _past_until(self, e: Entry) -> bool:
        return bool(self.opts.until) and parse_rfc3339(e.time) > self.opts.until

    def initial(self) -> list[Entry]:
        """What the log holds now (tail/since/until applied); positions the follower at its end."""
        files = rotations(self.path)
        if self.path.exists():
            self._fh = open(self.path, "rb")
            self._ino = os.fstat(self._fh.fileno()).st_ino
            end = self._fh.seek(0, os.SEEK_END)
            # the follower starts after the last complete line
            self._fh.seek(0)
            content = self._fh.read(end)
            cut = content.rfind(b"\n") + 1
            self._fh.seek(cut)
            current_lines = content[:cut].split(b"\n")[:-1] if cut else []
        else:
            current_lines = []
        raw: list[bytes]
        if self.opts.tail >= 0:
            picked: deque[bytes] = deque()
            for line in reversed(current_lines):
                if len(picked) >= self.opts.tail:
                    break
                if line:
                    picked.appendleft(line)
            for older in reversed(files[:-1] if self.path.exists() else files):
                if len(picked) >= self.opts.tail:
                    break
                for line in _reverse_lines(older):
                    if len(picked) >= self.opts.tail:
                        break
                    picked.appendleft(line)
            raw = list(picked)
        else:
            raw = []
            for older in files[:-1] if self.path.exists() else files:
                with open(older, "rb") as fh:
                    raw.extend(line for line in fh.read().split(b"\n") if line)
            raw.extend(line for line in current_lines if line)
        out = []
        for line in raw:
            e = parse_line(line)
            if e is None:
                continue
            if self._past_until(e):
                self.done = True
                break
            if self._wanted(e):
                out.append(e)
        return out

    def poll(self) -> list[Entry]:
        """Entries written since the last call (follow); handles a rotation in between."""
        out: list[Entry] = []
        if self.done:
            return out
        while True:
            if self._fh is None:
                try:
                    self._fh = open(self.path, "rb")
                except FileNotFoundError:
                    return out
                self._ino = os.fstat(self._fh.fileno()).st_ino
                self._buf = b""
            data = self._fh.read()
            if data:
                self._buf += data
                *lines, self._buf = self._buf.split(b"\n")
                for line in lines:
                    e = parse_line(line) if line else None
                    if e is None:
                        continue
                    if self._past_until(e):
                        self.done = True
                        return out
                    if self._wanted(e):
                        out.append(e)
            try:
                ino = os.stat(self.path).st_ino
            except FileNotFoundError:
                return out
            if ino == self._ino:
                return out
            # rotated: what we hold was renamed, finish it (done above) and move on
            self._fh.close()
            self._fh = None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class LogSession:
    """A ``logs`` request (:class:`barge.contracts.containers.LogSession`): the reader, the
    container's Tty (the stream's framing), and whether it still runs (a follower ends with it)."""

    def __init__(self, reader: LogReader, tty: bool, running: Callable[[], bool]):
        self.reader = reader
        self.tty = tty
        self._running = running

    @property
    def done(self) -> bool:
        return self.reader.done

    def initial(self) -> list[Entry]:
        return self.reader.initial()

    def poll(self) -> list[Entry]:
        return self.reader.poll()

    def running(self) -> bool:
        return self._running()

    def close(self) -> None:
        self.reader.close()
