"""dockerd's ``syslog`` log driver: each line a syslog message to a socket.

``syslog-address`` is ``unix://<path>``, ``unixgram://<path>``,
``tcp://host[:port]`` or ``udp://host[:port]`` (port 514), or empty for the
host's ``/dev/log``; ``syslog-format`` picks the header: empty (the local
syslog format ``<pri>Mmm dd hh:mm:ss tag[pid]: msg``), ``rfc3164``,
``rfc5424`` or ``rfc5424micro``; ``tag`` defaults to ``{{.ID}}``. Every
message ends with a newline, as srslog sends it. dockerd's pid in the
header is the writing process's: here the container's monitor. The TLS
options (``tcp+tls``) are accepted and checked as dockerd checks them at
create; barge's tests only use a local unix socket.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime, timezone
from typing import Mapping

from barge.logdriver.base import LogDriver, LogDriverError, LogInfo, Message
from barge.logdriver.options import parse_bool
from barge.logdriver.tag import render_tag

FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7, "uucp": 8,
    "cron": 9, "authpriv": 10, "ftp": 11, "local0": 16, "local1": 17, "local2": 18, "local3": 19,
    "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}
FORMATS = ("", "rfc3164", "rfc5424", "rfc5424micro")
TRANSPORTS = ("tcp://", "tcp+tls://", "udp://", "unix://", "unixgram://")
DEFAULT_PORT = "514"
LOCAL_SOCKETS = ("/dev/log", "/var/run/syslog", "/var/run/log")
SEVERITY_INFO, SEVERITY_ERR = 6, 3
CONNECT_TIMEOUT = 10.0


def parse_address(address: str) -> tuple[str, str]:
    """(scheme, address) as moby's ``parseAddress``; ('', '') for the local syslog."""
    if not address:
        return "", ""
    if not address.startswith(TRANSPORTS):
        raise LogDriverError(f"syslog-address should be in form proto://address, got {address}")
    scheme, _, rest = address.partition("://")
    if scheme in ("unix", "unixgram"):
        path = rest.split("?", 1)[0].split("#", 1)[0]
        path = "/" + path.split("/", 1)[1] if not path.startswith("/") and "/" in path else path
        try:
            os.stat(path)
        except OSError as exc:
            raise LogDriverError(f"stat {path}: {(exc.strerror or str(exc)).lower()}") from None
        return scheme, path
    host = rest.split("/", 1)[0]
    if host.startswith("["):
        if "]" not in host:
            raise LogDriverError(f'parse "{address}": missing \']\' in host')
        if not host.endswith("]") and ":" in host[host.index("]"):]:
            return scheme, host
        return scheme, f"{host}:{DEFAULT_PORT}"
    if ":" not in host:
        host = f"{host}:{DEFAULT_PORT}"
    return scheme, host


def parse_facility(text: str) -> int:
    """The facility's bits of the priority (its number shifted left by 3)."""
    if not text:
        return FACILITIES["daemon"] << 3
    if text in FACILITIES:
        return FACILITIES[text] << 3
    if text.isdigit() and 0 <= int(text) <= 23:
        return int(text) << 3
    raise LogDriverError("invalid syslog facility")


def _now_stamp() -> str:
    """Go's ``time.Stamp`` in local time: ``Jan _2 15:04:05``."""
    t = time.localtime()
    return time.strftime("%b ", t) + f"{t.tm_mday:2d}" + time.strftime(" %H:%M:%S", t)


def _rfc3339(micro: bool) -> str:
    now = datetime.now(timezone.utc).astimezone()
    text = now.isoformat(timespec="microseconds" if micro else "seconds")
    return text.replace("+00:00", "Z")


def format_message(fmt: str, priority: int, hostname: str, tag: str, pid: int, content: str) -> str:
    """srslog's formatters as dockerd configures them (rfc5424 with the tag as app name and msgid)."""
    if fmt == "rfc3164":
        return f"<{priority}>{_now_stamp()} {hostname} {tag}[{pid}]: {content}"
    if fmt in ("rfc5424", "rfc5424micro"):
        return f"<{priority}>1 {_rfc3339(fmt == 'rfc5424micro')} {hostname} {tag} {pid} {tag} - {content}"
    return f"<{priority}>{_now_stamp()} {tag}[{pid}]: {content}"


