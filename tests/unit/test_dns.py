"""The embedded DNS server, over real sockets in real network namespaces.

Each test makes its own sandbox namespaces (loopback only) and fake upstream
resolvers on the host's 127.0.0.1; nothing leaves the machine.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import socket
import struct
import threading
import time

import pytest

from barge import netns
from barge.network.dns import EmbeddedDNS

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

A, PTR, MX, AAAA, OPT = 1, 12, 15, 28, 41
UPSTREAM_IP = "203.0.113.7"


# -- wire helpers, written apart from the server's own parser ----------------

def query(name: str, qtype: int = A, qid: int | None = None, edns: int | None = None) -> bytes:
    qid = secrets.randbits(16) if qid is None else qid
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".") if p) + b"\0"
    msg = struct.pack("!6H", qid, 0x0100, 1, 0, 0, 1 if edns else 0) + qname + struct.pack("!HH", qtype, 1)
    if edns:
        msg += b"\0" + struct.pack("!HHIH", OPT, edns, 0, 0)
    return msg


def read_name(msg: bytes, pos: int) -> tuple[str, int]:
    labels, end = [], None
    while True:
        n = msg[pos]
        if n & 0xC0 == 0xC0:
            end = end or pos + 2
            pos = struct.unpack_from("!H", msg, pos)[0] & 0x3FFF
            continue
        pos += 1
        if n == 0:
            return ".".join(labels), end or pos
        labels.append(msg[pos:pos + n].decode())
        pos += n


def parse(msg: bytes) -> dict:
    qid, flags, qd, an, _ns, _ar = struct.unpack_from("!6H", msg)
    qname, pos = read_name(msg, 12)
    pos += 4
    answers = []
    for _ in range(an):
        name, pos = read_name(msg, pos)
        rtype, _cls, ttl, rdlen = struct.unpack_from("!HHIH", msg, pos)
        pos += 10
        rdata = msg[pos:pos + rdlen]
        value = socket.inet_ntoa(rdata) if rtype == A else read_name(msg, pos)[0] if rtype == PTR else rdata
        answers.append((name, rtype, ttl, value))
        pos += rdlen
    return {"id": qid, "qr": bool(flags & 0x8000), "tc": bool(flags & 0x0200), "ra": bool(flags & 0x0080),
            "rcode": flags & 0xF, "qname": qname, "answers": answers, "size": len(msg)}


def ask_udp(path: str, msg: bytes, timeout: float = 5.0) -> bytes:
    def body() -> bytes:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(msg, ("127.0.0.11", 53))
            return s.recv(65535)
    return netns.run_in(path, body)


def ask_tcp(path: str, msgs: list[bytes], timeout: float = 5.0) -> list[bytes]:
    def recv_exact(s: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            assert chunk, "connection closed early"
            buf += chunk
        return buf

    def body() -> list[bytes]:
        with socket.create_connection(("127.0.0.11", 53), timeout=timeout) as s:
            s.sendall(b"".join(struct.pack("!H", len(m)) + m for m in msgs))
            return [recv_exact(s, struct.unpack("!H", recv_exact(s, 2))[0]) for _ in msgs]
    return netns.run_in(path, body)


# -- sandboxes, upstreams and the server -------------------------------------

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def _lo_up(path: str) -> None:
    def body() -> None:
        # run_in checked the inode already; check again before touching any interface
        assert os.stat("/proc/thread-self/ns/net").st_ino == os.stat(path).st_ino
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            ifreq = fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sh22x", b"lo", 0))
            flags = struct.unpack("16sh22x", ifreq)[1]
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | IFF_UP))
    netns.run_in(path, body)


@pytest.fixture
def sandboxes():
    """make() -> a fresh namespace path with lo up; all removed afterwards."""
    made: list[str] = []

    def make() -> str:
        path = netns.create(f"/run/bt-dns-{secrets.token_hex(4)}/ns")
        made.append(path)
        _lo_up(path)
        return path

    yield make
    for path in made:
        netns.remove(path)
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)


class FakeUpstream:
    """A resolver on 127.0.0.1:<port> (UDP and TCP): answers A with UPSTREAM_IP, or stays silent."""

    def __init__(self, silent: bool = False):
        self.silent = silent
        self.seen: list[tuple[str, bytes]] = []  # (transport, query)
        for _ in range(20):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        self.tcp.listen(8)
        self.udp.settimeout(0.1)
        self.tcp.settimeout(0.1)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=t, daemon=True) for t in (self._serve_udp, self._serve_tcp)]
        for t in self.threads:
            t.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def answer(self, msg: bytes) -> bytes:
        qid = msg[:2]
        end = msg.index(b"\0", 12) + 5
        return (qid + struct.pack("!5H", 0x8180, 1, 1, 0, 0) + msg[12:end]
                + b"\xc0\x0c" + struct.pack("!HHIH", A, 1, 30, 4) + socket.inet_aton(UPSTREAM_IP))

    def _serve_udp(self) -> None:
        while not self.stop.is_set():
            try:
                msg, peer = self.udp.recvfrom(65535)
            except socket.timeout:
                continue
            self.seen.append(("udp", msg))
            if not self.silent:
                self.udp.sendto(self.answer(msg), peer)

    def _serve_tcp(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(2)
                size = struct.unpack("!H", conn.recv(2, socket.MSG_WAITALL))[0]
                msg = conn.recv(size, socket.MSG_WAITALL)
                self.seen.append(("tcp", msg))
                if not self.silent:
                    out = self.answer(msg)
                    conn.sendall(struct.pack("!H", len(out)) + out)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()
        self.udp.close()
        self.tcp.close()


@pytest.fixture
def upstream():
    made: list[FakeUpstream] = []

    def make(silent: bool = False) -> FakeUpstream:
        made.append(FakeUpstream(silent))
        return made[-1]

    yield make
    for u in made:
        u.close()


class World:
    """What barge.network.resolver.Resolver would answer: names, resolvers and reverse names per container."""

    def __init__(self):
        self.names: dict[tuple[str, str], list[str]] = {}
        self.resolvers: dict[str, list[str]] = {}
        self.ptr: dict[tuple[str, str], str] = {}
        self.asked: list[tuple[str, str]] = []

    def lookup(self, cid: str, name: str) -> list[str] | None:
        self.asked.append((cid, name))
        if name == "boom":
            raise RuntimeError("lookup failed")
        return self.names.get((cid, name))

    def upstreams(self, cid: str) -> list[str]:
        return self.resolvers.get(cid, [])

    def reverse(self, cid: str, ip: str) -> str | None:
        return self.ptr.get((cid, ip))


@pytest.fixture
def world():
    return World()


@pytest.fixture
def server(world):
    dns = EmbeddedDNS(world.lookup, world.upstreams, reverse=world.reverse, timeout=0.3)
    dns.start()
    yield dns
    dns.close()
    assert not dns._thread.is_alive()


@pytest.fixture
def box(server, sandboxes, world):
    """One sandbox served for container c1."""
    path = sandboxes()
    world.names[("c1", "web")] = ["10.0.0.2"]
    server.add("c1", path)
    return path


# -- answers from barge's names ------------------------------------------------

def test_a_record_for_a_container_name(box):
    msg = query("web", qid=0x1234)
    r = parse(ask_udp(box, msg))
    assert (r["id"], r["qr"], r["ra"], r["rcode"], r["tc"]) == (0x1234, True, True, 0, False)
    assert r["qname"] == "web"
    assert r["answers"] == [("web", A, 600, "10.0.0.2")]


def test_any_case_and_trailing_dot(box, world):
    r = parse(ask_udp(box, query("WeB.")))
    assert r["answers"] == [("WeB", A, 600, "10.0.0.2")]  # the name as asked
    assert ("c1", "web") in world.asked


def test_several_addresses_are_several_answers(box, world):
    world.names[("c1", "db")] = ["10.0.0.3", "10.0.0.4", "10.0.0.5"]
    r = parse(ask_udp(box, query("db")))
    assert sorted(a[3] for a in r["answers"]) == ["10.0.0.3", "10.0.0.4", "10.0.0.5"]


@pytest.mark.parametrize("qtype", [AAAA, MX])
def test_other_types_for_a_barge_name_are_empty_noerror(box, upstream, world, qtype):
    up = upstream()
    world.resolvers["c1"] = [up.address]
    r = parse(ask_udp(box, query("web", qtype)))
    assert (r["rcode"], r["answers"]) == (0, [])
    assert up.seen == []  # not forwarded


def test_known_name_without_address_is_empty_noerror(box, world):
    world.names[("c1", "bare")] = []
    r = parse(ask_udp(box, query("bare")))
    assert (r["rcode"], r["answers"]) == (0, [])


def test_ptr_for_a_container_address(box, world):
    world.ptr[("c1", "10.0.0.2")] = "web.mynet"
    r = parse(ask_udp(box, query("2.0.0.10.in-addr.arpa", PTR)))
    assert r["answers"] == [("2.0.0.10.in-addr.arpa", PTR, 600, "web.mynet")]


def test_edns_is_tolerated_and_big_answers_truncate_without_it(box, world):
    world.names[("c1", "many")] = [f"10.1.0.{i}" for i in range(1, 61)]
    r = parse(ask_udp(box, query("many", edns=4096)))
    assert (r["tc"], len(r["answers"])) == (False, 60)
    r = parse(ask_udp(box, query("many")))
    assert r["tc"] and r["answers"] == [] and r["size"] <= 512
    [raw] = ask_tcp(box, [query("many")])  # what a client does next
    assert len(parse(raw)["answers"]) == 60


def test_failing_lookup_is_servfail_and_the_loop_goes_on(box):
    assert parse(ask_udp(box, query("boom")))["rcode"] == 2
    assert parse(ask_udp(box, query("web")))["answers"][0][3] == "10.0.0.2"


# -- forwarding ---------------------------------------------------------------

def test_other_names_are_forwarded_with_the_clients_id(box, upstream, world):
    up = upstream()
    world.resolvers["c1"] = ["127.0.0.11", up.address]  # ourselves: skipped
    start = time.monotonic()
    r = parse(ask_udp(box, query("example.org", qid=0x4242)))
    assert time.monotonic() - start < 0.3  # no timeout spent on 127.0.0.11
    assert (r["id"], r["rcode"], r["answers"]) == (0x4242, 0, [("example.org", A, 30, UPSTREAM_IP)])
    [(transport, seen)] = up.seen
    assert transport == "udp" and seen[12:] == query("example.org")[12:]


def test_upstream_timeout_falls_back_to_the_next(box, upstream, world):
    silent, good = upstream(silent=True), upstream()
    world.resolvers["c1"] = [silent.address, good.address]
    start = time.monotonic()
    r = parse(ask_udp(box, query("example.org")))
    assert r["answers"][0][3] == UPSTREAM_IP
    assert time.monotonic() - start >= 0.3
    assert len(silent.seen) == 1 and len(good.seen) == 1


def test_refused_upstream_falls_back_at_once(box, upstream, world):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # closed again: nothing listens there
    good = upstream()
    world.resolvers["c1"] = [f"127.0.0.1:{dead}", good.address]
    start = time.monotonic()
    assert parse(ask_udp(box, query("example.org")))["answers"][0][3] == UPSTREAM_IP
    assert time.monotonic() - start < 0.3


def test_all_upstreams_silent_is_servfail(box, upstream, world):
    world.resolvers["c1"] = [upstream(silent=True).address, upstream(silent=True).address]
    start = time.monotonic()
    r = parse(ask_udp(box, query("example.org", qid=7)))
    assert (r["id"], r["rcode"]) == (7, 2)
    assert time.monotonic() - start >= 0.6


def test_no_upstreams_is_servfail(box, world):
    world.resolvers["c1"] = []  # an --internal network
    assert parse(ask_udp(box, query("example.org")))["rcode"] == 2


# -- TCP -----------------------------------------------------------------------

def test_tcp_queries_local_and_forwarded(box, upstream, world):
    up = upstream()
    world.resolvers["c1"] = [up.address]
    local, forwarded = ask_tcp(box, [query("web", qid=1), query("example.org", qid=2)])
    assert parse(local)["answers"] == [("web", A, 600, "10.0.0.2")]
    assert (parse(forwarded)["id"], parse(forwarded)["answers"][0][3]) == (2, UPSTREAM_IP)
    assert [t for t, _ in up.seen] == ["tcp"]


# -- robustness and lifecycle -----------------------------------------------------

def test_malformed_packets_are_dropped(box):
    for junk in (b"\x00\x01", b"\xff" * 40, query("web")[:-3], b"\x12\x34\x81\x80" + query("web")[4:]):
        with pytest.raises(socket.timeout):
            ask_udp(box, junk, timeout=0.2)
    with pytest.raises(AssertionError):  # TCP: no answer either, the connection just ends
        ask_tcp(box, [b"\x00"], timeout=1)
    assert parse(ask_udp(box, query("web")))["answers"][0][3] == "10.0.0.2"


def test_add_is_idempotent_and_remove_frees_the_port(server, box):
    server.add("c1", box)
    assert parse(ask_udp(box, query("web")))["answers"]
    server.remove("c1")
    server.remove("c1")

    def bind_again() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            u.bind(("127.0.0.11", 53))
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            t.bind(("127.0.0.11", 53))
    netns.run_in(box, bind_again)


def test_two_sandboxes_get_their_own_answers(server, sandboxes, world):
    one, two = sandboxes(), sandboxes()
    world.names[("c1", "web")] = ["10.0.0.2"]
    world.names[("c2", "web")] = ["10.9.0.2"]
    server.add("c1", one)
    server.add("c2", two)
    results: dict[str, str] = {}

    def ask(path: str) -> None:
        results[path] = parse(ask_udp(path, query("web")))["answers"][0][3]

    threads = [threading.Thread(target=ask, args=(p,)) for p in (one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {one: "10.0.0.2", two: "10.9.0.2"}
    server.remove("c1")
    assert parse(ask_udp(two, query("web")))["answers"][0][3] == "10.9.0.2"


def test_sandboxes_added_before_start_are_served(sandboxes, world):
    path = sandboxes()
    world.names[("c1", "web")] = ["10.0.0.2"]
    dns = EmbeddedDNS(world.lookup, world.upstreams)
    try:
        dns.add("c1", path)
        dns.start()
        assert parse(ask_udp(path, query("web")))["answers"][0][3] == "10.0.0.2"
    finally:
        dns.close()

    def bind_again() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.11", 53))
    netns.run_in(path, bind_again)  # close() released the sockets


def test_aaaa_answers_the_ipv6_addresses_and_a_the_ipv4_ones(box, world):
    world.names[("c1", "dual")] = ["10.0.0.7", "fd00:7::7"]
    r = parse(ask_udp(box, query("dual", AAAA)))
    assert [(a[1], socket.inet_ntop(socket.AF_INET6, a[3])) for a in r["answers"]] == [(AAAA, "fd00:7::7")]
    assert [a[3] for a in parse(ask_udp(box, query("dual")))["answers"]] == ["10.0.0.7"]


def test_ptr_for_an_ipv6_container_address(box, world):
    world.ptr[("c1", "fd00:7::7")] = "dual.mynet"
    name = ".".join(reversed("fd000007000000000000000000000007")) + ".ip6.arpa"
    r = parse(ask_udp(box, query(name, PTR)))
    assert r["answers"] == [(name, PTR, 600, "dual.mynet")]
