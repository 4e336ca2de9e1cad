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

import errno
import hashlib
import os
import posixpath
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from barge.archive.resolve import O_PATH, resolve_in_root
from barge.builder.tarsum import stat_sum
from barge.dockerfile.dockerignore import go_match
from barge.errors import InvalidParameter


@dataclass(frozen=True)
class CopyInfo:
    """One source: ``path`` inside ``source`` (as written, cleaned), its checksum."""

    source: "SourceRoot"  # or the context's archive until a step copies from it
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

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self._hashes: dict[str, str] = {}

    def resolve(self, path: str) -> str:
        """``path`` with its symlinks followed inside the root: a clean relative path."""
        fd = os.open(self.root, O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            rel = clean_source(path)
            for _ in range(40):  # past a missing part, `..` is taken lexically, as moby's FollowSymlinkInScope
                resolved = resolve_in_root(fd, rel).lstrip("/")
                cleaned = clean_source(resolved)
                if cleaned == resolved:
                    return resolved
                rel = cleaned
            return rel
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            return clean_source(path)  # a symlink loop: the name as written, which names nothing
        finally:
            os.close(fd)

    def full(self, path: str) -> Path:
        """The host path of a source, resolved inside the root."""
        rel = self.resolve(path)
        return self.root / rel if rel else self.root

    def stat(self, path: str) -> os.stat_result:
        return os.lstat(self.full(path))

    def walk(self, path: str = "") -> list[tuple[str, str]]:
        """Everything below ``path`` (resolved; itself excluded): (path, "dir" or "file"), sorted, links not followed."""
        base = self.full(path)
        prefix = self.resolve(path)
        out: list[tuple[str, str]] = []

        def visit(directory: Path, rel: str) -> None:
            for name in sorted(os.listdir(directory)):
                child = directory / name
                is_dir = stat.S_ISDIR(os.lstat(child).st_mode)
                child_rel = f"{rel}/{name}" if rel else name
                out.append((child_rel, "dir" if is_dir else "file"))
                if is_dir:
                    visit(child, child_rel)

        try:
            if stat.S_ISDIR(os.lstat(base).st_mode):
                visit(base, prefix)
        except (FileNotFoundError, NotADirectoryError):
            pass
        return out

    def kind_of(self, path: str) -> str | None:
        """What ``path`` names once its links are followed: "dir", "file", or None."""
        try:
            st = os.stat(self.full(path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return None
            raise InvalidParameter(f"source path not found: {exc.strerror}") from None
        return "dir" if stat.S_ISDIR(st.st_mode) else "file"

    def read(self, path: str, limit: int) -> bytes | None:
        """A regular file's content (the Dockerfile, .dockerignore); None when absent or not a file."""
        rel = self.resolve(path)
        if not rel:
            return None
        try:
            fd = os.open(self.root / rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise InvalidParameter(f"failed to open {path}: {exc.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise InvalidParameter(f"the Dockerfile ({path}) is larger than {limit >> 20} MB")
        return data

    def remove(self, path: str) -> None:
        """Leave a build file out (dockerd's removeDockerfile)."""
        rel = self.resolve(path)
        target = self.root / rel
        if rel and (target.is_symlink() or target.is_file()):
            target.unlink()
        elif rel and target.is_dir():
            shutil.rmtree(target)

    def materialize(self, path: str = "") -> "SourceRoot":
        """Already on disk."""
        return self

    def hash(self, path: str) -> str:
        """moby's ``Source.Hash``: the checksum of what ``path`` names once its symlinks are followed."""
        rel = self.resolve(path)
        cached = self._hashes.get(rel)
        if cached is None:
            try:
                cached = self._hashes[rel] = stat_sum(self.root, rel)
            except (FileNotFoundError, NotADirectoryError):
                return path  # a link to nothing: moby leaves it out; its name stands in, as for the archive
        return cached


def _not_found(path: str) -> InvalidParameter:
    return InvalidParameter(f"file not found in build context or excluded by .dockerignore: "
                            f"stat {clean_source(path) or '.'}: file does not exist")


def copy_info(source, path: str) -> CopyInfo:
    """One source path (no wildcards): ``file:<sum>`` or ``dir:<sum>``. ``source`` is a
    :class:`SourceRoot` or a :class:`barge.builder.archive_context.ContextArchive`."""
    kind = source.kind_of(path)  # the source itself may be a symlink: what it names counts (inside the root)
    if kind is None:
        raise _not_found(path)
    if kind != "dir":
        return CopyInfo(source, clean_source(path), "file:" + source.hash(path))
    sums = sorted(source.hash(child) for child, _kind in source.walk(path))
    return CopyInfo(source, clean_source(path), "dir:" + hashlib.sha256(",".join(sums).encode()).hexdigest())


def copy_infos(source, path: str) -> list[CopyInfo]:
    """The sources one COPY/ADD argument names: a path, or every match of a wildcard."""
    cleaned = clean_source(path)
    if not contains_wildcards(cleaned):
        return [copy_info(source, cleaned)]
    out = []
    for rel, _kind in source.walk(""):
        if go_match(cleaned, rel):
            out.append(copy_info(source, rel))
    return out


def sources_hash(infos: list[CopyInfo]) -> str:
    """The step's checksum: the source's, or ``multi:`` over all of them."""
    if len(infos) == 1:
        return infos[0].hash
    return "multi:" + hashlib.sha256(",".join(info.hash for info in infos).encode()).hexdigest()
