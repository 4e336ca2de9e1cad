"""Remote build contexts: ``POST /build?remote=<url>`` fetched as dockerd 20.10 fetches them.

This module decides the kind and downloads; the transport is
:mod:`barge.builder.remote_http`, the clone :mod:`barge.builder.remote_git`,
the content sniffing :mod:`barge.builder.remote_sniff`.

What dockerd does (moby 20.10 ``builder/remotecontext``: ``detect.go``,
``remote.go``, ``git/gitutils.go``, ``pkg/urlutil``), and what is mirrored here:

- **Which kind.** ``client-session`` is refused (400). A *git* URL starts with
  ``git://``, ``github.com/`` or ``git@``, or is an http(s) URL matching the
  regexp ``.git(#.+)?$`` over the whole string (its ``.`` matches any
  character, so ``http://h/legit`` is git too, as in dockerd). Any other
  ``http://``/``https://`` is downloaded; anything else is ``remoteURL (<url>)
  could not be recognized as URL`` (dockerd: 500; barge: 400). Prefixes are case-sensitive.
- **git.** The fragment is ``#ref:subdir``; the ref defaults to ``master``, a
  ref starting with ``-`` is ``invalid refspec: <ref>`` (500). URLs without a
  git transport get ``https://``. dockerd runs ``git init``, ``git remote add
  origin``, ``git fetch [--depth 1] origin -- <ref>`` (shallow unless an http
  server is "dumb": no ``application/x-git-upload-pack-advertisement`` answer
  to ``info/refs?service=git-upload-pack``), ``git checkout <ref>`` falling
  back to ``FETCH_HEAD``, then ``git submodule update --init --recursive
  --depth=1``. Every git runs with ``-c protocol.file.allow=never``,
  ``GIT_PROTOCOL_FROM_USER=0`` (no file:// or other "user" transports, from
  submodules either), no system or user configuration. A full commit sha works
  (servers answer wants by sha); an abbreviated one does not (``couldn't find
  remote ref``), as in dockerd. The subdir is resolved *in scope* (moby's
  ``FollowSymlinkInScope``): a path that escapes lexically (``../..``) is an
  error, symlinks are followed as if the checkout were ``/`` (``../x`` and
  ``/x`` both land inside it), so the context never leaves the clone. The
  context is the checkout, ``.git`` included (dockerd tars it whole). Added
  here: ``GIT_TERMINAL_PROMPT=0`` and ssh in batch mode (never prompt), ``--``
  before the ref on checkout, a time limit, and cancellation.
- **http(s).** A GET (redirects followed, proxies from the environment). A
  status >= 400 is ``error downloading remote context <url>: failed to GET
  <url> with status <code> <reason>: <body, trimmed>`` with status 404, 400,
  401 or 403 kept, 500 for the rest; a connection failure is ``error
  downloading remote context <url>: Get "<url>": <Go-like reason>`` (500; a
  DNS failure too, as observed). The kind comes from the Content-Type: when it
  is missing or exactly ``application/octet-stream``, the first (up to) 100
  bytes are sniffed as Go's ``http.DetectContentType`` does; the type must
  then contain one of ``application/[x-]tar``, ``application/octet-stream``,
  ``application/[x-](gzip|bzip|bzip2|xz)``, ``text/plain`` (an unanchored
  search), else ``error detecting content type for remote <url>: unsupported
  Content-Type "<header>"`` (500); an empty body is ``... empty response``.
  ``text/plain`` means the body is the Dockerfile (and dockerd ignores the
  request's ``dockerfile``, and builds with *no* context: ``COPY`` fails with
  ``COPY failed: missing build context``, which the caller must mirror);
  every other accepted type means a tar, maybe gzip/bzip2/xz-compressed, whose
  errors (``archive/tar: invalid tar header``) come when the caller unpacks it.
- **Progress.** dockerd wraps the body in a progress reader (id ``Downloading
  context``, the URL as status, no total): a message each time more than
  512 KiB arrived (at most one per 100 ms), and one at the end followed by
  ``{}`` when the reader saw the end of the body. As observed: a Dockerfile
  ends with the final message and ``{}``, a compressed tar with the final
  message, a plain tar with none (Go's tar reader stops before the end).

The body is streamed to a file under ``scratch``; a socket idle for
``HTTP_TIMEOUT`` seconds fails the download, and setting ``cancel`` shuts the
socket (or kills git) and raises :class:`RemoteCancelled` at once.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from barge.builder.remote_git import clone
from barge.builder.remote_http import RemoteCancelled, _get, _read, _Watch
from barge.builder.remote_sniff import sniff_content_type
from barge.errors import BargeError, InvalidParameter
from barge.units import human_size

__all__ = ["RemoteCancelled", "RemoteContext", "fetch_remote", "is_git_url", "is_url"]

CLIENT_SESSION = "client-session"
CHUNK = 64 * 1024
PREAMBLE = 100         # moby's maxPreambleLength: bytes sniffed for the content type
PROGRESS_EVERY = 512 * 1024
PROGRESS_ID = "Downloading context"

_URL_PREFIXES = ("http://", "https://")
_GIT_PREFIXES = ("git://", "github.com/", "git@")
_GIT_SUFFIX = re.compile(r".git(?:#.+)?\Z")
_ACCEPTABLE_MIME = re.compile(
    r"(?:application/(?:(?:x\-)?tar|octet\-stream|((?:x\-)?(?:gzip|bzip2?|xz)))|(?:text/plain))")
_COMPRESSED = (b"BZh", b"\x1f\x8b\x08", b"\xfd7zXZ\x00")  # moby's DetectCompression in 20.10

@dataclass(frozen=True)
class RemoteContext:
    tar: Path | None = None        # a downloaded tar (maybe compressed): the caller unpacks it safely
    directory: Path | None = None  # a cloned repo's subdir, or a dir holding the single downloaded Dockerfile
    dockerfile: str = ""           # the Dockerfile's name to use when it differs from the request's (else "")


def is_url(url: str) -> bool:
    """moby's ``urlutil.IsURL``: an http(s) URL, by prefix."""
    return url.startswith(_URL_PREFIXES)


