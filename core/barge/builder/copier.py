"""COPY and ADD into a layer's root, as the classic builder copies (moby's ``performCopyForInfo``).

- a directory's contents go into the destination (created 0755 when
  missing); a file goes to the destination path, or into it when the
  destination ends with ``/`` or is a directory;
- missing parents are made 0755; everything copied is owned by root, by
  ``--chown``'s user and group (names read from the image's
  ``/etc/passwd`` and ``/etc/group``), or keeps its owner for
  ``COPY --from`` without ``--chown``; modes and times are kept;
- ADD unpacks a local tar (plain, gzip, bzip2, xz) into the destination,
  owners as in the tar; a downloaded file is never unpacked.

Entries are written as a tar stream through :func:`barge.archive.apply_layer`
into the root, which resolves every path inside it: a symlink in the image
cannot carry a write outside it.
"""

from __future__ import annotations

import io
import itertools
import os
import posixpath
import stat
import time
from pathlib import Path
from typing import Iterator

from barge.archive import reader as tr
from barge.archive.apply import apply_layer
from barge.archive.pack import BLOCK, EntryWriter, header
from barge.archive.resolve import O_PATH, resolve_in_root
from barge.archive.stream import IterReader
from barge.builder.sources import CopyInfo
from barge.containers.users import parse_group, parse_passwd, read_file_in_root
from barge.errors import InvalidParameter
from barge.graph.compression import decompressed

Owner = tuple[int, int]


def normalize_dest(workdir: str, dest: str) -> str:
    """A relative destination is under WORKDIR; a trailing ``/`` is kept."""
    if dest.startswith("/"):
        return dest
    joined = posixpath.normpath(posixpath.join("/", workdir or "/", dest))
    return joined + "/" if dest.endswith("/") and joined != "/" else joined


def parse_chown(spec: str, root: Path) -> Owner:
    """``--chown=user[:group]`` as moby reads it: names from the image, a lone user is also the group."""
    parts = spec.split(":")
    if len(parts) > 2:
        raise InvalidParameter("invalid chown string format: " + spec)
    user, group = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    prefix = "unable to convert uid/gid chown string to host mapping: "
    try:
        uid = _lookup(user, read_file_in_root(str(root), "/etc/passwd"), parse_passwd, "user")
    except InvalidParameter as exc:
        raise InvalidParameter(f"{prefix}can't find uid for user {user}: {exc}") from None
    try:
        gid = _lookup(group, read_file_in_root(str(root), "/etc/group"), parse_group, "group")
    except InvalidParameter as exc:
        raise InvalidParameter(f"{prefix}can't find gid for group {group}: {exc}") from None
    return uid, gid


def _lookup(name: str, text: str | None, parse, kind: str) -> int:
    if name.lstrip("-").isdigit():
        return int(name)
    if text is None:
        raise InvalidParameter(f"open /etc/{'passwd' if kind == 'user' else 'group'}: no such file or directory")
    for record in parse(text):
        if record.name == name:
            return record.uid if kind == "user" else record.gid
    raise InvalidParameter(f"no such {kind}: {name}")


def is_archive(path: Path) -> bool:
    """moby's ``isArchivePath``: it decompresses and reads as a tar."""
    try:
        with open(path, "rb") as fh:
            stream = decompressed(fh)
            head = stream.read(BLOCK)
    except (OSError, EOFError, InvalidParameter, ValueError):
        return False
    if len(head) < BLOCK:
        return False
    try:
        reader = tr.TarReader(io.BytesIO(head + b"\0" * BLOCK * 2))
        return next(iter(reader), None) is not None
    except Exception:  # noqa: BLE001 - anything the tar reader refuses is "not an archive"
        return False


class Copier:
    """Copies sources into ``root`` (a mounted layer nothing else uses meanwhile)."""

    def __init__(self, root: Path, owner: Owner | None):
        self.root = root
        self.owner = owner  # None: keep the sources' owners (COPY --from without --chown)
        self._root_fd = os.open(root, O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        os.close(self._root_fd)

    def _resolved(self, path: str) -> str:
        return resolve_in_root(self._root_fd, path).lstrip("/")

    def _lstat(self, rel: str) -> os.stat_result | None:
        try:
            return os.lstat(self.root / rel) if rel else os.lstat(self.root)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def copy(self, info: CopyInfo, dest: str, allow_decompress: bool) -> None:
        src = info.source.full(info.path)
        st = os.stat(src)
        dest_rel = self._resolved(dest)
        if stat.S_ISDIR(st.st_mode):
            self._apply(self._directory(info, dest_rel))
            return
        if allow_decompress and info.decompress and is_archive(src):
            self._untar(src, dest_rel)
            return
        existing = self._lstat(dest_rel)
        if dest.endswith("/") or (existing is not None and stat.S_ISDIR(existing.st_mode)):
            dest_rel = posixpath.join(dest_rel, posixpath.basename(info.path) or "file")
            dest_rel = self._resolved(dest_rel)
        self._apply(self._file(src, st, dest_rel))

    def _apply(self, entries: Iterator[bytes]) -> None:
        stream = io.BufferedReader(IterReader(entries), buffer_size=1 << 20)
        try:
            apply_layer(stream, self.root, whiteouts=None)
        finally:
            stream.close()

    def _parents(self, rel: str) -> Iterator[bytes]:
        """Entries for the missing directories above ``rel``: 0755, the copy's owner (root if kept)."""
        missing = []
        parent = posixpath.dirname(rel)
        while parent and self._lstat(parent) is None:
            missing.append(parent)
            parent = posixpath.dirname(parent)
        uid, gid = self.owner or (0, 0)
        for directory in reversed(missing):
            yield header(directory + "/", b"5", 0o755, uid, gid, mtime=int(time.time()))

    def _directory(self, info: CopyInfo, dest_rel: str) -> Iterator[bytes]:
        yield from self._parents(dest_rel) if dest_rel else iter(())
        if dest_rel and self._lstat(dest_rel) is None:
            uid, gid = self.owner or (0, 0)
            yield header(dest_rel + "/", b"5", 0o755, uid, gid, mtime=int(time.time()))
        source = info.source
        base = source.resolve(info.path)
        writer = EntryWriter(str(source.root), overlay=False, owner=self.owner)
        cut = len(base) + 1 if base else 0
        for rel, _kind in source.walk(info.path):
            name = posixpath.join(dest_rel, rel[cut:]) if dest_rel else rel[cut:]
            yield from writer.entry(rel, name=name)
        yield b"\0" * (2 * BLOCK)

    def _file(self, src: Path, st: os.stat_result, dest_rel: str) -> Iterator[bytes]:
        if not dest_rel:
            raise InvalidParameter("cannot copy a file over the root directory")
        yield from self._parents(dest_rel)
        writer = EntryWriter(str(src.parent), overlay=False, owner=self.owner)
        yield from writer.entry(src.name, st, name=dest_rel)
        yield b"\0" * (2 * BLOCK)

    def _untar(self, src: Path, dest_rel: str) -> None:
        if dest_rel:
            self._apply(itertools.chain(self._parents(dest_rel + "/x"), [b"\0" * (2 * BLOCK)]))
            if self._lstat(dest_rel) is None:
                os.mkdir(self.root / dest_rel, 0o755)
        with open(src, "rb") as fh:
            apply_layer(decompressed(fh), self.root / dest_rel if dest_rel else self.root, whiteouts=None)
