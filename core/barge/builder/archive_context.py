"""A context received as a tar: spooled as it arrives, indexed, unpacked only when a step copies from it.

Unpacking thousands of small files is most of a cached rebuild's cost, and
a cached step needs only the sources' checksums, which moby computes from
the tar as it goes by (tarsum). So the tar is written to one spool file
while its headers are checked and its members hashed; paths are resolved,
walked and matched on the index (symlinks followed inside the context, as
on disk); the first COPY or ADD that misses the cache unpacks the spool
with :func:`barge.archive.apply_layer` into the context directory, which
keeps every entry inside it.
"""

from __future__ import annotations

import io
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from barge.archive import reader as tr
from barge.archive.apply import apply_layer, clean_name
from barge.archive.errors import ArchiveError
from barge.builder.sources import SourceRoot
from barge.builder.tarsum import header_hasher
from barge.errors import InvalidParameter, NoSpace, is_no_space, no_space_text
from barge.graph.compression import decompressed

MAXSYMLINKS = 40
DIR, FILE, LINK = "dir", "file", "link"


@dataclass
class Entry:
    header: tr.Header
    sum: str
    offset: int  # of its data in the spool

    @property
    def kind(self) -> str:
        if self.header.type == tr.DIRTYPE:
            return DIR
        if self.header.type == tr.SYMTYPE:
            return LINK
        return FILE


class _Tee(io.RawIOBase):
    """Reads from ``source``, writing everything read to ``spool``."""

    def __init__(self, source: BinaryIO, spool: BinaryIO):
        self.source = source
        self.spool = spool
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.source.read(len(b))
        if not data:
            return 0
        n = len(data)
        b[:n] = data
        self.spool.write(data)
        self.count += n
        return n


