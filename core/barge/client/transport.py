"""HTTP/1.1 over a unix socket or TCP (optionally TLS), one connection per request.

Bodies are sent without copying through Python where possible: a regular
file goes out with ``sendfile`` and a ``Content-Length``; a pipe or an
iterator is sent chunked in 1 MiB pieces. Responses are returned unread so
callers can stream them (image tars, JSON progress messages).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Mapping
from urllib.parse import urlencode

from barge.client.errors import DaemonUnreachable, HostError

DEFAULT_HOST = "unix:///run/barge/barge.sock"
DEFAULT_TCP_PORT = 2375
DEFAULT_TLS_PORT = 2376
CHUNK = 1 << 20
MAX_LINE = 65536
MAX_HEADERS = 100


@dataclass
class TLSOptions:
    """``--tls``/``--tlsverify`` and the three PEM files, as docker reads them."""

    enabled: bool = False
    verify: bool = False
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **given) -> "TLSOptions":
        """Command-line values win; ``BARGE_TLS_VERIFY`` and ``BARGE_CERT_PATH``
        (holding ``ca.pem``, ``cert.pem``, ``key.pem``) fill the rest."""
        env = os.environ if env is None else env
        verify = bool(given.get("verify")) or bool(env.get("BARGE_TLS_VERIFY"))
        enabled = bool(given.get("enabled")) or verify
        cert_path = Path(env.get("BARGE_CERT_PATH") or Path.home() / ".barge")

        def pick(name: str, filename: str) -> str | None:
            if given.get(name):
                return given[name]
            candidate = cert_path / filename
            return str(candidate) if (enabled and candidate.exists()) else None

        return cls(enabled, verify, pick("cacert", "ca.pem"), pick("cert", "cert.pem"), pick("key", "key.pem"))

    def context(self):
        import ssl

        if self.verify:
            ctx = ssl.create_default_context(cafile=self.cacert)
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert and self.key:
            ctx.load_cert_chain(self.cert, self.key)
        return ctx


@dataclass
class Endpoint:
    """Where the daemon listens: ``unix`` path or ``tcp`` host and port."""

    scheme: str
    address: str
    port: int = 0
    tls: TLSOptions = field(default_factory=TLSOptions)

    @property
    def url(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.address}"
        return f"tcp://{self.address}:{self.port}"


def parse_host(host: str | None, tls: TLSOptions | None = None) -> Endpoint:
    """Parse ``unix:///path``, ``tcp://host:port`` or ``host:port`` like docker."""
    tls = tls or TLSOptions()
    host = (host or DEFAULT_HOST).strip()
    if host.startswith("unix://"):
        path = host[len("unix://"):]
        if not path.startswith("/"):
            raise HostError(f"Invalid bind address format: {host}")
        return Endpoint("unix", path, tls=tls)
    for prefix in ("tcp://", "http://", "https://"):
        if host.startswith(prefix):
            if prefix == "https://":
                tls.enabled = True
            host = host[len(prefix):]
            break
    else:
        if "://" in host:
            raise HostError(f"Invalid bind address format: {host}")
    host = host.rstrip("/")
    if host.startswith("["):
        name, _, port = host[1:].partition("]")
        port = port.lstrip(":")
    elif host.count(":") == 1:
        name, port = host.split(":")
    else:
        name, port = host, ""
    if not name:
        name = "127.0.0.1"
    try:
        number = int(port) if port else (DEFAULT_TLS_PORT if tls.enabled else DEFAULT_TCP_PORT)
    except ValueError:
        raise HostError(f"Invalid bind address format: {host}") from None
    return Endpoint("tcp", name, number, tls)


class IncompleteRead(ConnectionError):
    """The daemon closed the connection before the body it announced ended."""


