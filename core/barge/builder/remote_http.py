"""The remote context's HTTP transport: connections that a cancel shuts at once, silence limits,
redirects kept to http(s), loopback never through a proxy, and dockerd's error texts."""

from __future__ import annotations

import errno
import functools
import http.client
import ipaddress
import json
import os
import select
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from barge.errors import BargeError, Forbidden, InvalidParameter, NotFound, Unauthorized

HTTP_TIMEOUT = 60.0    # seconds a socket may stay silent (connect, or between reads) before the download fails
ERROR_BODY = 64 * 1024  # bytes of an error page quoted in the message (dockerd reads all of it)
_STATUS_ERRORS: dict[int, type[BargeError]] = {404: NotFound, 400: InvalidParameter, 401: Unauthorized,
                                               403: Forbidden}


class RemoteCancelled(BargeError):
    """``cancel`` was set while fetching; nothing more is written under ``scratch``."""

    status = 499

    def __init__(self) -> None:
        super().__init__("Build cancelled")


# --- -------------------------------------------------------------------------------------------------


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


