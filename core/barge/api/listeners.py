"""Opening the sockets the API is served on: ``unix://``, ``tcp://``, ``fd://``.

Every listener is a bound, listening socket handed to aiohttp's ``SockSite``,
so all three kinds are served the same way. The rules are moby's: a unix
socket of a live daemon is never taken over, and a TCP listener that is
neither on loopback nor protected by mutual TLS is refused (moby refuses
unauthenticated TCP since v27).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

from barge.config import DaemonConfig, TLSConfig
from barge.errors import Conflict, InvalidParameter

#: First file descriptor passed by socket activation (systemd's SD_LISTEN_FDS_START).
LISTEN_FDS_START = 3
DEFAULT_TCP_PORT = 2375
DEFAULT_TLS_PORT = 2376
#: Connections waiting for the event loop to accept them: the kernel's cap, as Go's ``net.Listen``
#: takes it. With 128, 200 docker CLIs connecting at once saw "Cannot connect to the Docker daemon"
#: (a full backlog refuses a non-blocking unix connect with EAGAIN).
BACKLOG = socket.SOMAXCONN


@dataclass
class Listener:
    address: str  # as the user wrote it, for logs and errors
    sock: socket.socket
    ssl_context: ssl.SSLContext | None = None
    unix_path: Path | None = None  # removed at shutdown

    def close(self) -> None:
        self.sock.close()
        if self.unix_path is not None:
            try:
                self.unix_path.unlink()
            except FileNotFoundError:
                pass


def open_listeners(cfg: DaemonConfig) -> list[Listener]:
    """One listener per ``cfg.hosts`` entry; on any failure, none stays open."""
    opened: list[Listener] = []
    activated = _activated_fds()
    try:
        for host in cfg.hosts:
            scheme, _, rest = host.partition("://")
            if scheme == "unix":
                opened.append(open_unix(host, rest))
            elif scheme == "tcp":
                opened.append(open_tcp(host, rest, cfg.tls))
            elif scheme == "fd":
                opened.extend(open_fds(host, rest, activated))
            else:
                raise InvalidParameter(f"invalid host {host!r}: use unix://PATH, tcp://HOST:PORT or fd://")
    except BaseException:
        for listener in opened:
            listener.close()
        raise
    return opened


# ---------------------------------------------------------------------------
# unix
# ---------------------------------------------------------------------------


def _answers(path: Path) -> bool:
    """Whether something accepts connections on the unix socket ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def open_unix(host: str, path_text: str) -> Listener:
    if not path_text:
        raise InvalidParameter(f"invalid host {host!r}: no socket path")
    path = Path(path_text)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        st = path.lstat()
    except FileNotFoundError:
        st = None
    if st is not None:
        if not stat.S_ISSOCK(st.st_mode):
            raise Conflict(f"cannot listen on {host}: {path} exists and is not a socket")
        if _answers(path):
            raise Conflict(f"another daemon is listening on {host}")
        path.unlink()  # stale: its daemon died without cleaning up
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        os.chmod(path, 0o660)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise Conflict(f"cannot listen on {host}: {exc.strerror or exc}") from None
    return Listener(host, sock, unix_path=path)


# ---------------------------------------------------------------------------
# tcp
# ---------------------------------------------------------------------------


def split_host_port(host: str, rest: str, default_port: int) -> tuple[str, int]:
    rest = rest.rstrip("/")
    if rest.startswith("["):
        addr, _, tail = rest[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    elif rest.count(":") == 1:
        addr, _, port_text = rest.partition(":")
    else:
        addr, port_text = rest, ""
    addr = addr or "127.0.0.1"
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise InvalidParameter(f"invalid host {host!r}: bad port {port_text!r}") from None
    if not 0 <= port <= 65535:
        raise InvalidParameter(f"invalid host {host!r}: port out of range")
    return addr, port


def is_loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


def server_ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    """TLS with the daemon's key pair; with ``verify``, clients need a cert from ``cacert``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(tls.cert, tls.key)
        if tls.verify:
            if not tls.cacert:
                raise InvalidParameter("--tlsverify needs --tlscacert: the CA that signs client certificates")
            ctx.load_verify_locations(cafile=tls.cacert)
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise InvalidParameter(f"cannot load TLS files: {exc}") from None
    return ctx


def open_tcp(host: str, rest: str, tls: TLSConfig) -> Listener:
    addr, port = split_host_port(host, rest, DEFAULT_TLS_PORT if tls.enabled else DEFAULT_TCP_PORT)
    try:
        infos = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InvalidParameter(f"invalid host {host!r}: {exc.strerror}") from None
    family, _, _, _, sockaddr = infos[0]
    mutual_tls = tls.enabled and tls.verify
    if not mutual_tls and not is_loopback(sockaddr[0]):
        raise InvalidParameter(
            f"refusing to listen on {host}: TCP on a non-loopback address needs mutual TLS "
            "(--tlsverify with --tlscacert, --tlscert and --tlskey); without it anyone who "
            "reaches the port controls the daemon. Listen on 127.0.0.1 or a unix socket instead."
        )
    if tls.verify and not tls.enabled:
        raise InvalidParameter("--tlsverify needs --tlscert and --tlskey")
    ctx = server_ssl_context(tls) if tls.enabled else None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise Conflict(f"cannot listen on {host}: address already in use") from None
        raise InvalidParameter(f"cannot listen on {host}: {exc.strerror or exc}") from None
    return Listener(host, sock, ssl_context=ctx)


# ---------------------------------------------------------------------------
# fd (socket activation)
# ---------------------------------------------------------------------------


def _activated_fds() -> list[int]:
    """File descriptors passed by socket activation, if meant for this process.

    The variables are removed so that children (container monitors) do not
    take the sockets for theirs.
    """
    pid, count = os.environ.get("LISTEN_PID"), os.environ.get("LISTEN_FDS")
    if not pid or not count:
        return []
    if pid != str(os.getpid()):
        return []
    for var in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(var, None)
    try:
        n = int(count)
    except ValueError:
        return []
    return list(range(LISTEN_FDS_START, LISTEN_FDS_START + n))


def open_fds(host: str, rest: str, activated: list[int]) -> list[Listener]:
    if not activated:
        raise InvalidParameter(f"cannot listen on {host}: no sockets were passed by socket activation (LISTEN_FDS)")
    if rest:
        try:
            wanted = int(rest)
        except ValueError:
            raise InvalidParameter(f"invalid host {host!r}: fd must be a number") from None
        if wanted not in activated:
            raise InvalidParameter(f"cannot listen on {host}: fd {wanted} was not passed (got {activated})")
        fds = [wanted]
    else:
        fds = activated
    out = []
    for fd in fds:
        sock = socket.socket(fileno=fd)
        if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            sock.detach()
            raise InvalidParameter(f"cannot listen on {host}: fd {fd} is not a listening socket")
        os.set_inheritable(fd, False)
        out.append(Listener(f"fd://{fd}", sock))
    return out
