"""The build context and its Dockerfile, as dockerd finds them (moby's ``remotecontext``).

The context arrives as the request body (a tar, plain or compressed,
spooled to disk as it comes, never held in memory, and indexed:
:class:`barge.builder.archive_context.ContextArchive`), or from
``remote=`` (:mod:`barge.builder.remote`: a downloaded tar, a git clone's
directory, or a lone Dockerfile). The Dockerfile is found inside the
context (``dockerfile=`` resolved within it; ``Dockerfile`` falls back to
``dockerfile``), read and parsed; then it and ``.dockerignore`` leave the
context when ``.dockerignore`` excludes them, as dockerd 20.10 does.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from barge.builder.archive_context import ContextArchive
from barge.builder.sources import SourceRoot
from barge.dockerfile.dockerignore import daemon_removes, read_dockerignore
from barge.dockerfile.parser import Dockerfile, read_dockerfile
from barge.errors import InvalidParameter

DEFAULT_DOCKERFILE = "Dockerfile"
#: A Dockerfile larger than this is refused (dockerd reads it whole too).
MAX_DOCKERFILE = 16 << 20

Files = ContextArchive | SourceRoot


@dataclass
class BuildContext:
    #: the context's files; None for a Dockerfile fetched from a URL: nothing to COPY from (as in dockerd)
    files: Files | None
    dockerfile: Dockerfile
    dockerfile_name: str


def receive(stdin: BinaryIO, dockerfile: str, remote: str, scratch: Path, *,
            progress: Callable[[dict], None], cancel: threading.Event | None = None) -> BuildContext:
    """The context (under ``scratch``) and its Dockerfile, parsed."""
    name = dockerfile or DEFAULT_DOCKERFILE
    files: Files
    has_files = True
    if not remote:
        files = ContextArchive.receive(stdin, scratch)
    else:
        from barge.builder import remote as remote_mod

        fetched = remote_mod.fetch_remote(remote, name, scratch / "remote", progress=progress, cancel=cancel)
        if fetched.tar is not None:
            with open(fetched.tar, "rb") as fh:
                files = ContextArchive.receive(fh, scratch)
            fetched.tar.unlink()
        else:
            assert fetched.directory is not None
            root = scratch / "context"
            os.replace(fetched.directory, root)
            files = SourceRoot(root)
            has_files = remote_mod.is_git_url(remote)
        name = fetched.dockerfile or name
    parsed, name = read_context_dockerfile(files, name)
    remove_excluded_build_files(files, name)
    return BuildContext(files if has_files else None, parsed, name)


def read_context_dockerfile(files: Files, name: str) -> tuple[Dockerfile, str]:
    """moby's ``withDockerfileFromContext``: ``Dockerfile`` falls back to ``dockerfile``."""
    data = files.read(name, MAX_DOCKERFILE)
    if data is None and name == DEFAULT_DOCKERFILE and files.read(name.lower(), MAX_DOCKERFILE) is not None:
        return read_context_dockerfile(files, name.lower())
    if data is None:
        raise InvalidParameter(f"Cannot locate specified Dockerfile: {name}")
    return read_dockerfile(data, name), name


def remove_excluded_build_files(files: Files, dockerfile: str) -> None:
    """dockerd's ``removeDockerfile``: the Dockerfile and .dockerignore go when .dockerignore excludes them."""
    data = files.read(".dockerignore", MAX_DOCKERFILE)
    if data is None:
        return
    for name in daemon_removes(read_dockerignore(data), dockerfile):
        files.remove(name)