def is_git_url(url: str) -> bool:
    """moby's ``urlutil.IsGitURL``: a git prefix, or an http(s) URL ending in ``.git`` before a fragment."""
    return (is_url(url) and _GIT_SUFFIX.search(url) is not None) or url.startswith(_GIT_PREFIXES)


def fetch_remote(url: str, dockerfile: str, scratch: Path, *, progress: Callable[[dict], None],
                 cancel: threading.Event | None = None) -> RemoteContext:
    """Everything it writes is under `scratch` (an empty dir the caller removes)."""
    cancel = cancel if cancel is not None else threading.Event()
    if cancel.is_set():
        raise RemoteCancelled()
    Path(scratch).mkdir(parents=True, exist_ok=True)
    if url == CLIENT_SESSION:
        raise InvalidParameter("experimental session with v1 builder is no longer supported, "
                               "use builder version v2 (BuildKit) instead")
    if is_git_url(url):
        return RemoteContext(directory=clone(url, Path(scratch), cancel))
    if is_url(url):
        return _download(url, dockerfile, Path(scratch), progress, cancel)
    raise InvalidParameter(f"remoteURL ({url}) could not be recognized as URL")  # dockerd: 500; a bad request here


def _preamble(response: http.client.HTTPResponse, watch: _Watch, url: str) -> bytes:
    """The bytes moby's ``inspectResponse`` sniffs: up to 100, fewer when the body says it is shorter."""
    length = response.length or 0
    want = length if 0 < length <= PREAMBLE else PREAMBLE
    data = b""
    while len(data) < want:
        more = _read(response, watch, want - len(data), url)
        if not more:
            break
        data += more
    if not data:
        raise BargeError(f"error detecting content type for remote {url}: empty response")
    return data


def _content_type(header: str, preamble: bytes, url: str) -> str:
    """The accepted type moby's ``inspectResponse`` settles on (``text/plain`` means a Dockerfile)."""
    found = header
    if header in ("", "application/octet-stream"):
        found = sniff_content_type(preamble).split(";", 1)[0].strip().lower()
    match = _ACCEPTABLE_MIME.search(found)
    if match is None:
        raise BargeError(f"error detecting content type for remote {url}: "
                         f"unsupported Content-Type {json.dumps(header, ensure_ascii=False)}")
    return match.group(0)


def _download(url: str, dockerfile: str, scratch: Path, progress: Callable[[dict], None],
              cancel: threading.Event) -> RemoteContext:
    """moby's ``newURLRemote``: a Dockerfile (``text/plain``) or a tar, streamed to a file under ``scratch``."""
    with _Watch(cancel) as watch:
        response = _get(url, watch)
        try:
            preamble = _preamble(response, watch, url)
            is_dockerfile = _content_type(response.headers.get("Content-Type") or "", preamble, url) == "text/plain"
            if is_dockerfile:
                (scratch / "context").mkdir()
                target = scratch / "context" / "Dockerfile"
            else:
                target = scratch / "context.tar"
            meter = _Meter(url, progress)
            with open(target, "xb") as out:
                out.write(preamble)
                meter.add(len(preamble))
                while chunk := _read(response, watch, CHUNK, url):
                    out.write(chunk)
                    meter.add(len(chunk))
        finally:
            response.close()
    if is_dockerfile:
        meter.finish(trailer=True)
        return RemoteContext(directory=target.parent, dockerfile="" if dockerfile in ("", "Dockerfile") else "Dockerfile")
    if preamble.startswith(_COMPRESSED):
        meter.finish(trailer=False)
    return RemoteContext(tar=target)


class _Meter:
    """moby's ``progress.Reader`` as the build route sets it up (no total, the URL as status)."""

    def __init__(self, url: str, progress: Callable[[dict], None]):
        self.url = url
        self.progress = progress
        self.current = 0
        self.last_update = 0
        self.last_sent = float("-inf")

    def add(self, n: int) -> None:
        self.current += n
        if self.current - self.last_update > PROGRESS_EVERY:
            if time.monotonic() - self.last_sent >= 0.1:  # Go's rate.Limiter: one every 100 ms, burst 1
                self._send()
            self.last_update = self.current

    def finish(self, trailer: bool) -> None:
        self._send()
        if trailer:
            self.progress({})

    def _send(self) -> None:
        self.last_sent = time.monotonic()
        self.progress({"status": self.url, "progressDetail": {"current": self.current},
                       "progress": f"{human_size(self.current):>8}", "id": PROGRESS_ID})
