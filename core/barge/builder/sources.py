"""COPY and ADD sources: paths, wildcards and checksums, read inside their root (moby's ``copier``).

A source root is the build context, an image's files (``COPY --from``) or
a download's directory. A source path is read as moby reads it: relative
to the root whatever its leading ``/`` or ``..`` (``COPY ../x`` is the
context's ``x``), symlinks on the way followed *inside* the root, so no
source ever reads outside it. Wildcards are Go's ``filepath.Match`` over
the root's walk.

Each source gets a checksum, which the cache compares through the step's
command (``COPY file:<sum> in /dest``): a file's is moby's tarsum
(:mod:`barge.builder.tarsum`), a directory's the sha256 of the sorted sums
of everything in it, several sources' one ``multi:`` sum over theirs.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path

from barge.archive.resolve import O_PATH, resolve_in_root
from barge.builder.tarsum import TarHeaders, stat_sum
from barge.dockerfile.dockerignore import go_match
from barge.errors import InvalidParameter


@dataclass(frozen=True)
class CopyInfo:
    """One source: ``path`` inside ``source`` (as written, cleaned), its checksum."""

    source: "SourceRoot"
    path: str
    hash: str
    #: ADD may unpack it when it is a tar (never a downloaded file)
    decompress: bool = True


def contains_wildcards(path: str) -> bool:
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "*?[":
            return True
        i += 1
    return False


def clean_source(path: str) -> str:
    """moby's trimming: no leading ``/`` or ``./``; ``..`` cannot climb above the root."""
    cleaned = posixpath.normpath("/" + path).lstrip("/")
    return "" if cleaned == "." else cleaned


class SourceRoot:
    """A directory read as a source root; nothing else writes to it during the build."""

    def __init__(self, root: Path | str, tar_headers: TarHeaders | None = None):
        self.root = Path(root)
        #: a context received as a tar: its headers (tarsum's); else files are hashed from their stat
        self.tar_headers = tar_headers
        self._hashes: dict[str, str] = {}

    def resolve(self, path: str) -> str:
        """``path`` with its symlinks followed inside the root: a clean relative path."""
        fd = os.open(self.root, O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return resolve_in_root(fd, clean_source(path)).lstrip("/")
        finally:
            os.close(fd)

    def full(self, path: str) -> Path:
        """The host path of a source, resolved inside the root."""
        rel = self.resolve(path)
        return self.root / rel if rel else self.root

    def stat(self, path: str) -> os.stat_result:
        return os.lstat(self.full(path))

    def walk(self, path: str = "") -> list[tuple[str, os.stat_result]]:
        """Everything below ``path`` (resolved; itself excluded), sorted, links not followed."""
        base = self.full(path)
        prefix = self.resolve(path)
        out: list[tuple[str, os.stat_result]] = []

        def visit(directory: Path, rel: str) -> None:
            for name in sorted(os.listdir(directory)):
                child = directory / name
                st = os.lstat(child)
                child_rel = f"{rel}/{name}" if rel else name
                out.append((child_rel, st))
                if stat.S_ISDIR(st.st_mode):
                    visit(child, child_rel)

        if stat.S_ISDIR(os.lstat(base).st_mode):
            visit(base, prefix)
        return out

    def hash(self, path: str) -> str:
        """moby's ``Source.Hash``: the checksum of what ``path`` names once its symlinks are followed."""
        rel = self.resolve(path)
        cached = self._hashes.get(rel)
        if cached is not None:
            return cached
        if self.tar_headers is not None:
            value = self.tar_headers.sum(self.root, rel)
            if value is None:
                value = path  # moby's fallback for a name the tar did not have (an implicit directory)
        else:
            value = stat_sum(self.root, rel)
        self._hashes[rel] = value
        return value


def _not_found(path: str) -> InvalidParameter:
    return InvalidParameter(f"file not found in build context or excluded by .dockerignore: "
                            f"stat {clean_source(path) or '.'}: file does not exist")


def copy_info(source: SourceRoot, path: str) -> CopyInfo:
    """One source path (no wildcards): ``file:<sum>`` or ``dir:<sum>``."""
    full = source.full(path)
    try:
        st = os.stat(full)  # the source itself may be a symlink: what it names counts (inside the root)
    except FileNotFoundError:
        raise _not_found(path) from None
    except OSError as exc:
        raise InvalidParameter(f"source path not found: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        return CopyInfo(source, clean_source(path), "file:" + source.hash(path))
    sums = sorted(source.hash(child) for child, _st in source.walk(path))
    return CopyInfo(source, clean_source(path), "dir:" + hashlib.sha256(",".join(sums).encode()).hexdigest())


def copy_infos(source: SourceRoot, path: str) -> list[CopyInfo]:
    """The sources one COPY/ADD argument names: a path, or every match of a wildcard."""
    cleaned = clean_source(path)
    if not contains_wildcards(cleaned):
        return [copy_info(source, cleaned)]
    out = []
    for rel, _st in source.walk(""):
        if go_match(cleaned, rel):
            out.append(copy_info(source, rel))
    return out


def sources_hash(infos: list[CopyInfo]) -> str:
    """The step's checksum: the source's, or ``multi:`` over all of them."""
    if len(infos) == 1:
        return infos[0].hash
    return "multi:" + hashlib.sha256(",".join(info.hash for info in infos).encode()).hexdigest()
