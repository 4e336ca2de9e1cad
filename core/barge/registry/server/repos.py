"""What each repository sees, as small files under ``repositories/<name>/``::

    _layers/<digest>                         empty: the blob is linked here
    _manifests/revisions/<digest>            the manifest's media type
    _manifests/tags/<tag>                    the digest the tag points to
    _manifests/referrers/<subject>/<digest>  empty: <digest> has that subject

A blob exists for a repository only when it is linked there (pushed or
mounted), and a manifest only when it has a revision; the bytes live once in
the :class:`~.storage.BlobStore`. Names come validated from :mod:`.names`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from barge.registry.server.errors import RegistryError
from barge.registry.server.names import Digest, is_tag, parse_digest
from barge.registry.server.storage import BlobStore, write_atomic


def _entries(folder: Path) -> list[str]:
    try:
        return sorted(e for e in os.listdir(folder) if not e.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _digests(folder: Path) -> list[Digest]:
    out = []
    for entry in _entries(folder):
        try:
            out.append(parse_digest(entry))
        except RegistryError:  # not a digest: a stray file left in the folder
            continue
    return out


class Repos:
    def __init__(self, root: Path, blobs: BlobStore):
        self.root = Path(root) / "repositories"
        self.root.mkdir(parents=True, exist_ok=True)
        self.blobs = blobs

    def dir(self, name: str) -> Path:
        return self.root / name

    def exists(self, name: str) -> bool:
        d = self.dir(name)
        return (d / "_layers").is_dir() or (d / "_manifests").is_dir()

    # -- blob links --------------------------------------------------------

    def link_blob(self, name: str, digest: Digest) -> None:
        folder = self.dir(name) / "_layers"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / str(digest)).touch()

    def blob_size(self, name: str, digest: Digest) -> int | None:
        """The blob's size when it is visible in ``name``, else None."""
        if not (self.dir(name) / "_layers" / str(digest)).exists():
            return None
        return self.blobs.size(digest)

    def unlink_blob(self, name: str, digest: Digest) -> bool:
        try:
            (self.dir(name) / "_layers" / str(digest)).unlink()
            return True
        except FileNotFoundError:
            return False

    def linked_blobs(self, name: str) -> list[Digest]:
        return _digests(self.dir(name) / "_layers")

    # -- manifests ---------------------------------------------------------

    def add_revision(self, name: str, digest: Digest, media_type: str) -> None:
        write_atomic(self.dir(name) / "_manifests" / "revisions" / str(digest), media_type.encode())

    def revision(self, name: str, digest: Digest) -> str | None:
        """The media type of manifest ``digest`` in ``name``, or None."""
        try:
            return (self.dir(name) / "_manifests" / "revisions" / str(digest)).read_text()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def revisions(self, name: str) -> list[Digest]:
        return _digests(self.dir(name) / "_manifests" / "revisions")

    def remove_revision(self, name: str, digest: Digest) -> bool:
        try:
            (self.dir(name) / "_manifests" / "revisions" / str(digest)).unlink()
        except FileNotFoundError:
            return False
        for tag in self.tags(name):
            if self.tag(name, tag) == digest:
                self.remove_tag(name, tag)
        return True

    # -- tags --------------------------------------------------------------

    def set_tag(self, name: str, tag: str, digest: Digest) -> None:
        if not is_tag(tag):
            raise ValueError(f"invalid tag {tag!r}")
        write_atomic(self.dir(name) / "_manifests" / "tags" / tag, str(digest).encode())

    def tag(self, name: str, tag: str) -> Digest | None:
        if not is_tag(tag):
            return None
        try:
            return parse_digest((self.dir(name) / "_manifests" / "tags" / tag).read_text().strip())
        except (FileNotFoundError, NotADirectoryError):
            return None

    def tags(self, name: str) -> list[str]:
        return [t for t in _entries(self.dir(name) / "_manifests" / "tags") if is_tag(t)]

    def remove_tag(self, name: str, tag: str) -> bool:
        if not is_tag(tag):
            return False
        try:
            (self.dir(name) / "_manifests" / "tags" / tag).unlink()
            return True
        except FileNotFoundError:
            return False

    # -- referrers ---------------------------------------------------------

    def add_referrer(self, name: str, subject: Digest, digest: Digest) -> None:
        folder = self.dir(name) / "_manifests" / "referrers" / str(subject)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / str(digest)).touch()

    def referrers(self, name: str, subject: Digest) -> list[Digest]:
        """Manifests of ``name`` whose subject is ``subject`` (and that still exist)."""
        return [d for d in _digests(self.dir(name) / "_manifests" / "referrers" / str(subject))
                if self.revision(name, d) is not None]

    def remove_referrer(self, name: str, subject: Digest, digest: Digest) -> None:
        folder = self.dir(name) / "_manifests" / "referrers" / str(subject)
        (folder / str(digest)).unlink(missing_ok=True)
        try:
            folder.rmdir()
        except OSError:
            pass

    # -- catalog -----------------------------------------------------------

    def catalog(self) -> list[str]:
        """Every repository name, sorted (a directory holding ``_layers`` or ``_manifests``)."""
        names: list[str] = []

        def walk(folder: Path, prefix: str) -> None:
            for entry in _entries(folder):
                if entry.startswith("_"):
                    continue
                path = folder / entry
                if not path.is_dir():
                    continue
                name = f"{prefix}{entry}"
                if self.exists(name):
                    names.append(name)
                walk(path, name + "/")

        walk(self.root, "")
        return sorted(names)

    def remove_if_empty(self, name: str) -> None:
        """Drop a repository left with no blob, manifest or tag (gc)."""
        if self.linked_blobs(name) or self.revisions(name) or self.tags(name):
            return
        for sub in ("_layers", "_manifests"):
            shutil.rmtree(self.dir(name) / sub, ignore_errors=True)
