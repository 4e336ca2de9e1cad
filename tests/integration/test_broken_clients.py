"""Slow and broken clients: what a client that hangs up, stops reading or never finishes costs the daemon.

Each stream kind (attach hijacked and over a WebSocket, logs follow,
events, pull progress, build output, export, exec start, stats) is opened
on a raw socket, read a little, then dropped: closed, or reset (SO_LINGER
0). Within a few seconds the daemon's threads and open files
(``/proc/<pid>/task``, ``/proc/<pid>/fd``) and ``/info``'s
``NGoroutines`` (threads at work plus the event loop's tasks) and
``NEventsListener`` are back where they were. A client that stops reading
a busy stream slows only itself: the daemon's memory stays bounded and
others are served; so are they with 200 idle connections and 200 that
sent half a request head open (dockerd closes the latter after its 5
minutes ``ReadHeaderTimeout``: too long to wait for here).
"""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import struct
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from barge.testing.wait import WaitTimeout, wait_for
from tests.conftest import Daemon
from tests.integration.helpers import UPGRADE, Raw, rm, run

#: Seconds the daemon has to come back to its baseline after a hang-up.
SETTLE = 10
#: Allowed above the baseline: /info's own connection and a straggling poll.
SLACK = {"threads": 1, "fds": 2, "goroutines": 2, "listeners": 0}
TICKER = ["sh", "-c", "while true; do echo tick; sleep 0.1; done"]


# ---------------------------------------------------------------------------
# counting
# ---------------------------------------------------------------------------


def counts(d: Daemon) -> dict[str, int]:
    info = d.json("GET", "/info")
    return {"threads": len(os.listdir(f"/proc/{d.pid}/task")), "fds": len(os.listdir(f"/proc/{d.pid}/fd")),
            "goroutines": info["NGoroutines"], "listeners": info["NEventsListener"]}


def rss_kib(d: Daemon) -> int:
    with open(f"/proc/{d.pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def settled(d: Daemon, base: dict[str, int], what: str) -> None:
    """Wait until every count is back within :data:`SLACK` of ``base``; fail naming those that are not."""
    last: dict[str, int] = {}

    def back() -> bool:
        last.update(counts(d))
        return all(last[k] <= base[k] + SLACK[k] for k in base)

    try:
        wait_for(back, SETTLE, interval=0.2, what=what)
    except WaitTimeout:
        pytest.fail(f"{what}: the daemon did not come back within {SETTLE}s: before {base}, now {last}")


def hang_up(sock: socket.socket, reset: bool) -> None:
    """Drop the connection: a plain close, or a reset (SO_LINGER 0)."""
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def read_some(sock: socket.socket, already: bytes, needle: bytes, timeout: float = 20) -> bytes:
    end = time.monotonic() + timeout
    data = already
    while needle not in data:
        assert time.monotonic() < end, f"no {needle!r} in {data[-300:]!r}"
        chunk = sock.recv(65536)
        assert chunk, f"the stream ended before {needle!r}: {data[-300:]!r}"
        data += chunk
    return data


@pytest.fixture(scope="module")
def ticker(box):
    """A container printing ``tick`` ten times a second for the whole module."""
    cid = run(box, TICKER)
    yield cid
    rm(box, cid)


@pytest.fixture(scope="module")
def sleeper(box):
    """A container that prints nothing, its stdin open and closed by the first attach that ends (StdinOnce)."""
    cid = run(box, ["sleep", "1000"], OpenStdin=True, StdinOnce=True)
    yield cid
    rm(box, cid)


@pytest.fixture
def baseline(box, ticker, sleeper):
    """The counts once the job pool is warm (its idle threads are not counted, but they are threads)."""
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda _: box.json("GET", "/info"), range(24)))
    time.sleep(0.3)
    return counts(box)


# ---------------------------------------------------------------------------
# stream kinds, each dropped mid-stream
# ---------------------------------------------------------------------------


