"""The build context: received into a private directory, and its Dockerfile read (moby's ``remotecontext``).

The context arrives as the request body (a tar, plain or compressed,
streamed to disk as it comes: never held in memory), or from ``remote=``
(:mod:`barge.builder.remote`). It is unpacked with
:func:`barge.archive.apply_layer`, which keeps every entry inside the
directory whatever its name or the links before it. The Dockerfile is found
inside the context (``dockerfile=`` resolved within it, ``Dockerfile`` or
``dockerfile`` by default), read and parsed; then it and ``.dockerignore``
are removed when ``.dockerignore`` excludes them, as dockerd 20.10 does.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from barge.archive.apply import apply_layer
from barge.archive.errors import ArchiveError
from barge.archive.resolve import O_PATH, resolve_in_root
from barge.builder.tarsum import TarHeaders
from barge.dockerfile.dockerignore import daemon_removes, read_dockerignore
from barge.dockerfile.parser import Dockerfile, read_dockerfile
from barge.errors import InvalidParameter
from barge.graph.compression import decompressed

DEFAULT_DOCKERFILE = "Dockerfile"
#: A Dockerfile larger than this is refused (dockerd reads it whole too).
MAX_DOCKERFILE = 16 << 20


@dataclass
class BuildContext:
    root: Path
    dockerfile: Dockerfile
    dockerfile_name: str
    #: False for a Dockerfile fetched from a URL: there is no context to COPY from (as in dockerd)
    has_files: bool = True
    #: a context received as a tar: its headers, for moby's checksums (None: a directory, hashed from stat)
    tar_headers: TarHeaders | None = None


class _Counting:
    """Counts what is read, so an empty body is told apart from an empty tar."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.count += len(data)
        return data

    def readinto(self, b) -> int:
        n = self.stream.readinto(b)
        self.count += n or 0
        return n or 0

    def readable(self) -> bool:
        return True


def unpack(stream: BinaryIO, root: Path) -> TarHeaders:
    """An untrusted context tar (maybe compressed) into ``root``; nothing lands outside it."""
    root.mkdir(parents=True, exist_ok=True)
    counting = _Counting(stream)
    headers = TarHeaders()
    try:
        apply_layer(decompressed(counting), root, whiteouts=None, observe=headers.observe)  # type: ignore[arg-type]
    except ArchiveError as exc:
        raise InvalidParameter(f"failed to read the build context: {exc}") from None
    except EOFError as exc:
        raise InvalidParameter(f"failed to read the build context: unexpected end of stream ({exc})") from None
    return headers


def receive(stdin: BinaryIO, dockerfile: str, remote: str, scratch: Path, *,
            progress: Callable[[dict], None], cancel: threading.Event | None = None) -> BuildContext:
    """The context in ``scratch/context`` and its Dockerfile, parsed."""
    root = scratch / "context"
    name = dockerfile or DEFAULT_DOCKERFILE
    has_files = True
    headers: TarHeaders | None = None
    if not remote:
        headers = unpack(stdin, root)
    else:
        from barge.builder import remote as remote_mod

        fetched = remote_mod.fetch_remote(remote, name, scratch / "remote", progress=progress, cancel=cancel)
        if fetched.tar is not None:
            with open(fetched.tar, "rb") as fh:
                headers = unpack(fh, root)
            fetched.tar.unlink()
        elif fetched.directory is not None:
            os.replace(fetched.directory, root)
            has_files = remote_mod.is_git_url(remote)
        name = fetched.dockerfile or name
    parsed, name = read_context_dockerfile(root, name)
    remove_excluded_build_files(root, name)
    return BuildContext(root, parsed, name, has_files, headers)


def _read_in_root(root: Path, name: str) -> bytes | None:
    fd = os.open(root, O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        rel = resolve_in_root(fd, name).lstrip("/")
    finally:
        os.close(fd)
    if not rel:
        return None
    try:
        fh = os.open(root / rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise InvalidParameter(f"failed to open the Dockerfile {name}: {exc.strerror}") from None
    try:
        if not os.path.isfile(f"/proc/self/fd/{fh}"):
            raise InvalidParameter(f"the Dockerfile ({name}) is not a regular file")
        data = os.read(fh, MAX_DOCKERFILE + 1)
        chunks = [data]
        while data:
            data = os.read(fh, 1 << 20)
            chunks.append(data)
            if sum(map(len, chunks)) > MAX_DOCKERFILE:
                raise InvalidParameter(f"the Dockerfile ({name}) is larger than {MAX_DOCKERFILE >> 20} MB")
        return b"".join(chunks)
    finally:
        os.close(fh)


def read_context_dockerfile(root: Path, name: str) -> tuple[Dockerfile, str]:
    """moby's ``withDockerfileFromContext``: ``Dockerfile`` falls back to ``dockerfile``."""
    data = _read_in_root(root, name)
    if data is None and name == DEFAULT_DOCKERFILE and _read_in_root(root, name.lower()) is not None:
        return read_context_dockerfile(root, name.lower())
    if data is None:
        raise InvalidParameter(f"Cannot locate specified Dockerfile: {name}")
    return read_dockerfile(data, name), name


def remove_excluded_build_files(root: Path, dockerfile: str) -> None:
    """dockerd's ``removeDockerfile``: the Dockerfile and .dockerignore go when .dockerignore excludes them."""
    data = _read_in_root(root, ".dockerignore")
    if data is None:
        return
    excludes = read_dockerignore(data)
    fd = os.open(root, O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in daemon_removes(excludes, dockerfile):
            rel = resolve_in_root(fd, name).lstrip("/")
            path = root / rel
            if rel and (path.is_file() or path.is_symlink()):
                path.unlink()
            elif rel and path.is_dir():
                shutil.rmtree(path)
    finally:
        os.close(fd)
