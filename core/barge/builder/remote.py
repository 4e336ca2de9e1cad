"""Remote build contexts: ``POST /build?remote=<url>`` fetched as dockerd 20.10 fetches them.

What dockerd does (moby 20.10 ``builder/remotecontext``: ``detect.go``,
``remote.go``, ``git/gitutils.go``, ``pkg/urlutil``), and what is mirrored here:

- **Which kind.** ``client-session`` is refused (400). A *git* URL starts with
  ``git://``, ``github.com/`` or ``git@``, or is an http(s) URL matching the
  regexp ``.git(#.+)?$`` over the whole string (its ``.`` matches any
  character, so ``http://h/legit`` is git too, as in dockerd). Any other
  ``http://``/``https://`` is downloaded; anything else is ``remoteURL (<url>)
  could not be recognized as URL`` (500). Prefixes are case-sensitive.
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

import errno
import functools
import http.client
import ipaddress
import json
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from barge.errors import BargeError, Forbidden, InvalidParameter, NotFound, Unauthorized

CLIENT_SESSION = "client-session"
HTTP_TIMEOUT = 60.0    # seconds a socket may stay silent (connect, or between reads) before the download fails
GIT_TIMEOUT = 1800.0   # seconds one git command may take
CHUNK = 64 * 1024
PREAMBLE = 100         # moby's maxPreambleLength: bytes sniffed for the content type
ERROR_BODY = 64 * 1024  # bytes of an error page quoted in the message (dockerd reads all of it)
PROGRESS_EVERY = 512 * 1024
PROGRESS_ID = "Downloading context"

_URL_PREFIXES = ("http://", "https://")
_GIT_PREFIXES = ("git://", "github.com/", "git@")
_GIT_SUFFIX = re.compile(r".git(?:#.+)?\Z")
_ACCEPTABLE_MIME = re.compile(
    r"(?:application/(?:(?:x\-)?tar|octet\-stream|((?:x\-)?(?:gzip|bzip2?|xz)))|(?:text/plain))")
_COMPRESSED = (b"BZh", b"\x1f\x8b\x08", b"\xfd7zXZ\x00")  # moby's DetectCompression in 20.10
_STATUS_ERRORS: dict[int, type[BargeError]] = {404: NotFound, 400: InvalidParameter, 401: Unauthorized,
                                               403: Forbidden}


@dataclass(frozen=True)
class RemoteContext:
    tar: Path | None = None        # a downloaded tar (maybe compressed): the caller unpacks it safely
    directory: Path | None = None  # a cloned repo's subdir, or a dir holding the single downloaded Dockerfile
    dockerfile: str = ""           # the Dockerfile's name to use when it differs from the request's (else "")


class RemoteCancelled(BargeError):
    """``cancel`` was set while fetching; nothing more is written under ``scratch``."""

    status = 499

    def __init__(self) -> None:
        super().__init__("Build cancelled")


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
        return RemoteContext(directory=_clone(url, Path(scratch), cancel))
    if is_url(url):
        return _download(url, dockerfile, Path(scratch), progress, cancel)
    raise InvalidParameter(f"remoteURL ({url}) could not be recognized as URL")  # dockerd: 500; a bad request here


# --- http(s) -------------------------------------------------------------------------------------------------


class _Watch:
    """Makes a download cancellable: connects in short slices, and shuts its sockets down once ``cancel`` is set.

    A blocked read cannot be interrupted otherwise (a socket timeout would make
    http.client's reader unusable), so a small thread waits for ``cancel``.
    """

    def __init__(self, cancel: threading.Event):
        self.cancel = cancel
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="remote-context-cancel", daemon=True)

    def __enter__(self) -> "_Watch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.is_set():
            if self.cancel.wait(0.05):
                with self._lock:
                    socks = list(self._socks)
                for sock in socks:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return

    def check(self) -> None:
        if self.cancel.is_set():
            raise RemoteCancelled()

    def connect(self, address: tuple[str, int], timeout: float | None = None,
                source_address: object = None) -> socket.socket:
        """``socket.create_connection`` for http.client, with Go's dial errors and a cancel seen within 100 ms."""
        host, port = address
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise OSError(f"dial tcp: lookup {host}: {'no such host' if exc.errno == socket.EAI_NONAME else exc}") from None
        failure = OSError(f"dial tcp: lookup {host}: no such host")
        for family, kind, proto, _, addr in infos:
            sock = socket.socket(family, kind, proto)
            try:
                self._dial(sock, addr, timeout or HTTP_TIMEOUT)
            except OSError as exc:
                sock.close()
                failure = exc
                continue
            except BaseException:
                sock.close()
                raise
            sock.settimeout(timeout or HTTP_TIMEOUT)
            with self._lock:
                self._socks.append(sock)
            if self.cancel.is_set():  # set after the watch shut the others: this one is not shut
                sock.close()
                raise RemoteCancelled()
            return sock
        raise failure

    def _dial(self, sock: socket.socket, addr: tuple, timeout: float) -> None:
        where = f"[{addr[0]}]:{addr[1]}" if ":" in addr[0] else f"{addr[0]}:{addr[1]}"
        sock.setblocking(False)
        err = sock.connect_ex(addr)
        deadline = time.monotonic() + timeout
        while err in (errno.EINPROGRESS, errno.EAGAIN):  # wait until writable, a cancel, or the deadline
            self.check()
            left = deadline - time.monotonic()
            if left <= 0:
                raise OSError(f"dial tcp {where}: i/o timeout")
            if select.select([], [sock], [], min(0.1, left))[1]:
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(f"dial tcp {where}: connect: {os.strerror(err).lower()}")


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, watch: _Watch, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = watch.connect


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, watch: _Watch, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = watch.connect


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, watch: _Watch):
        super().__init__()
        self.watch = watch

    def http_open(self, req):
        return self.do_open(functools.partial(_HTTPConnection, watch=self.watch), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, watch: _Watch):
        self.context = ssl.create_default_context()
        super().__init__(context=self.context)
        self.watch = watch

    def https_open(self, req):
        return self.do_open(functools.partial(_HTTPSConnection, watch=self.watch), req, context=self.context)


