"""The embedded DNS server at 127.0.0.11:53 in each container's sandbox.

As libnetwork's resolver does for user-defined networks: names barge knows
(container names, aliases, short ids on a shared network) are answered here
with A records (TTL 600, as Docker); any other query goes to the host's
resolvers *from the daemon's namespace*, so a resolver on the host's own
loopback still works although the container could never reach it.

One daemon thread runs one selector for every sandbox. The listening sockets
are made inside each namespace (:func:`barge.netns.run_in`) and used from the
loop thread: a socket stays in the namespace it was created in. Forwarding
sockets are made by the loop thread, hence in the host's namespace; they are
non-blocking, one per query in flight (a fresh source port and query id each
time), tried upstream after upstream with a timeout. Callers talk to the
loop through a job queue, so only that thread touches the selector.
"""

from __future__ import annotations

import errno
import heapq
import ipaddress
import itertools
import logging
import os
import random
import secrets
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from barge import netns

log = logging.getLogger("barge.dns")

ADDRESS = "127.0.0.11"
PORT = 53
TTL = 600                # libnetwork's respTTL
UDP_LIMIT = 512          # largest UDP answer to a client without EDNS (RFC 1035 4.2.1)
MAX_PENDING = 1024       # forwarded queries in flight, all sandboxes together
MAX_TCP_CLIENTS = 64     # open TCP connections per sandbox
MAX_TCP_BACKLOG = 1 << 18  # answers a TCP client leaves unread before it is dropped
TCP_IDLE = 8.0           # seconds an idle client TCP connection is kept

T_A, T_PTR, T_AAAA, T_OPT = 1, 12, 28, 41
C_IN = 1
SERVFAIL, NOTIMP = 2, 4
F_QR, F_OPCODE, F_TC, F_RD, F_RA = 0x8000, 0x7800, 0x0200, 0x0100, 0x0080

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE

Lookup = Callable[[str, str], "list[str] | None"]
Upstreams = Callable[[str], "list[str]"]
Reverse = Callable[[str, str], "str | None"]


# -- wire format ------------------------------------------------------------

class Malformed(ValueError):
    """A packet that is not a DNS query we can read; it is dropped."""


@dataclass(frozen=True)
class Query:
    id: int
    flags: int
    question: bytes  # the question's wire bytes, echoed as sent (case included)
    name: str        # lowercased, without the trailing dot
    qtype: int
    qclass: int
    udp_limit: int   # largest UDP answer the client accepts


def _skip_name(data: bytes, pos: int) -> int:
    while True:
        if pos >= len(data):
            raise Malformed("name runs past the end")
        n = data[pos]
        if n & 0xC0 == 0xC0:
            return pos + 2
        if n & 0xC0:
            raise Malformed("bad label type")
        pos += 1 + n
        if n == 0:
            return pos


def parse_query(data: bytes) -> Query:
    """Header, the one question, and the EDNS payload size if an OPT record is there."""
    if len(data) < 12:
        raise Malformed("shorter than a header")
    qid, flags, qd, an, ns, ar = struct.unpack_from("!6H", data)
    if flags & F_QR or qd != 1:
        raise Malformed("not a query with one question")
    labels, pos = [], 12
    while True:
        if pos >= len(data):
            raise Malformed("question runs past the end")
        n = data[pos]
        pos += 1
        if n == 0:
            break
        if n > 63 or pos + n > len(data):
            raise Malformed("bad label in the question")
        labels.append(data[pos:pos + n])
        pos += n
    if pos - 12 > 255 or pos + 4 > len(data):
        raise Malformed("bad question")
    qtype, qclass = struct.unpack_from("!HH", data, pos)
    pos += 4
    question = data[12:pos]
    limit = UDP_LIMIT
    for _ in range(an + ns + ar):
        pos = _skip_name(data, pos)
        if pos + 10 > len(data):
            raise Malformed("record runs past the end")
        rtype, rclass, _ttl, rdlen = struct.unpack_from("!HHIH", data, pos)
        pos += 10 + rdlen
        if pos > len(data):
            raise Malformed("record data runs past the end")
        if rtype == T_OPT:
            limit = max(UDP_LIMIT, rclass)  # an OPT's class is the sender's UDP payload size
    name = b".".join(labels).lower().decode("latin-1")
    return Query(qid, flags, question, name, qtype, qclass, limit)


