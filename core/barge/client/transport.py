"""HTTP over a unix socket or TCP (optionally TLS) with stdlib ``http.client``.

Bodies are sent without copying through Python where possible: a regular
file goes out with ``sendfile`` and a ``Content-Length``; a pipe or an
iterator is sent chunked in 1 MiB pieces. Responses are returned unread so
callers can stream them (image tars, JSON progress messages).
"""

from __future__ import annotations

import http.client
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


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None):
        super().__init__("localhost", timeout=timeout, blocksize=CHUNK)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def connect(endpoint: Endpoint, timeout: float | None = None) -> http.client.HTTPConnection:
    if endpoint.scheme == "unix":
        return _UnixConnection(endpoint.address, timeout)
    if endpoint.tls.enabled:
        return http.client.HTTPSConnection(
            endpoint.address, endpoint.port, timeout=timeout, context=endpoint.tls.context(), blocksize=CHUNK
        )
    return http.client.HTTPConnection(endpoint.address, endpoint.port, timeout=timeout, blocksize=CHUNK)


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


def send(
    endpoint: Endpoint,
    method: str,
    path: str,
    query: Mapping[str, object] | list[tuple[str, object]] | None = None,
    body: Body = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> http.client.HTTPResponse:
    """Send one request and return the response with its body unread."""
    if query:
        items = query.items() if isinstance(query, Mapping) else query
        pairs = [(k, v) for k, v in items if v is not None]
        if pairs:
            path = f"{path}?{urlencode(pairs)}"
    conn = connect(endpoint, timeout)
    hdrs = {"User-Agent": "barge-client", "Host": "barge" if endpoint.scheme == "unix" else endpoint.address}
    hdrs.update(headers or {})
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in hdrs.items():
            conn.putheader(name, value)
        if body is None:
            if method in ("POST", "PUT"):
                conn.putheader("Content-Length", "0")
            conn.endheaders()
        elif isinstance(body, (bytes, bytearray)):
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(bytes(body))
        else:
            size = _regular_file_size(body)
            if size is not None:
                conn.putheader("Content-Length", str(size))
                conn.endheaders()
                conn.sock.sendfile(body)  # falls back to send() on TLS sockets
            else:
                conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                for data in _chunks(body):
                    conn.sock.sendall(b"%x\r\n" % len(data))
                    conn.sock.sendall(data)
                    conn.sock.sendall(b"\r\n")
                conn.sock.sendall(b"0\r\n\r\n")
        sock = conn.sock
        response = conn.getresponse()
    except (ConnectionRefusedError, FileNotFoundError) as exc:
        conn.close()
        raise DaemonUnreachable(endpoint.url, str(exc)) from None
    except socket.gaierror as exc:
        conn.close()
        raise DaemonUnreachable(endpoint.url, str(exc)) from None
    except BrokenPipeError:
        # The daemon stopped reading (it rejected the body): its answer says why.
        try:
            sock = conn.sock
            response = conn.getresponse()
        except Exception:
            conn.close()
            raise
    except PermissionError as exc:
        conn.close()
        raise DaemonUnreachable(endpoint.url, str(exc)) from None
    # The response keeps the socket; closing it closes the connection.
    response._barge_conn = conn  # type: ignore[attr-defined]
    response._barge_sock = sock  # type: ignore[attr-defined]  (for shutdown() from another thread)
    return response


def open_socket(endpoint: Endpoint, timeout: float | None = None) -> socket.socket:
    """A connected socket (TLS-wrapped when asked) for a hijacked request."""
    conn = connect(endpoint, timeout)
    try:
        conn.connect()
    except (ConnectionRefusedError, FileNotFoundError, PermissionError, socket.gaierror) as exc:
        conn.close()
        raise DaemonUnreachable(endpoint.url, str(exc)) from None
    sock = conn.sock
    conn.sock = None  # the socket is ours now
    sock.settimeout(None)
    return sock
