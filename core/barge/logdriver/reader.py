"""Reading a file-backed log back (``docker logs``): its rotations, tail, since/until, follow.

Works for any driver with a :class:`~barge.logdriver.base.FileFormat`
(json-file, local, and the local-format cache of dual logging). Rotated
files are read oldest first, gzipped ones decompressed; ``tail`` counts
records before the stream filter, as Docker does. A follower keeps the
file it reads open, so a rotation never loses what was written before it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from barge.logdriver.base import Entry, FileFormat
from barge.logdriver.logfile import read_rotated, rotations
from barge.timefmt import parse_rfc3339

if TYPE_CHECKING:
    from barge.contracts.containers import LogOptions


class FileLogReader:
    """Entries of one container's log, then (``follow``) the ones written later."""

    def __init__(self, path: str | Path, fmt: FileFormat, opts: "LogOptions"):
        self.path = Path(path)
        self.format = fmt
        self.opts = opts
        self._fh: BinaryIO | None = None
        self._ino: int | None = None
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

    def _filter(self, entries: list[Entry]) -> list[Entry]:
        out = []
        for e in entries:
            if self._past_until(e):
                self.done = True
                break
            if self._wanted(e):
                out.append(e)
        return out

    def _open_current(self) -> bytes:
        """Open the live file, leave it after its last complete record, return what precedes that."""
        try:
            fh = self._fh = open(self.path, "rb")
        except FileNotFoundError:
            return b""
        self._ino = os.fstat(fh.fileno()).st_ino
        content = fh.read()
        _, used = self.format.decode(content)
        fh.seek(used)
        return content[:used]

    def initial(self) -> list[Entry]:
        """What the log holds now (tail/since/until applied); positions the follower at its end."""
        older = rotations(self.path)
        chunks = [self._open_current()]
        tail = self.opts.tail
        if tail >= 0:
            start, found = self.format.tail_offset(chunks[0], tail)
            chunks[0] = chunks[0][start:]
            for path in reversed(older):
                if found >= tail:
                    break
                data = read_rotated(path)
                start, more = self.format.tail_offset(data, tail - found)
                chunks.insert(0, data[start:])
                found += more
        else:
            chunks[:0] = [read_rotated(p) for p in older]
        entries: list[Entry] = []
        for data in chunks:
            entries += self.format.decode(data)[0]
        return self._filter(entries)

    def poll(self) -> list[Entry]:
        """Entries written since the last call (follow); handles a rotation in between."""
        out: list[Entry] = []
        while not self.done:
            if self._fh is None:
                try:
                    fh = self._fh = open(self.path, "rb")
                except FileNotFoundError:
                    return out
                self._ino = os.fstat(fh.fileno()).st_ino
                self._buf = b""
            out += self._read_more()
            try:
                ino = os.stat(self.path).st_ino
            except FileNotFoundError:
                return out
            if ino == self._ino:
                return out
            # rotated: the file we hold was renamed; read what reached it since, then move on
            out += self._read_more()
            self.close()
        return out

    def _read_more(self) -> list[Entry]:
        assert self._fh is not None
        data = self._fh.read()
        if not data or self.done:
            return []
        self._buf += data
        entries, used = self.format.decode(self._buf)
        self._buf = self._buf[used:]
        return self._filter(entries)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
