"""Content-addressed blobs and upload sessions on disk.

Layout under the storage root::

    blobs/<algorithm>/<hex>          the content, named by its digest
    uploads/<uuid>/data              bytes of an upload session so far
    uploads/<uuid>/repo              the repository the session belongs to

A blob becomes visible only by ``rename`` of a complete, fsync'ed,
digest-verified upload file into ``blobs/``: a crash or a dropped connection
mid-upload leaves at most a directory under ``uploads/``, which the server
removes when it starts and ``gc`` removes when it is old. Which repository
may see a blob is :mod:`.repos`' business, not this module's.

The hash of an upload is computed while its bytes are written (one pass); the
running hasher lives in memory with the session. A session whose hasher is
lost (server restarted) or that is closed with another algorithm is hashed
again from its file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from barge.registry.server.errors import RegistryError
from barge.registry.server.names import ALGORITHMS, Digest

#: read size when hashing a file again
_READ = 4 << 20
_UUID_LEN = 36


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: readers see the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{uuidlib.uuid4().hex}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass
class UploadState:
    """The in-memory side of a session: the running sha256 and how far it got."""

    hasher: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    hashed: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class BlobStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.uploads = self.root / "uploads"
        for algorithm in ALGORITHMS:
            (self.blobs / algorithm).mkdir(parents=True, exist_ok=True)
        self.uploads.mkdir(parents=True, exist_ok=True)
        self._states: dict[str, UploadState] = {}

    # -- blobs -------------------------------------------------------------

    def path(self, digest: Digest) -> Path:
        return self.blobs / digest.algorithm / digest.hex

    def size(self, digest: Digest) -> int | None:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def read(self, digest: Digest) -> bytes | None:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            return None

    def all_blobs(self) -> Iterator[Digest]:
        for algorithm, length in ALGORITHMS.items():
            folder = self.blobs / algorithm
            if folder.is_dir():
                for entry in os.scandir(folder):
                    if len(entry.name) == length and entry.is_file():
                        yield Digest(algorithm, entry.name)

    def delete(self, digest: Digest) -> bool:
        try:
            self.path(digest).unlink()
            return True
        except FileNotFoundError:
            return False

    def put_bytes(self, data: bytes, algorithm: str = "sha256") -> Digest:
        """Store ``data`` (a manifest) atomically; return its digest."""
        digest = Digest(algorithm, hashlib.new(algorithm, data).hexdigest())
        if self.size(digest) == len(data):
            return digest
        uid = self.create_upload("")
        with open(self.data_path(uid), "wb") as fh:
            fh.write(data)
        self._publish(uid, digest)
        return digest

    # -- upload sessions ---------------------------------------------------

    def data_path(self, uid: str) -> Path:
        return self.uploads / uid / "data"

    def create_upload(self, repo: str) -> str:
        uid = str(uuidlib.uuid4())
        folder = self.uploads / uid
        folder.mkdir()
        (folder / "repo").write_text(repo)
        self.data_path(uid).touch()
        self._states[uid] = UploadState()
        return uid

    def upload_repo(self, uid: str) -> str | None:
        """The session's repository, or None when there is no such session."""
        if len(uid) != _UUID_LEN or "/" in uid or uid.startswith("."):
            return None
        try:
            return (self.uploads / uid / "repo").read_text()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def upload_size(self, uid: str) -> int:
        try:
            return self.data_path(uid).stat().st_size
        except FileNotFoundError:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": uid}) from None

    def state(self, uid: str) -> UploadState:
        state = self._states.get(uid)
        if state is None:  # a session from before a restart: hash it again when closed
            state = self._states[uid] = UploadState(hashed=-1)
        return state

    def open_append(self, uid: str):
        return open(self.data_path(uid), "ab", buffering=0)

    @staticmethod
    def write_chunk(fh, state: UploadState, data: bytes | bytearray | memoryview) -> None:
        """Append and hash in one pass (runs in a worker thread: hashlib and
        write release the GIL on large buffers)."""
        view = memoryview(data)
        while view:
            n = fh.write(view)
            view = view[n:]
        if state.hashed >= 0:
            state.hasher.update(data)
            state.hashed += len(data)

    def commit(self, uid: str, expected: Digest) -> None:
        """Verify the session's content against ``expected`` and publish it.

        On a mismatch the session is dropped and nothing is stored."""
        path = self.data_path(uid)
        size = path.stat().st_size
        state = self.state(uid)
        if expected.algorithm == "sha256" and state.hashed == size:
            actual = state.hasher.hexdigest()
        else:
            hasher = hashlib.new(expected.algorithm)
            with open(path, "rb") as fh:
                while chunk := fh.read(_READ):
                    hasher.update(chunk)
            actual = hasher.hexdigest()
        if actual != expected.hex:
            self.cancel(uid)
            raise RegistryError("DIGEST_INVALID", detail={"expected": str(expected),
                                                          "actual": f"{expected.algorithm}:{actual}"})
        self._publish(uid, expected)

    def _publish(self, uid: str, digest: Digest) -> None:
        path = self.data_path(uid)
        target = self.path(digest)
        try:
            if target.exists():
                return  # content-addressed: the same bytes are there already
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(path, target)
            fsync_dir(target.parent)
        finally:
            self.cancel(uid)

    def cancel(self, uid: str) -> None:
        self._states.pop(uid, None)
        shutil.rmtree(self.uploads / uid, ignore_errors=True)

    def remove_stale_uploads(self, older_than: float | None = None, dry_run: bool = False) -> list[str]:
        """Drop upload sessions untouched for ``older_than`` seconds (all when None)."""
        removed = []
        now = time.time()
        for entry in os.scandir(self.uploads):
            try:
                mtime = max(entry.stat().st_mtime, os.stat(os.path.join(entry.path, "data")).st_mtime)
            except FileNotFoundError:
                mtime = 0.0
            if older_than is not None and now - mtime < older_than:
                continue
            removed.append(entry.name)
            if not dry_run:
                self._states.pop(entry.name, None)
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
        return removed