def _ws_open(d: Daemon, path: str) -> Raw:
    key = base64.b64encode(os.urandom(16)).decode()
    return Raw(d, "GET", path, {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key,
                                "Sec-WebSocket-Version": "13"})


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
@pytest.mark.parametrize("kind", ["attach", "attach-ws", "logs", "stats", "attach-quiet", "attach-quiet-stdin"])
def test_container_stream_dropped(box, ticker, sleeper, baseline, kind, reset):
    """Dropped mid-stream. A quiet container writes nothing that would fail on the dead connection:
    on the unix socket the hang-up is seen all the same (dockerd's session waits for output)."""
    if kind.startswith("attach-quiet"):
        stdin = "&stdin=1" if kind.endswith("stdin") else ""
        raw = Raw(box, "POST", f"/v1.47/containers/{sleeper}/attach?stream=1&stdout=1&stderr=1{stdin}", UPGRADE)
        assert raw.status_line.startswith("HTTP/1.1 101"), raw.status_line
        needle = b""
    elif kind == "attach":
        raw = Raw(box, "POST", f"/v1.47/containers/{ticker}/attach?stream=1&stdout=1&stderr=1", UPGRADE)
        assert raw.status_line.startswith("HTTP/1.1 101"), raw.status_line
        needle = b"tick"
    elif kind == "attach-ws":
        raw = _ws_open(box, f"/v1.47/containers/{ticker}/attach/ws?stream=1&stdout=1")
        assert raw.status_line.startswith("HTTP/1.1 101"), raw.status_line
        needle = b"tick"
    elif kind == "logs":
        raw = Raw(box, "GET", f"/v1.47/containers/{ticker}/logs?follow=1&stdout=1&tail=1")
        needle = b"tick"
    else:
        raw = Raw(box, "GET", f"/v1.47/containers/{ticker}/stats")
        needle = b"cpu_stats"
    read_some(raw.sock, raw.rest, needle)
    wait_for(lambda: counts(box)["goroutines"] > baseline["goroutines"], 5, what="the stream to be counted")
    hang_up(raw.sock, reset)
    settled(box, baseline, f"{kind} dropped")


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
def test_events_dropped(box, baseline, reset):
    raw = Raw(box, "GET", "/v1.47/events")
    wait_for(lambda: counts(box)["listeners"] == baseline["listeners"] + 1, 5, what="the subscription")
    cid = run(box, ["true"])
    try:
        read_some(raw.sock, raw.rest, b'"start"')
        hang_up(raw.sock, reset)
        settled(box, baseline, "events dropped")
    finally:
        rm(box, cid)


def test_exec_start_dropped(box, ticker, baseline):
    """An exec attached to stdin: the hang-up is its stdin's end, ``cat`` exits, nothing stays."""
    body = {"AttachStdin": True, "AttachStdout": True, "Cmd": ["cat"]}
    eid = box.json("POST", f"/v1.47/containers/{ticker}/exec", body, expect=201)["Id"]
    raw = Raw(box, "POST", f"/v1.47/exec/{eid}/start", UPGRADE, json.dumps({"Detach": False}).encode())
    assert raw.status_line.startswith("HTTP/1.1 101"), raw.status_line
    raw.sock.sendall(b"hello\n")
    read_some(raw.sock, raw.rest, b"hello")
    hang_up(raw.sock, reset=True)
    settled(box, baseline, "exec start dropped")
    wait_for(lambda: box.json("GET", f"/exec/{eid}/json")["Running"] is False, 10, what="the exec's end")


def test_export_dropped_and_not_read(box, baseline):
    """A 64 MiB export: one client reads a little and hangs up, then 70 (more than the job pool's
    threads) stop reading; the others are still served and memory stays bounded."""
    cid = run(box, ["sh", "-c", "dd if=/dev/urandom of=/big bs=1M count=64 2>/dev/null"])
    try:
        box.request("POST", f"/containers/{cid}/wait")
        raw = Raw(box, "GET", f"/v1.47/containers/{cid}/export")
        assert raw.status_line.startswith("HTTP/1.1 200"), raw.status_line
        got = raw.rest
        while len(got) < 1 << 20:
            got += raw.sock.recv(65536)
        hang_up(raw.sock, reset=False)
        settled(box, baseline, "export dropped")

        rss = rss_kib(box)
        stuck = [Raw(box, "GET", f"/v1.47/containers/{cid}/export") for _ in range(70)]
        try:
            time.sleep(1)
            started = time.monotonic()
            status, _, _ = box.request("GET", "/containers/json", timeout=10)
            assert status == 200 and time.monotonic() - started < 5
            held = rss_kib(box)
            time.sleep(1)
            grown, growing = rss_kib(box) - rss, rss_kib(box) - held
            # a few MiB each (chunks in flight, socket buffers), not the 64 MiB each is asked for
            assert grown < 70 * (8 << 10), f"the daemon grew by {grown} KiB for 70 clients that do not read"
            assert growing < 16 << 10, f"the daemon still grows ({growing} KiB a second) while they do not read"
        finally:
            for r in stuck:
                hang_up(r.sock, reset=True)
        settled(box, baseline, "70 exports dropped unread")
    finally:
        rm(box, cid)


# ---------------------------------------------------------------------------
# pull and build
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trickling_registry():
    """A registry whose big layer comes 16 KiB at a time, 20 times a second (about 8 s in all)."""
    from tests.registry_peers import FakeRegistry, busybox_tar, make_image

    fake = FakeRegistry()
    img = make_image([busybox_tar(), os.urandom(2_500_000)])
    fake.add("slow/img", "v1", img)
    target = img.layer_digests[1]
    served: list[int] = []

    def trickle(h, method, repo, kind, ref):
        if kind != "blobs" or ref != target or method != "GET":
            return False
        blob = img.blobs[target]
        h.send_response(200)
        h.send_header("Content-Length", str(len(blob)))
        h.end_headers()
        sent = 0
        try:
            while sent < len(blob):
                h.wfile.write(blob[sent:sent + 16384])
                h.wfile.flush()
                sent += 16384
                time.sleep(0.05)
        except OSError:
            pass
        served.append(sent)
        h.close_connection = True
        return True

    fake.rules.append(trickle)
    fake.served = served
    yield fake, img
    fake.stop()