class SyslogDriver(LogDriver):
    name = "syslog"
    options = frozenset({"env", "env-regex", "labels", "labels-regex", "syslog-address", "syslog-facility",
                         "syslog-tls-ca-cert", "syslog-tls-cert", "syslog-tls-key", "syslog-tls-skip-verify",
                         "tag", "syslog-format"})

    @classmethod
    def validate(cls, opts: Mapping[str, str]) -> None:
        super().validate(opts)
        parse_address(opts.get("syslog-address", ""))
        parse_facility(opts.get("syslog-facility", ""))
        if opts.get("syslog-format", "") not in FORMATS:
            raise LogDriverError("Invalid syslog format")

    def __init__(self, info: LogInfo):
        super().__init__(info)
        opts = info.config
        self.tag = render_tag(info)
        self.scheme, self.address = parse_address(opts.get("syslog-address", ""))
        self.facility = parse_facility(opts.get("syslog-facility", ""))
        self.format = opts.get("syslog-format", "")
        if self.format not in FORMATS:
            raise LogDriverError("Invalid syslog format")
        self.hostname = info.hostname or socket.gethostname()
        self.pid = os.getpid()
        #: ``mode=non-blocking``: a message the socket cannot take at once is dropped, never waited for
        #: (dockerd queues up to ``max-buffer-size`` first, then drops too).
        self.non_blocking = opts.get("mode") == "non-blocking"
        self.sock = self._connect()
        self.sock.setblocking(not self.non_blocking)

    def _connect(self) -> socket.socket:
        scheme, address = self.scheme, self.address
        if not scheme:
            return self._connect_local()
        if scheme in ("unix", "unixgram"):
            kind = socket.SOCK_STREAM if scheme == "unix" else socket.SOCK_DGRAM
            sock = socket.socket(socket.AF_UNIX, kind | socket.SOCK_CLOEXEC)
            target: object = address
        else:
            host, _, port = address.rpartition(":")
            host = host.strip("[]")
            kind = socket.SOCK_DGRAM if scheme == "udp" else socket.SOCK_STREAM
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, kind | socket.SOCK_CLOEXEC)
            target = (host, int(port))
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(target)  # type: ignore[arg-type]
        except OSError as exc:
            sock.close()
            net = "tcp" if scheme == "tcp+tls" else scheme
            raise LogDriverError(f"dial {net} {address}: connect: {(exc.strerror or str(exc)).lower()}") from None
        if scheme == "tcp+tls":
            sock = self._wrap_tls(sock, address)
        sock.settimeout(None)
        return sock

    def _wrap_tls(self, sock: socket.socket, address: str) -> socket.socket:
        import ssl  # only tcp+tls needs it; a monitor would import it after its fork, privately

        opts = self.info.config
        ctx = ssl.create_default_context(cafile=opts.get("syslog-tls-ca-cert") or None)
        if opts.get("syslog-tls-cert"):
            ctx.load_cert_chain(opts["syslog-tls-cert"], opts.get("syslog-tls-key") or None)
        if opts.get("syslog-tls-skip-verify") and parse_bool(opts["syslog-tls-skip-verify"]):
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        try:
            return ctx.wrap_socket(sock, server_hostname=address.rpartition(":")[0].strip("[]"))
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            raise LogDriverError(str(exc)) from None

    def _connect_local(self) -> socket.socket:
        """srslog's ``unixSyslog``: the first of the local sockets that takes a datagram or a stream."""
        for path in LOCAL_SOCKETS:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                sock = socket.socket(socket.AF_UNIX, kind | socket.SOCK_CLOEXEC)
                try:
                    sock.connect(path)
                except OSError:
                    sock.close()
                    continue
                self.scheme = "unixgram" if kind == socket.SOCK_DGRAM else "unix"
                self.address = path
                return sock
        raise LogDriverError("Unix syslog delivery error")

    def log(self, msg: Message) -> None:
        severity = SEVERITY_ERR if msg.source == "stderr" else SEVERITY_INFO
        content = msg.line.decode("utf-8", "replace")
        if not content.endswith("\n"):
            content += "\n"
        data = format_message(self.format, self.facility | severity, self.hostname, self.tag, self.pid,
                              content).encode()
        try:
            self.sock.sendall(data)
        except BlockingIOError:
            return  # non-blocking mode: the reader is behind, the message is lost
        except OSError:
            # srslog redials once and sends again; a second failure is the caller's to report
            self.sock.close()
            self.sock = self._connect()
            self.sock.setblocking(not self.non_blocking)
            self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()