def reply(q: Query, rcode: int = 0, answers: Sequence[bytes] = ()) -> bytes:
    """An answer to ``q``: its id, opcode and RD, recursion available, its question echoed."""
    flags = F_QR | (q.flags & (F_OPCODE | F_RD)) | F_RA | rcode
    return struct.pack("!6H", q.id, flags, 1, len(answers), 0, 0) + q.question + b"".join(answers)


def _record(rtype: int, rdata: bytes) -> bytes:
    # 0xC00C: the owner is the question's name, at offset 12
    return b"\xc0\x0c" + struct.pack("!HHIH", rtype, C_IN, TTL, len(rdata)) + rdata


def _encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) <= 63:
            raise ValueError(f"not a DNS name: {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def _ptr_address(name: str) -> str | None:
    """``4.3.2.1.in-addr.arpa`` -> ``1.2.3.4``, a 32-nibble ``ip6.arpa`` name -> its IPv6 address
    (compressed); None when not a full reverse name."""
    if name.endswith(".ip6.arpa"):
        nibbles = name[: -len(".ip6.arpa")].split(".")
        if len(nibbles) != 32 or not all(len(n) == 1 and n in "0123456789abcdef" for n in nibbles):
            return None
        return str(ipaddress.IPv6Address(int("".join(reversed(nibbles)), 16)))
    if not name.endswith(".in-addr.arpa"):
        return None
    parts = name[: -len(".in-addr.arpa")].split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        return None
    return ".".join(str(int(p)) for p in reversed(parts))


def fit(msg: bytes, limit: int, question: bytes) -> bytes:
    """A UDP answer too big for the client: header and question only, TC set."""
    if len(msg) <= limit:
        return msg
    qid, flags = struct.unpack_from("!HH", msg)
    return struct.pack("!6H", qid, flags | F_TC, 1, 0, 0, 0) + question


def parse_upstream(text: str) -> tuple[int, tuple] | None:
    """``ip``, ``ip:port``, ``[ipv6]:port`` -> (family, sockaddr); None when unusable."""
    host, port = text.strip(), PORT
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        if rest:
            port = rest.removeprefix(":")
    elif host.count(":") == 1:
        host, port = host.split(":")
    try:
        ip, port = ipaddress.ip_address(host), int(port)
    except ValueError:
        return None
    if str(ip) == ADDRESS or not 0 < port < 65536:
        return None  # never ourselves
    if ip.version == 4:
        return socket.AF_INET, (str(ip), port)
    return socket.AF_INET6, (str(ip), port, 0, 0)


# -- the parts the loop drives ---------------------------------------------

class _Sandbox:
    def __init__(self, cid: str, path: str, udp: socket.socket, tcp: socket.socket):
        self.cid, self.path, self.udp, self.tcp = cid, path, udp, tcp
        self.clients: set[_TcpClient] = set()
        self.forwards: set[_Forward] = set()


class _TcpClient:
    """A container's TCP connection: length-framed queries in, answers out."""

    def __init__(self, dns: EmbeddedDNS, sandbox: _Sandbox, sock: socket.socket):
        self.dns, self.sandbox, self.sock = dns, sandbox, sock
        self.inbuf = self.out = b""
        self.events = 0
        self.eof = self.closed = False
        self.waiting = 0  # queries not answered yet
        self.deadline = 0.0
        self.touch()
        self.update()

    def touch(self) -> None:
        self.deadline = self.dns._at(time.monotonic() + TCP_IDLE, self)

    def expire(self) -> None:
        if self.waiting:
            self.touch()
        else:
            self.close()

    def on_event(self, mask: int) -> None:
        if mask & WRITE:
            self.flush()
        if mask & READ and not self.closed:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                return self.close()
            if not data:
                self.eof = True
            self.inbuf += data
            self.touch()
            while len(self.inbuf) >= 2:
                size = struct.unpack_from("!H", self.inbuf)[0]
                if len(self.inbuf) < 2 + size:
                    break
                msg, self.inbuf = self.inbuf[2:2 + size], self.inbuf[2 + size:]
                self.waiting += 1
                if not self.dns._handle(self.sandbox, msg, self.answer, tcp=True, done=self.done):
                    return self.close()  # the stream cannot be trusted any more
            self.update()

    def done(self) -> None:
        self.waiting -= 1
        self.update()

    def answer(self, msg: bytes) -> None:
        if self.closed:
            return
        self.out += struct.pack("!H", len(msg)) + msg
        if len(self.out) > MAX_TCP_BACKLOG:
            return self.close()  # it asks but never reads
        self.flush()

    def flush(self) -> None:
        if self.out and not self.closed:
            try:
                self.out = self.out[self.sock.send(self.out):]
            except BlockingIOError:
                pass
            except OSError:
                return self.close()
        self.update()

    def update(self) -> None:
        if self.closed:
            return
        want = (0 if self.eof else READ) | (WRITE if self.out else 0)
        if not want and not self.waiting:
            return self.close()
        if want != self.events:
            self.dns._watch(self.sock, self.events, want, self.on_event)
            self.events = want

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.dns._watch(self.sock, self.events, 0, None)
            self.sock.close()
            self.sandbox.clients.discard(self)


class _Forward:
    """One query on its way to the upstreams, one upstream at a time until one answers."""

    def __init__(self, dns: EmbeddedDNS, sandbox: _Sandbox, q: Query, raw: bytes,
                 answer: Callable[[bytes], None], upstreams: list, tcp: bool):
        self.dns, self.sandbox, self.q, self.answer, self.tcp = dns, sandbox, q, answer, tcp
        self.raw = raw
        self.upstreams = iter(upstreams)
        self.sock: socket.socket | None = None
        self.events = 0
        self.buf = b""
        self.qid = 0
        self.deadline = 0.0
        self.closed = False
        sandbox.forwards.add(self)
        dns._pending.add(self)

    def next(self) -> None:
        """Drop the current upstream and try the next; SERVFAIL when none is left."""
        self._drop_socket()
        for family, addr in self.upstreams:
            self.qid = secrets.randbits(16)
            packet = struct.pack("!H", self.qid) + self.raw[2:]
            sock = socket.socket(family, socket.SOCK_STREAM if self.tcp else socket.SOCK_DGRAM)
            sock.setblocking(False)
            try:
                if self.tcp:
                    err = sock.connect_ex(addr)
                    if err not in (0, errno.EINPROGRESS):
                        raise OSError(err, os.strerror(err))
                    self.buf = struct.pack("!H", len(packet)) + packet
                    want = WRITE
                else:
                    sock.connect(addr)
                    sock.send(packet)
                    want = READ
            except OSError as exc:
                log.debug("dns: upstream %s: %s", addr, exc)
                sock.close()
                continue
            self.sock, self.events = sock, want
            self.dns._watch(sock, 0, want, self.on_event)
            self.deadline = self.dns._at(time.monotonic() + self.dns.timeout, self)
            return
        self.finish(reply(self.q, SERVFAIL))

    def expire(self) -> None:
        log.debug("dns: upstream timed out for %s", self.q.name)
        self.next()

    def on_event(self, mask: int) -> None:
        try:
            if mask & WRITE:  # TCP only: connected (or failed), send the framed query
                err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, os.strerror(err))
                self.buf = self.buf[self.sock.send(self.buf):]
                if not self.buf:
                    self.dns._watch(self.sock, self.events, READ, self.on_event)
                    self.events = READ
                return
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:  # refused (ICMP for UDP), reset, ...
            log.debug("dns: upstream failed for %s: %s", self.q.name, exc)
            return self.next()
        if self.tcp:
            if not data:
                return self.next()
            self.buf += data
            if len(self.buf) < 2 or len(self.buf) < 2 + struct.unpack_from("!H", self.buf)[0]:
                return
            data = self.buf[2:2 + struct.unpack_from("!H", self.buf)[0]]
        if len(data) < 12 or struct.unpack_from("!H", data)[0] != self.qid or not data[2] & 0x80:
            if self.tcp:
                return self.next()
            return  # a stray datagram: keep waiting for ours
        self.finish(struct.pack("!H", self.q.id) + data[2:])

    def finish(self, msg: bytes) -> None:
        self.cancel()
        self.answer(msg)

    def _drop_socket(self) -> None:
        if self.sock is not None:
            self.dns._watch(self.sock, self.events, 0, None)
            self.sock.close()
            self.sock, self.events = None, 0

    def cancel(self) -> None:
        self._drop_socket()
        self.closed = True
        self.sandbox.forwards.discard(self)
        self.dns._pending.discard(self)