class _Refused(Exception):
    """A redirect Go's client would not follow, with the URL Go's error names."""

    def __init__(self, url: str, reason: str):
        super().__init__(reason)
        self.url = url


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Go's client: redirects to http(s) only (urllib would try ftp://), refused as Go words it."""

    def http_error_302(self, req, fp, code, msg, headers):
        target = headers.get("location") or headers.get("uri")
        if target:
            newurl = urllib.parse.urljoin(req.full_url, target)
            scheme = urllib.parse.urlsplit(newurl).scheme
            if scheme not in ("http", "https"):
                fp.close()
                raise _Refused(newurl, f"unsupported protocol scheme {json.dumps(scheme)}")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _open(url: str, watch: _Watch, method: str = "GET") -> http.client.HTTPResponse:
    """A response, or urllib's errors: only http(s) handlers and redirects, and, as Go's
    ProxyFromEnvironment, no proxy for loopback."""
    opener = urllib.request.OpenerDirector()
    handlers = [urllib.request.ProxyHandler({} if _is_loopback(url) else None), urllib.request.UnknownHandler(),
                urllib.request.HTTPDefaultErrorHandler(), _Redirects(),
                urllib.request.HTTPErrorProcessor(), _HTTPHandler(watch), _HTTPSHandler(watch)]
    for handler in handlers:
        opener.add_handler(handler)
    request = urllib.request.Request(url, method=method, headers={"User-Agent": "Go-http-client/1.1"})
    return opener.open(request, timeout=HTTP_TIMEOUT)


