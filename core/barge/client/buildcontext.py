"""Where a build's context comes from, as the docker CLI 28's ``runBuild``
tells them apart, and what of it is sent.

``-`` is stdin: a tar, compressed or not, goes as it is; anything else is a
Dockerfile, sent as a one-file tar. A local directory is tarred by
:mod:`barge.client.contexttar` after its ``.dockerignore``. A git URL is
cloned here (:mod:`barge.client.gitcontext`), then is a directory; an
http(s) URL is downloaded here, then read as stdin would be. The CLI never
lets the daemon fetch a context (``remote=`` stays unsent), and neither
does barge. ``-f`` is relative to the current directory; a Dockerfile
outside the context, or ``-f -``, is added to the tar under a random name.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import IO, Callable, Iterator

from barge.client import contexttar
from barge.client.errors import ClientError

DEFAULT_DOCKERFILE = "Dockerfile"
#: ``report(current, total, last)`` of a progress reader (total 0: unknown).
Report = Callable[[int, int, bool], None]


class ContextError(ClientError):
    """The context could not be prepared; the text is the CLI's, without its prefix."""


# ---------------------------------------------------------------- progress

class Progress:
    """docker's ``progress.Reader`` over a body: ``report`` at least every
    512 KiB (every 1% of a known size, if less), at most every 100 ms, when
    the size is reached, and last at the end."""

    EVERY = 512 * 1024

    def __init__(self, report: Report, size: int = 0):
        self.report = report
        self.size = size
        self.current = 0
        self._last = 0
        self._allowed_at: float | None = None
        self.every = min(self.EVERY, int(0.01 * size)) if size > 0 else self.EVERY

    def count(self, chunks) -> Iterator[bytes]:
        for chunk in chunks:
            self.current += len(chunk)
            if self.current - self._last > self.every:
                self._update(False)
                self._last = self.current
            yield chunk
        self._update(True)

    def _update(self, last: bool) -> None:
        import time

        now = time.monotonic()
        allowed = self._allowed_at is None or now - self._allowed_at >= 0.1
        if last or self.current == self.size or allowed:
            if allowed:
                self._allowed_at = now
            self.report(self.current, self.size, last)


# ---------------------------------------------------------------- contexts

@dataclass
class Context:
    """What ``POST /build`` sends: the body's chunks and ``dockerfile=``."""

    chunks: Iterator[bytes]
    dockerfile: str
    temp_dirs: list[str] = field(default_factory=list)

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()
        for path in self.temp_dirs:
            shutil.rmtree(path, ignore_errors=True)


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def is_git_url(text: str) -> bool:
    """urlutil's ``IsGitURL``: ``git://``, ``git@``, ``github.com/``, or an
    http(s) URL whose path ends in ``.git`` (a ``#ref:dir`` may follow)."""
    import re

    if is_url(text) and re.search(r"\.git(?:#.+)?$", text):
        return True
    return text.startswith(("git://", "github.com/", "git@"))


def prepare(context: str, dockerfile: str, stdin: IO[bytes], download_report: Report) -> Context:
    """The context of ``build PATH|URL|-`` with ``-f``; raises :class:`ContextError`
    (the CLI's "unable to prepare context: ..." cases) or ``ClientError``."""
    dockerfile_stdin = dockerfile == "-"
    if context == "-":
        return from_reader(stdin, dockerfile)
    if os.path.exists(context):
        root, rel = local_dir(context, dockerfile)
        extra = None
        if rel.startswith("../"):
            try:
                with open(dockerfile, "rb") as fh:
                    extra = fh.read()
            except OSError as exc:
                raise ClientError(f"unable to open Dockerfile: open {dockerfile}: {_strerror(exc)}") from None
        elif dockerfile_stdin:
            extra = stdin.read()
        return from_directory(root, rel, extra, dockerfile_stdin)
    if is_git_url(context):
        return from_git(context, dockerfile, stdin)
    if is_url(context):
        return from_url(context, dockerfile, stdin, download_report)
    raise ContextError(f'path "{context}" not found')


def _strerror(exc: OSError) -> str:
    """Go's text of a system error: lower case."""
    return exc.strerror.lower() if exc.strerror else str(exc)


def _eval_symlinks(path: str, what: str) -> str:
    """Go's ``filepath.EvalSymlinks``, with the CLI's error text."""
    try:
        return os.path.realpath(path, strict=True)
    except OSError as exc:
        raise ContextError(f"unable to evaluate symlinks in {what}: lstat {exc.filename or path}: "
                           f"{_strerror(exc)}") from None


def local_dir(context: str, dockerfile: str) -> tuple[str, str]:
    """``GetContextFromLocalDir``: the context's real path and the Dockerfile
    relative to it (``-f`` is relative to the current directory)."""
    root = resolve_context_dir(context)
    if dockerfile and dockerfile != "-":
        dockerfile = os.path.abspath(dockerfile)
    return root, dockerfile_rel_path(root, dockerfile)


def resolve_context_dir(context: str) -> str:
    root = _eval_symlinks(os.path.abspath(context), "context path")
    if not os.path.isdir(root):
        raise ContextError(f"context must be a directory: {root}")
    return root