class ContextArchive:
    def __init__(self, spool: Path, root: Path, entries: dict[str, Entry]):
        self.spool = spool
        self.root = root
        self.entries = entries
        self.dirs = {""}
        for rel in entries:
            parts = rel.split("/")
            for depth in range(1, len(parts)):
                self.dirs.add("/".join(parts[:depth]))
        self.removed: list[str] = []
        self.unpacked: set[str] = set()
        self._disk: SourceRoot | None = None

    @classmethod
    def receive(cls, stream: BinaryIO, scratch: Path) -> "ContextArchive":
        """Spool and index an untrusted context tar (maybe compressed); bad names are refused here."""
        spool = scratch / "context.tar"
        entries: dict[str, Entry] = {}
        try:
            with open(spool, "wb") as fh:
                tee = _Tee(decompressed(stream), fh)
                reader = tr.TarReader(io.BufferedReader(tee, buffer_size=1 << 20))
                for h in reader:
                    rel = clean_name(h.name)
                    if h.type == tr.LNKTYPE:
                        clean_name(h.linkname)
                    offset = tee.count - reader.buffered
                    digest = header_hasher(h)
                    if h.type == b"0" and h.size:
                        reader.feed_to(digest.update, h.size)
                    if rel:
                        entries[rel] = Entry(h, digest.hexdigest(), offset)
        except ArchiveError as exc:
            raise InvalidParameter(f"failed to read the build context: {exc}") from None
        except EOFError as exc:
            raise InvalidParameter(f"failed to read the build context: unexpected end of stream ({exc})") from None
        except OSError as exc:
            if is_no_space(exc):  # the spool's write: name it (the error has no file name)
                raise NoSpace(f"failed to receive the build context: write {spool}: {no_space_text(exc.errno)}") from exc
            raise
        return cls(spool, scratch / "context", entries)

    # -- the index as a file system --------------------------------------

    def kind(self, rel: str) -> str | None:
        entry = self.entries.get(rel)
        if entry is not None:
            return entry.kind
        return DIR if rel in self.dirs else None

    def resolve(self, path: str) -> str:
        """``path`` with its symlinks followed inside the context (missing parts kept as written)."""
        todo = [p for p in posixpath.normpath("/" + path).split("/") if p]  # cleaned first, as moby does
        done: list[str] = []
        hops = 0
        while todo:
            part = todo.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            if done and self.kind("/".join(done)) in (FILE, LINK):  # through a file: nothing (past a missing part, lexical)
                return "/".join(done + [part] + todo)
            candidate = "/".join(done + [part])
            entry = self.entries.get(candidate)
            if entry is not None and entry.kind == LINK:
                hops += 1
                if hops > MAXSYMLINKS:  # a loop: the name as written, which names nothing (as on disk)
                    return "/".join(p for p in posixpath.normpath("/" + path).split("/") if p)
                link = entry.header.linkname
                if link.startswith("/"):
                    done = []
                todo[:0] = [p for p in link.split("/") if p not in ("", ".")]
                continue
            done.append(part)
        return "/".join(done)

    def walk(self, path: str = "") -> list[tuple[str, str]]:
        """Everything below ``path`` (resolved): (relative path, kind), sorted, links not followed."""
        base = self.resolve(path)
        if self.kind(base) != DIR:
            return []
        prefix = base + "/" if base else ""
        names = {rel for rel in self.entries if rel.startswith(prefix)} | {d for d in self.dirs if d and d.startswith(prefix)}
        return [(rel, self.kind(rel) or DIR) for rel in sorted(names)]

    def kind_of(self, path: str) -> str | None:
        """What ``path`` names once followed: dir, file, or None."""
        kind = self.kind(self.resolve(path))
        return None if kind == LINK else kind

    def hash(self, path: str) -> str:
        entry = self.entries.get(self.resolve(path))
        return entry.sum if entry is not None else path  # moby's fallback for a name the tar did not have

    def read(self, path: str, limit: int) -> bytes | None:
        """A regular file's content (the Dockerfile, .dockerignore), read from the spool; None when absent."""
        entry = self.entries.get(self.resolve(path))
        if entry is not None and entry.header.type == tr.LNKTYPE:
            entry = self.entries.get(clean_name(entry.header.linkname))
        if entry is None or entry.kind != FILE:
            return None
        if entry.header.size > limit:
            raise InvalidParameter(f"the Dockerfile ({path}) is larger than {limit >> 20} MB")
        with open(self.spool, "rb") as fh:
            fh.seek(entry.offset)
            return fh.read(entry.header.size)

    def remove(self, path: str) -> None:
        """Leave a build file out of the context (dockerd's removeDockerfile), with what is under it."""
        rel = self.resolve(path)
        for name in [n for n in self.entries if n == rel or n.startswith(rel + "/")]:
            del self.entries[name]
        self.removed.append(rel)

    # -- on disk, when a step copies -------------------------------------

    def materialize(self, path: str = "") -> SourceRoot:
        """The files of source ``path`` unpacked (once each; "" for the whole context), so a COPY of a few
        files does not unpack thousands; the removed build files never are."""
        rel = self.resolve(path)
        needed = {rel} | {child for child, _ in self.walk(path)} if rel else set(self.entries)
        needed |= {name for name, entry in self.entries.items() if entry.kind == LINK}  # paths resolve on disk too
        for name in list(needed):
            entry = self.entries.get(name)
            if entry is not None and entry.header.type == tr.LNKTYPE:
                needed.add(clean_name(entry.header.linkname))
        needed = {name for name in needed if name in self.entries} - self.unpacked
        if needed:
            self.root.mkdir(parents=True, exist_ok=True)

            def wanted(h: tr.Header) -> bool:
                try:
                    return clean_name(h.name) in needed
                except ArchiveError:
                    return False

            with open(self.spool, "rb") as fh:
                try:
                    apply_layer(fh, self.root, whiteouts=None, select=wanted)
                except ArchiveError as exc:
                    raise InvalidParameter(f"failed to read the build context: {exc}") from None
                except NoSpace as exc:
                    raise NoSpace.wrap("failed to unpack the build context", exc) from exc
            self.unpacked |= needed
        if self._disk is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._disk = SourceRoot(self.root)
        return self._disk