def _reason(exc: BaseException) -> str:
    """Go's wording where it is known: EOF for a connection closed before an answer."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        return _reason(exc.reason)
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, http.client.IncompleteRead):
        return "unexpected EOF"
    if isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError)):
        return "EOF"
    if isinstance(exc, socket.timeout):
        return "i/o timeout"
    return str(exc) or type(exc).__name__


def _get(url: str, watch: _Watch) -> http.client.HTTPResponse:
    """moby's ``GetWithStatusError`` wrapped as ``downloadRemote`` wraps it."""
    prefix = f"error downloading remote context {url}"
    try:
        return _open(url, watch)
    except urllib.error.HTTPError as exc:
        watch.check()
        if exc.code < 400:  # a redirect refused (another scheme, a loop): Go fails these too
            exc.close()
            raise BargeError(f'{prefix}: Get "{url}": {exc.reason}') from None
        status = f"{exc.code} {exc.reason or ''}".rstrip()
        try:
            body = exc.read(ERROR_BODY).decode("utf-8", "replace").strip()
        except (OSError, http.client.HTTPException):
            watch.check()
            raise BargeError(f"{prefix}: failed to GET {url} with status {status}: error reading body") from None
        finally:
            exc.close()
        raise _STATUS_ERRORS.get(exc.code, BargeError)(
            f"{prefix}: failed to GET {url} with status {status}: {body}") from None
    except _Refused as exc:
        raise BargeError(f'{prefix}: Get "{exc.url}": {exc}') from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        watch.check()
        raise BargeError(f'{prefix}: Get "{url}": {_reason(exc)}') from None


def _read(response: http.client.HTTPResponse, watch: _Watch, size: int, url: str) -> bytes:
    try:
        data = response.read1(size)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        watch.check()
        raise BargeError(f"error downloading remote context {url}: {_reason(exc)}") from None
    watch.check()
    return data


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


def human_size(size: float) -> str:
    """go-units' ``HumanSize``: decimal units, four significant digits (``10.24kB``)."""
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000
        i += 1
    return f"{size:.4g}{units[i]}"


# Go's http.DetectContentType (net/http/sniff.go), as (pattern, mask or None, skip leading whitespace, type).
_HTML_TAGS = (b"<!DOCTYPE HTML", b"<HTML", b"<HEAD", b"<SCRIPT", b"<IFRAME", b"<H1", b"<DIV", b"<FONT", b"<TABLE",
              b"<A", b"<STYLE", b"<TITLE", b"<B", b"<BODY", b"<BR", b"<P", b"<!--")
_SIGNATURES: tuple[tuple[bytes, bytes | None, bool, str], ...] = (
    (b"<?xml", b"\xff" * 5, True, "text/xml; charset=utf-8"),
    (b"%PDF-", None, False, "application/pdf"),
    (b"%!PS-Adobe-", None, False, "application/postscript"),
    (b"\xfe\xff\x00\x00", b"\xff\xff\x00\x00", False, "text/plain; charset=utf-16be"),
    (b"\xff\xfe\x00\x00", b"\xff\xff\x00\x00", False, "text/plain; charset=utf-16le"),
    (b"\xef\xbb\xbf\x00", b"\xff\xff\xff\x00", False, "text/plain; charset=utf-8"),
    (b"\x00\x00\x01\x00", None, False, "image/x-icon"),
    (b"\x00\x00\x02\x00", None, False, "image/x-icon"),
    (b"BM", None, False, "image/bmp"),
    (b"GIF87a", None, False, "image/gif"),
    (b"GIF89a", None, False, "image/gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP", b"\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff", False, "image/webp"),
    (b"\x89PNG\r\n\x1a\n", None, False, "image/png"),
    (b"\xff\xd8\xff", None, False, "image/jpeg"),
    (b"FORM\x00\x00\x00\x00AIFF", b"\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff", False, "audio/aiff"),
    (b"ID3", None, False, "audio/mpeg"),
    (b"OggS\x00", None, False, "application/ogg"),
    (b"MThd\x00\x00\x00\x06", None, False, "audio/midi"),
    (b"RIFF\x00\x00\x00\x00AVI ", b"\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff", False, "video/avi"),
    (b"RIFF\x00\x00\x00\x00WAVE", b"\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff", False, "audio/wave"),
    (b"\x1a\x45\xdf\xa3", None, False, "video/webm"),
    (b"\x00" * 34 + b"LP", b"\x00" * 34 + b"\xff\xff", False, "application/vnd.ms-fontobject"),
    (b"\x00\x01\x00\x00", None, False, "font/ttf"),
    (b"OTTO", None, False, "font/otf"),
    (b"ttcf", None, False, "font/collection"),
    (b"wOFF", None, False, "font/woff"),
    (b"wOF2", None, False, "font/woff2"),
    (b"\x1f\x8b\x08", None, False, "application/x-gzip"),
    (b"PK\x03\x04", None, False, "application/zip"),
    (b"Rar!\x1a\x07\x00", None, False, "application/x-rar-compressed"),
    (b"Rar!\x1a\x07\x01\x00", None, False, "application/x-rar-compressed"),
    (b"\x00asm", None, False, "application/wasm"),
)
_BINARY = frozenset([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])