class _Job:
    def __init__(self, fn: Callable[[], object]):
        self.fn, self.done = fn, threading.Event()
        self.value: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self.fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller, which raises it
            self.error = exc
        self.done.set()

    def wait(self) -> object:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.value


# -- the server ------------------------------------------------------------

class EmbeddedDNS:
    """127.0.0.11:53 in every sandbox :meth:`add` is given, served by one thread.

    ``lookup(cid, name)`` -> IPv4 and IPv6 addresses for a barge name ([] for a known
    name without any), None to forward; ``upstreams(cid)`` -> resolvers as
    ``ip`` or ``ip:port`` ([] -> SERVFAIL, as an ``--internal`` network);
    ``reverse(cid, ip)`` -> the name for a PTR query, None to forward. They
    are called from the loop thread and must be quick and thread-safe.
    """

    def __init__(self, lookup: Lookup, upstreams: Upstreams, *, reverse: Reverse | None = None,
                 timeout: float = 2.0):
        self.lookup, self.upstreams, self.reverse, self.timeout = lookup, upstreams, reverse, timeout
        self._sandboxes: dict[str, _Sandbox] = {}
        self._pending: set[_Forward] = set()
        self._timers: list = []
        self._seq = itertools.count()
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sel.register(self._wake_r, READ, self._on_wake)
        self._lock = threading.Lock()    # guards _jobs and _running
        self._admin = threading.Lock()   # one add()/remove()/close() at a time
        self._jobs: list[_Job] = []
        self._running = False
        self._stopping = False
        self._closed = False
        self._thread: threading.Thread | None = None

    # public, any thread

    def start(self) -> None:
        """Serve from one daemon thread; sandboxes added before are served too."""
        with self._lock:
            if self._running or self._closed:
                return
            self._running = True
            self._thread = threading.Thread(target=self._run, name="barge-dns", daemon=True)
            self._thread.start()

    def add(self, container_id: str, netns_path: str) -> None:
        """Listen on 127.0.0.11:53 (UDP and TCP) inside the sandbox at ``netns_path``."""
        with self._admin:
            if self._closed:
                raise RuntimeError("embedded DNS: add() after close()")
            known = self._sandboxes.get(container_id)
            if known is not None and known.path == netns_path:
                return
            if known is not None:
                self._call(lambda: self._drop(container_id))
            udp, tcp = netns.run_in(netns_path, _listen)
            sandbox = _Sandbox(container_id, netns_path, udp, tcp)
            try:
                self._call(lambda: self._serve(sandbox))
            except BaseException:
                udp.close()
                tcp.close()
                raise

    def remove(self, container_id: str) -> None:
        """Close the sandbox's sockets (port 53 there is free on return) and its queries in flight."""
        with self._admin:
            self._call(lambda: self._drop(container_id))

    def close(self) -> None:
        """Stop the thread and close every socket."""
        with self._admin:
            if self._closed:
                return
            self._call(self._stop)
            if self._thread is not None:
                self._thread.join()
            for cid in list(self._sandboxes):
                self._drop(cid)
            self._sel.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._closed = True

    # the loop thread

    def _call(self, fn: Callable[[], object]) -> object:
        """Run ``fn`` in the loop thread and wait for it (directly when no loop runs)."""
        with self._lock:
            if not self._running:
                return fn()
            job = _Job(fn)
            self._jobs.append(job)
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass  # the pipe is full: the loop is awake anyway
        return job.wait()

    def _on_wake(self, _mask: int) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            jobs, self._jobs = self._jobs, []
        for job in jobs:
            job.run()

    def _stop(self) -> None:
        self._stopping = True

    def _run(self) -> None:
        try:
            while not self._stopping:
                for key, mask in self._sel.select(self._expire()):
                    if self._sel.get_map().get(key.fd) is not key:
                        continue  # closed by a handler earlier in this batch
                    try:
                        key.data(mask)
                    except Exception:  # noqa: BLE001 - the DNS server's loop outlives any one bad query
                        log.exception("dns: handler failed")
        finally:
            with self._lock:
                self._running = False
                jobs, self._jobs = self._jobs, []
            for job in jobs:
                job.run()

    def _at(self, when: float, obj) -> float:
        """Call ``obj.expire()`` at ``when`` unless its deadline moved or it closed by then."""
        heapq.heappush(self._timers, (when, next(self._seq), obj))
        return when

    def _expire(self) -> float | None:
        """Fire due timers; seconds until the next one."""
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            when, _, obj = heapq.heappop(self._timers)
            if not obj.closed and obj.deadline == when:
                try:
                    obj.expire()
                except Exception:  # noqa: BLE001 - the DNS server's loop outlives any one failing timer
                    log.exception("dns: timer failed")
        return max(0.0, self._timers[0][0] - now) if self._timers else None

    def _watch(self, sock: socket.socket, old: int, new: int, handler) -> None:
        if old and new:
            self._sel.modify(sock, new, handler)
        elif new:
            self._sel.register(sock, new, handler)
        elif old:
            self._sel.unregister(sock)

    def _serve(self, sandbox: _Sandbox) -> None:
        self._sel.register(sandbox.udp, READ, lambda _m: self._on_udp(sandbox))
        self._sel.register(sandbox.tcp, READ, lambda _m: self._on_accept(sandbox))
        self._sandboxes[sandbox.cid] = sandbox

    def _drop(self, cid: str) -> None:
        sandbox = self._sandboxes.pop(cid, None)
        if sandbox is None:
            return
        for fwd in list(sandbox.forwards):
            fwd.cancel()
        for client in list(sandbox.clients):
            client.close()
        for sock in (sandbox.udp, sandbox.tcp):
            self._sel.unregister(sock)
            sock.close()

    def _on_udp(self, sandbox: _Sandbox) -> None:
        try:
            data, peer = sandbox.udp.recvfrom(65535)
        except OSError:
            return

        def answer(msg: bytes) -> None:
            try:
                sandbox.udp.sendto(msg, peer)
            except OSError as exc:
                log.debug("dns: answer to %s lost: %s", peer, exc)

        self._handle(sandbox, data, answer)

    def _on_accept(self, sandbox: _Sandbox) -> None:
        try:
            sock, _ = sandbox.tcp.accept()
        except OSError:
            return
        if len(sandbox.clients) >= MAX_TCP_CLIENTS:
            sock.close()
            return
        sock.setblocking(False)
        sandbox.clients.add(_TcpClient(self, sandbox, sock))

    def _handle(self, sandbox: _Sandbox, data: bytes, answer: Callable[[bytes], None], *, tcp: bool = False,
                done: Callable[[], None] = lambda: None) -> bool:
        """Answer a query from barge's names or forward it; ``done()`` once it is answered or dropped.

        False when the packet was malformed (and dropped).
        """
        try:
            q = parse_query(data)
        except Malformed as exc:
            log.debug("dns: dropped a malformed packet from %s: %s", sandbox.cid[:12], exc)
            done()
            return False

        def send(msg: bytes) -> None:
            answer(msg if tcp else fit(msg, q.udp_limit, q.question))
            done()

        if q.flags & F_OPCODE:
            send(reply(q, NOTIMP))
            return True
        try:
            local = self._answer(sandbox.cid, q)
            if local is None:
                upstreams = [u for u in map(parse_upstream, self.upstreams(sandbox.cid)) if u]
        except Exception:  # noqa: BLE001 - one failing lookup answers SERVFAIL, the server goes on
            log.exception("dns: lookup failed for %s", q.name)
            local = reply(q, SERVFAIL)
        if local is None and (not upstreams or len(self._pending) >= MAX_PENDING):
            local = reply(q, SERVFAIL)
        if local is not None:
            send(local)
        else:
            _Forward(self, sandbox, q, data, send, upstreams, tcp).next()
        return True

    def _answer(self, cid: str, q: Query) -> bytes | None:
        """barge's answer to ``q``, or None when the upstreams should answer it."""
        if q.qclass != C_IN or not q.name:
            return None
        if q.qtype == T_PTR:
            address = _ptr_address(q.name)
            host = self.reverse(cid, address) if address and self.reverse else None
            return reply(q, answers=[_record(T_PTR, _encode_name(host))]) if host else None
        addresses = self.lookup(cid, q.name)
        if addresses is None:
            return None
        if q.qtype not in (T_A, T_AAAA):
            return reply(q)  # a barge name: no record of that type, but no forwarding either
        addresses = [a for a in addresses if (":" in a) == (q.qtype == T_AAAA)]  # A: IPv4, AAAA: IPv6 ones
        random.shuffle(addresses)  # round robin over aliases, as Docker
        return reply(q, answers=[_record(q.qtype, ipaddress.ip_address(a).packed) for a in addresses])


def _listen() -> tuple[socket.socket, socket.socket]:
    """UDP and TCP sockets on 127.0.0.11:53 in the calling thread's namespace."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        udp.bind((ADDRESS, PORT))
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((ADDRESS, PORT))
        tcp.listen(64)
    except OSError as exc:
        udp.close()
        tcp.close()
        raise OSError(exc.errno, f"embedded DNS: bind {ADDRESS}:{PORT}: {exc.strerror}") from None
    udp.setblocking(False)
    tcp.setblocking(False)
    return udp, tcp