def test_pull_dropped_is_cancelled(box, baseline, trickling_registry):
    """dockerd cancels a pull whose client left (its transfer has no watcher left): so does barge."""
    fake, img = trickling_registry
    raw = Raw(box, "POST", f"/v1.47/images/create?fromImage={quote(fake.host)}/slow/img&tag=v1")
    assert raw.status_line.startswith("HTTP/1.1 200"), raw.status_line
    read_some(raw.sock, raw.rest, b"Downloading")
    hang_up(raw.sock, reset=False)
    wait_for(lambda: fake.served, 10, what="the registry's upload to be cut")
    assert fake.served[0] < len(img.blobs[img.layer_digests[1]]), "the pull went on without its client"
    settled(box, baseline, "pull dropped")
    status, _, _ = box.request("GET", f"/images/{fake.host}/slow/img:v1/json")
    assert status == 404
    from tests.registry_peers import temp_dirs

    assert temp_dirs(box) == []


def _context(dockerfile: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_build_dropped_is_cancelled(box, ticker, sleeper, baseline):
    """The build stops when its client goes (dockerd cancels its context); its step container goes."""
    body = _context("FROM busybox\nRUN while true; do echo building; sleep 0.1; done\n")
    raw = Raw(box, "POST", "/v1.41/build?rm=1", {"Content-Type": "application/x-tar"}, body)
    assert raw.status_line.startswith("HTTP/1.1 200"), raw.status_line
    read_some(raw.sock, raw.rest, b"building")
    hang_up(raw.sock, reset=True)
    settled(box, baseline, "build dropped")
    wait_for(lambda: {c["Id"] for c in box.json("GET", "/containers/json?all=1")} == {ticker, sleeper}, 15,
             what="the step container's removal")


# ---------------------------------------------------------------------------
# slow readers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["attach", "logs"])
def test_slow_reader_of_a_busy_stream(box, baseline, kind):
    """A container printing as fast as it can and a client that stops reading: the daemon's memory
    stays bounded, others are answered; after the hang-up the counts come back."""
    log = {"Type": "json-file", "Config": {"max-size": "4m", "max-file": "2"}}
    cid = run(box, ["sh", "-c", "yes 0123456789abcdef0123456789abcdef0123456789abcdef"],
              HostConfig={"LogConfig": log})
    try:
        rss = rss_kib(box)
        if kind == "attach":
            raw = Raw(box, "POST", f"/v1.47/containers/{cid}/attach?stream=1&stdout=1&stderr=1", UPGRADE)
        else:
            raw = Raw(box, "GET", f"/v1.47/containers/{cid}/logs?follow=1&stdout=1&tail=0")
        raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        read_some(raw.sock, raw.rest, b"0123456789abcdef")
        worst = 0.0
        for _ in range(10):  # five seconds not reading while the container prints
            started = time.monotonic()
            status, _, body = box.request("GET", "/_ping", timeout=10)
            assert status == 200 and body == b"OK"
            status, _, _ = box.request("GET", "/containers/json", timeout=10)
            assert status == 200
            worst = max(worst, time.monotonic() - started)
            time.sleep(0.5)
        grown = rss_kib(box) - rss
        assert worst < 3, f"others waited {worst:.1f}s while a client did not read"
        assert grown < 64 << 10, f"the daemon grew by {grown} KiB for a client that does not read"
        hang_up(raw.sock, reset=True)
    finally:
        rm(box, cid)
    settled(box, baseline, f"slow {kind} reader dropped")


# ---------------------------------------------------------------------------
# connections that never finish a request
# ---------------------------------------------------------------------------


def _connect(d: Daemon) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.socket)
    return s


def test_idle_and_half_sent_connections(box, baseline):
    """200 connections that send nothing and 200 that stop inside their head: others are served."""
    idle = [_connect(box) for _ in range(200)]
    half = []
    try:
        for _ in range(200):
            s = _connect(box)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nUser-Agent: slow")
            half.append(s)
        wait_for(lambda: counts(box)["fds"] >= baseline["fds"] + 400, 5, what="the daemon to hold them all")
        started = time.monotonic()
        status, _, body = box.request("GET", "/_ping", timeout=10)
        assert status == 200 and body == b"OK"
        assert box.request("GET", "/containers/json", timeout=10)[0] == 200
        cid = run(box, ["echo", "served"])
        try:
            code = box.json("POST", f"/containers/{cid}/wait")["StatusCode"]
            assert code == 0
        finally:
            rm(box, cid)
        assert time.monotonic() - started < 10
    finally:
        for s in idle + half:
            s.close()
    settled(box, baseline, "400 idle connections closed")


def test_info_counts_are_live(box, baseline):
    """``NGoroutines`` and ``NEventsListener`` follow what is open (dockerd's meaning, not constants)."""
    subs = [Raw(box, "GET", "/v1.47/events") for _ in range(3)]
    try:
        wait_for(lambda: counts(box)["listeners"] == baseline["listeners"] + 3, 5, what="three subscriptions")
        assert counts(box)["goroutines"] >= baseline["goroutines"] + 3
    finally:
        for r in subs:
            r.close()
    settled(box, baseline, "events subscriptions closed")