def _is_mp4(data: bytes) -> bool:
    if len(data) < 12:
        return False
    box = int.from_bytes(data[:4], "big")
    if len(data) < box or box % 4 or data[4:8] != b"ftyp":
        return False
    return any(data[st:st + 3] == b"mp4" for st in range(8, box, 4) if st != 12)


def sniff_content_type(data: bytes) -> str:
    """Go's ``http.DetectContentType``, signature by signature, in its order."""
    data = data[:512]
    rest = data.lstrip(b"\t\n\x0c\r ")
    for tag in _HTML_TAGS:
        if len(rest) > len(tag) and rest[:len(tag)].upper() == tag and rest[len(tag)] in b" >":
            return "text/html; charset=utf-8"
    for pattern, mask, skip_ws, kind in _SIGNATURES:
        seen = rest if skip_ws else data
        if mask is None:
            if seen.startswith(pattern):
                return kind
        elif len(seen) >= len(pattern) and all(seen[i] & mask[i] == pattern[i] for i in range(len(pattern))):
            return kind
        if kind == "audio/wave" and _is_mp4(data):  # Go checks mp4 right after wave
            return "video/mp4"
    if not any(b in _BINARY for b in rest):
        return "text/plain; charset=utf-8"
    return "application/octet-stream"


# --- git -----------------------------------------------------------------------------------------------------