def dockerfile_rel_path(root: str, given: str) -> str:
    """``getDockerfileRelPath``: ``Dockerfile`` (else ``dockerfile``) by default,
    symlinks resolved, relative to the context (``../`` when outside)."""
    if given == "-":
        return given
    path = given
    if not path:
        path = os.path.join(root, DEFAULT_DOCKERFILE)
        alternative = os.path.join(root, DEFAULT_DOCKERFILE.lower())
        if not os.path.lexists(path) and os.path.lexists(alternative):
            path = alternative
    if not os.path.isabs(path):
        path = os.path.join(root, path)
    path = _eval_symlinks(path, "Dockerfile path")
    return os.path.relpath(path, root)


def from_directory(root: str, rel_dockerfile: str, extra_dockerfile: bytes | None, dockerfile_stdin: bool,
                   temp_dirs: list[str] | None = None) -> Context:
    """A context directory: ``.dockerignore`` read, the tree checked, then streamed."""
    from barge.dockerfile.dockerignore import ContextFilter, check_context_readable
    from barge.errors import InvalidParameter

    excludes = read_ignore_file(root)
    try:
        check_context_readable(root, excludes)
    except InvalidParameter as exc:
        raise ClientError(f"error checking context: {exc}") from None
    context_filter = ContextFilter.for_build(excludes, rel_dockerfile, dockerfile_from_stdin=dockerfile_stdin)
    extra = None
    if extra_dockerfile is not None:
        extra = (_random_name(), extra_dockerfile)
        rel_dockerfile = extra[0]
    return Context(contexttar.tar_context(root, context_filter, extra), rel_dockerfile, temp_dirs or [])


def read_ignore_file(root: str) -> list[str]:
    """``ReadDockerignore``: no file is no patterns."""
    from barge.dockerfile.dockerignore import read_dockerignore
    from barge.errors import InvalidParameter

    try:
        with open(os.path.join(root, contexttar.DOCKERIGNORE), "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ClientError(f"error reading .dockerignore: read {os.path.join(root, '.dockerignore')}: "
                          f"{_strerror(exc)}") from None
    try:
        return read_dockerignore(data)
    except InvalidParameter as exc:
        raise ClientError(f"error reading .dockerignore: {exc}") from None


def from_reader(stream: IO[bytes], dockerfile: str, report: Report | None = None, size: int = 0) -> Context:
    """``GetContextFromReader``: an archive goes as it is (``-f`` names the
    Dockerfile in it); anything else is the Dockerfile, tarred alone."""
    head = contexttar.peek(stream)
    chunks = contexttar.chained(head, stream)
    if report is not None:
        chunks = Progress(report, size).count(chunks)
    if contexttar.is_archive(head):
        return Context(chunks, "" if dockerfile == "-" else dockerfile)
    if dockerfile == "-":
        raise ContextError("build context is not an archive")
    if dockerfile:
        raise ContextError("ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles")
    temp = tempfile.mkdtemp(prefix="barge-build-tempdockerfile-")
    try:
        with open(os.path.join(temp, DEFAULT_DOCKERFILE), "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return Context(contexttar.tar_directory_plain(temp), DEFAULT_DOCKERFILE, [temp])


def from_url(url: str, dockerfile: str, stdin: IO[bytes], report: Report) -> Context:
    """``GetContextFromURL``: downloaded by the client, with progress, then read
    as stdin would be; ``-f -`` adds stdin's Dockerfile to the archive."""
    import urllib.error
    import urllib.request

    try:
        response = urllib.request.urlopen(url)  # noqa: S310 - the user's context URL, as docker fetches it
    except urllib.error.HTTPError as exc:
        body = exc.read().strip().decode("utf-8", "replace")
        raise ContextError(f"unable to download remote context {url}: failed to GET {url} with status "
                           f"{exc.code} {exc.reason}: {body}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        text = _strerror(reason) if isinstance(reason, OSError) else str(reason)
        raise ContextError(f'unable to download remote context {url}: Get "{url}": {text}') from None
    length = response.headers.get("Content-Length") or ""
    context = from_reader(response, dockerfile, report, int(length) if length.isdigit() else 0)
    if dockerfile == "-":
        context.dockerfile = _random_name()
        context.chunks = contexttar.add_dockerfile_to_tar(context.chunks, (context.dockerfile, stdin.read()))
    return context


def _random_name() -> str:
    return ".dockerfile." + secrets.token_hex(10)


# ---------------------------------------------------------------- git

def from_git(url: str, dockerfile: str, stdin: IO[bytes]) -> Context:
    """``GetContextFromGitURL``: cloned into a temporary directory (removed
    after the build); the Dockerfile must be inside it."""
    from barge.client import gitcontext

    if shutil.which("git") is None:
        raise ContextError("unable to find 'git': exec: \"git\": executable file not found in $PATH")
    top = tempfile.mkdtemp(prefix="barge-build-git")
    try:
        try:
            checkout = gitcontext.clone(url, top)
        except ClientError as exc:
            raise ContextError(f"unable to 'git clone' to temporary context directory: {exc}") from None
        root = resolve_context_dir(checkout)
        rel = dockerfile_rel_path(root, dockerfile)
        if rel.startswith("../"):
            raise ContextError(f"the Dockerfile ({dockerfile}) must be within the build context")
        extra = stdin.read() if dockerfile == "-" else None
        return from_directory(root, rel, extra, dockerfile == "-", [top])
    except BaseException:
        shutil.rmtree(top, ignore_errors=True)
        raise