class HTTPResponse:
    """One response read off a socket we own: status, headers, and a body
    framed by ``Content-Length``, chunked coding, or the connection's end.

    Written by hand instead of using ``http.client``: that module pulls in
    the ``email`` package, a third of a short command's import time, for
    header parsing we need a dozen lines for. Reading is ``http.client``'s
    file-like subset the callers use: ``read``, ``read1``, ``readinto``.
    """

    def __init__(self, sock: socket.socket, method: str):
        self._barge_sock = sock  # for shutdown() from another thread
        self._fp = sock.makefile("rb", buffering=65536)
        while True:
            self.version, self.status, self.reason = self._status_line()
            self._headers = self._header_lines()
            if self.status != 100:
                break
        encoding = (self.getheader("Transfer-Encoding") or "").lower()
        self._chunked = "chunked" in encoding
        self._chunk_left = 0  # bytes left in the current chunk (chunked mode)
        self._length: int | None = None  # bytes left (length mode); None: until close
        self._done = False
        if method == "HEAD" or self.status in (204, 304) or 100 <= self.status < 200:
            self._done = True
        elif not self._chunked:
            length = self.getheader("Content-Length")
            if length is not None:
                try:
                    self._length = int(length.split(",")[0].strip())
                except ValueError:
                    raise ValueError(f"bad Content-Length: {length!r}") from None
                if self._length < 0:
                    raise ValueError(f"bad Content-Length: {length!r}")
                if self._length == 0:
                    self._done = True

    # -- head ----------------------------------------------------------

    def _line(self) -> bytes:
        line = self._fp.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise ValueError("response line too long")
        return line

    def _status_line(self) -> tuple[str, int, str]:
        line = self._line()
        if not line:
            raise ConnectionResetError("the daemon closed the connection without a response")
        version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
            raise ValueError(f"bad status line: {line[:80]!r}")
        return version, int(code), reason.strip()

    def _header_lines(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        while True:
            line = self._line()
            if line in (b"\r\n", b"\n", b""):
                return headers
            if len(headers) >= MAX_HEADERS:
                raise ValueError(f"more than {MAX_HEADERS} headers")
            text = line.decode("latin-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and headers:  # obsolete line folding
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {text.strip()}")
                continue
            name, sep, value = text.partition(":")
            if not sep:
                raise ValueError(f"bad header line: {line[:80]!r}")
            headers.append((name.strip(), value.strip()))

    def getheader(self, name: str, default: str | None = None) -> str | None:
        """The header's value (repeated headers joined with ", ") or ``default``."""
        name = name.lower()
        values = [v for k, v in self._headers if k.lower() == name]
        return ", ".join(values) if values else default

    def getheaders(self) -> list[tuple[str, str]]:
        return list(self._headers)

    # -- body ----------------------------------------------------------

    def _next_chunk(self) -> bool:
        """Step into the next chunk; False after the last one (and its trailers)."""
        if self._chunk_left == 0 and not self._done:
            line = self._line()
            if not line:
                raise IncompleteRead("the daemon closed the connection mid-response")
            size = line.split(b";", 1)[0].strip()
            try:
                self._chunk_left = int(size, 16)
            except ValueError:
                raise ValueError(f"bad chunk size: {line[:80]!r}") from None
            if self._chunk_left == 0:
                while self._line() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._done = True
        return not self._done

    def _consumed(self, n: int, wanted: int) -> None:
        if n == 0 and wanted:
            if self._chunked or self._length is not None:
                raise IncompleteRead("the daemon closed the connection mid-response")
            self._done = True
            return
        if self._chunked:
            self._chunk_left -= n
            if self._chunk_left == 0 and self._fp.read(2) not in (b"\r\n", b"\n"):
                raise ValueError("chunk without its CRLF")
        elif self._length is not None:
            self._length -= n
            if self._length == 0:
                self._done = True

    def _limit(self, size: int) -> int:
        """How much of ``size`` the current framing allows (0: body over)."""
        if self._done or size <= 0:
            return 0
        if self._chunked:
            return min(size, self._chunk_left) if self._next_chunk() else 0
        if self._length is not None:
            return min(size, self._length)
        return size

    def read1(self, size: int = CHUNK) -> bytes:
        """Up to ``size`` bytes with at most one read from the socket."""
        want = self._limit(size if size >= 0 else CHUNK)
        if not want:
            return b""
        data = self._fp.read1(want)
        self._consumed(len(data), want)
        return data

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        want = self._limit(len(view))
        if not want:
            return 0
        n = self._fp.readinto(view[:want])
        self._consumed(n, want)
        return n

    def read(self, size: int | None = None) -> bytes:
        """``size`` bytes (fewer only at the end), or the whole rest."""
        parts = []
        left = -1 if size is None or size < 0 else size
        while left:
            data = self.read1(CHUNK if left < 0 else left)
            if not data:
                break
            parts.append(data)
            if left > 0:
                left -= len(data)
        return b"".join(parts)

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._fp.closed

    def close(self) -> None:
        self._fp.close()
        self._barge_sock.close()

    def __enter__(self) -> "HTTPResponse":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _connect(endpoint: Endpoint, timeout: float | None) -> socket.socket:
    """A connected socket (TLS-wrapped when asked); connection errors as
    :class:`DaemonUnreachable`."""
    try:
        if endpoint.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(endpoint.address)
            except BaseException:
                sock.close()
                raise
            return sock
        sock = socket.create_connection((endpoint.address, endpoint.port), timeout)
        if endpoint.tls.enabled:
            try:
                sock = endpoint.tls.context().wrap_socket(sock, server_hostname=endpoint.address)
            except BaseException:
                sock.close()
                raise
        return sock
    except (ConnectionRefusedError, FileNotFoundError, PermissionError, socket.gaierror) as exc:
        raise DaemonUnreachable(endpoint.url, str(exc)) from None


def _head(method: str, path: str, headers: Mapping[str, str]) -> bytes:
    if any(c <= " " or c == "\x7f" for c in method + path):
        raise ValueError(f"URL can't contain control characters: {path!r}")
    lines = [f"{method} {path} HTTP/1.1"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise ValueError(f"invalid header: {name!r}")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


Body = bytes | IO[bytes] | Iterable[bytes] | None


def _regular_file_size(body) -> int | None:
    try:
        fd = body.fileno()
        st = os.fstat(fd)
    except (AttributeError, OSError, ValueError):
        return None
    import stat

    if not stat.S_ISREG(st.st_mode):
        return None
    return st.st_size - os.lseek(fd, 0, os.SEEK_CUR)


def _chunks(body) -> Iterable[bytes]:
    if hasattr(body, "read"):
        reader = getattr(body, "read1", None) or body.read
        while True:
            data = reader(CHUNK)
            if not data:
                return
            yield data
    else:
        for data in body:
            if data:
                yield bytes(data)


def _send_body(sock: socket.socket, head: dict[str, str], method: str, path: str, body: Body) -> None:
    if body is None:
        if method in ("POST", "PUT"):
            head["Content-Length"] = "0"
        sock.sendall(_head(method, path, head))
    elif isinstance(body, (bytes, bytearray)):
        head["Content-Length"] = str(len(body))
        sock.sendall(_head(method, path, head) + bytes(body))
    else:
        size = _regular_file_size(body)
        if size is not None:
            head["Content-Length"] = str(size)
            sock.sendall(_head(method, path, head))
            sock.sendfile(body)  # falls back to send() on TLS sockets
        else:
            head["Transfer-Encoding"] = "chunked"
            sock.sendall(_head(method, path, head))
            for data in _chunks(body):
                sock.sendall(b"%x\r\n" % len(data))
                sock.sendall(data)
                sock.sendall(b"\r\n")
            sock.sendall(b"0\r\n\r\n")


def send(
    endpoint: Endpoint,
    method: str,
    path: str,
    query: Mapping[str, object] | list[tuple[str, object]] | None = None,
    body: Body = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> HTTPResponse:
    """Send one request (one connection, closed with the response) and
    return the response with its body unread."""
    if query:
        items = query.items() if isinstance(query, Mapping) else query
        pairs = [(k, v) for k, v in items if v is not None]
        if pairs:
            path = f"{path}?{urlencode(pairs)}"
    head = {"Host": "barge" if endpoint.scheme == "unix" else endpoint.address, "User-Agent": "barge-client"}
    head.update(headers or {})
    sock = _connect(endpoint, timeout)
    try:
        try:
            _send_body(sock, head, method, path, body)
        except BrokenPipeError:
            pass  # the daemon stopped reading (it rejected the body): its answer says why
        return HTTPResponse(sock, method)
    except BaseException:
        sock.close()
        raise


def open_socket(endpoint: Endpoint, timeout: float | None = None) -> socket.socket:
    """A connected socket (TLS-wrapped when asked) for a hijacked request."""
    sock = _connect(endpoint, timeout)
    sock.settimeout(None)
    return sock