#: Variables that would point git at another repository or configuration than the clone's own.
_GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
                      "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CEILING_DIRECTORIES", "GIT_NAMESPACE",
                      "GIT_DISCOVERY_ACROSS_FILESYSTEM", "XDG_CONFIG_HOME")


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS and not k.startswith("GIT_CONFIG")}
    env.update(GIT_PROTOCOL_FROM_USER="0", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", HOME="/dev/null",
               GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def _git(root: Path, cancel: threading.Event, *args: str) -> tuple[int, str]:
    """One git command in ``root`` (its exit status and combined output); a cancel or the time limit kills it."""
    cmd = ["git", "-c", "protocol.file.allow=never", *args]
    try:
        proc = subprocess.Popen(cmd, cwd=root, env=_git_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
    except FileNotFoundError:
        return -1, 'exec: "git": executable file not found in $PATH'
    deadline = time.monotonic() + GIT_TIMEOUT
    while True:
        try:
            out, _ = proc.communicate(timeout=0.1)
            return proc.returncode, out.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            if cancel.is_set() or time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                if cancel.is_set():
                    raise RemoteCancelled() from None
                return -1, f"git {args[0]} took more than {GIT_TIMEOUT:g}s: signal: killed"


def _must(root: Path, cancel: threading.Event, what: str, *args: str) -> None:
    code, out = _git(root, cancel, *args)
    if code:
        status = f"exit status {code}" if code > 0 else ""
        raise BargeError(f"{what}: {out}: {status}" if status else f"{what}: {out}")


def parse_git_url(url: str) -> tuple[str, str, str]:
    """moby's ``parseRemoteURL``: (remote, ref, subdir); the ref defaults to ``master``."""
    try:
        scheme = urllib.parse.urlsplit(url).scheme.lower()
    except ValueError:
        scheme = ""
    if not url.startswith("git@") and scheme not in ("git", "http", "https", "ssh"):
        url = "https://" + url
    remote, _, fragment = url.partition("#")
    if not url.startswith("git@"):
        try:
            urllib.parse.urlsplit(url)
        except ValueError as exc:
            raise BargeError(f'parse "{url}": {exc}') from None
        fragment = urllib.parse.unquote(fragment)
    ref, _, subdir = fragment.partition(":")
    ref = ref or "master"
    if ref.startswith("-"):
        raise BargeError(f"invalid refspec: {ref}")
    if remote.startswith("-"):
        raise BargeError(f"invalid remote: {remote}")
    return remote, ref, subdir


def _supports_shallow(remote: str, cancel: threading.Event) -> bool:
    """moby's ``supportsShallowClone``: any transport but a "dumb" http server."""
    if urllib.parse.urlsplit(remote).scheme.lower() not in ("http", "https"):
        return True
    service = remote + "/info/refs?service=git-upload-pack"
    with _Watch(cancel) as watch:
        for method in ("HEAD", "GET"):
            try:
                with _open(service, watch, method) as response:
                    if response.status == 200:
                        return response.headers.get("Content-Type") == "application/x-git-upload-pack-advertisement"
            except (OSError, http.client.HTTPException, ValueError):
                watch.check()
    return False


def _clone(url: str, scratch: Path, cancel: threading.Event) -> Path:
    """moby's ``gitRepo.clone``: init, fetch the one ref, check it out, its submodules; the context directory."""
    remote, ref, subdir = parse_git_url(url)
    root = scratch / "git"
    root.mkdir()
    root = Path(os.path.realpath(root))
    _must(root, cancel, f"failed to init repo at {root}", "init", "--quiet")
    _must(root, cancel, f"failed add origin repo at {remote}", "remote", "add", "origin", remote)
    depth = ["--depth", "1"] if _supports_shallow(remote, cancel) else []
    _must(root, cancel, "error fetching", "fetch", *depth, "origin", "--", ref)
    code, out = _git(root, cancel, "checkout", ref, "--")
    if code and _git(root, cancel, "checkout", "FETCH_HEAD", "--")[0]:
        raise BargeError(f"error checking out {ref}: {out}: exit status {code}")
    context = _context_dir(root, subdir)
    _must(root, cancel, "error initializing submodules", "submodule", "update", "--init", "--recursive", "--depth=1")
    return context


def _context_dir(root: Path, subdir: str) -> Path:
    if not subdir:
        return root
    try:
        context = resolve_in_scope(root, subdir)
    except ValueError as exc:
        raise BargeError(f"error setting git context, {json.dumps(subdir, ensure_ascii=False)} not within git root: "
                         f"{exc}") from None
    try:
        is_dir = os.path.isdir(context)
        os.stat(context)
    except OSError as exc:
        raise BargeError(f"stat {context}: {os.strerror(exc.errno or 0).lower()}") from None
    if not is_dir:
        raise BargeError(f"error setting git context, not a directory: {context}")
    return context


def resolve_in_scope(root: Path, path: str) -> Path:
    """moby's ``symlink.FollowSymlinkInScope``: ``path`` under ``root``, symlinks followed as if ``root`` were ``/``.

    A path that leaves ``root`` before any link is read is an error (ValueError);
    a link's ``..`` stops at ``root`` and an absolute target restarts from it, so
    the result is always inside ``root``.
    """
    base = os.path.abspath(root)
    joined = os.path.normpath(base + "/" + path)
    if joined != base and not joined.startswith(base.rstrip("/") + "/"):
        raise ValueError(f"evalSymlinksInScope: {joined} is not in {base}")
    pending = [p for p in joined[len(base):].split("/") if p]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        full = os.path.join(base, *resolved, part)
        if not os.path.islink(full):
            resolved.append(part)
            continue
        links += 1
        if links > 255:
            raise ValueError(f"evalSymlinksInScope: too many links in {joined}")
        target = os.readlink(full)
        if target.startswith("/"):
            resolved = []
        pending[:0] = [p for p in target.split("/") if p]
    return Path(base, *resolved)
