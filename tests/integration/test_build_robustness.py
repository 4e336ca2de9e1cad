"""Builds that go wrong: the client hangs up, two run at once, the daemon is killed, the context is huge.

Whatever happens, a build leaves no step container, mount, work
directory, pending layer or half-recorded image behind.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading

import pytest

from barge.testing.wait import wait_for
from tests.integration.build_helpers import build, built_id, context_tar, leftovers, stream_text
from tests.integration.helpers import Raw, busybox_daemon
from tests.integration.helpers import leftovers as container_leftovers

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

SLOW = "FROM busybox\nRUN echo started && sleep 60\n"
#: The RUN's own output in the JSON stream (not the ``Step`` line that shows the command).
STARTED = b'"started\\n"'


def clean(d) -> bool:
    return not any(leftovers(d).values())


def start_slow_build(d) -> Raw:
    raw = Raw(d, "POST", "/v1.41/build?networkmode=none&nocache=1", {"Content-Type": "application/x-tar"},
              context_tar({"Dockerfile": SLOW}))
    assert STARTED in raw.read_until(STARTED, timeout=30)
    return raw


@pytest.fixture(scope="module")
def box():
    with busybox_daemon("barge-brob-") as d:
        yield d


def test_client_hanging_up_stops_the_build_and_removes_its_container(box):
    raw = start_slow_build(box)
    assert len(box.json("GET", "/containers/json?all=1")) == 1
    raw.close()
    wait_for(lambda: clean(box), timeout=20, what="the build's leftovers to go")


def test_two_builds_of_the_same_dockerfile_at_once(box):
    df = "FROM busybox\nRUN echo same > /same\nLABEL x=1\n"
    results: list = []

    def one() -> None:
        results.append(build(box, context_tar({"Dockerfile": df}), networkmode="none", nocache=1)[0])

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 2 and all("Successfully built" in stream_text(r) for r in results)
    assert clean(box), leftovers(box)


def test_a_context_larger_than_memory_is_streamed_to_disk(box):
    """256 MB of incompressible data: the daemon's peak memory grows far less than that."""
    size = 256 << 20

    def peak() -> int:
        for line in open(f"/proc/{box.pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) << 10
        raise AssertionError("no VmHWM")

    before = peak()
    header = context_tar({"Dockerfile": "FROM busybox\nRUN true\n"})[:-1024]  # without the end blocks

    def body():
        import tarfile
        info = tarfile.TarInfo("big/blob")
        info.size = size
        yield header
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        chunk = os.urandom(1 << 20)
        for _ in range(size >> 20):
            yield chunk
        yield b"\0" * 1024

    conn = http.client.HTTPConnection("localhost")
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.settimeout(300)
    conn.sock.connect(str(box.socket))
    conn.request("POST", "/v1.41/build?networkmode=none", body=body(),
                 headers={"Content-Type": "application/x-tar"}, encode_chunked=True)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    assert response.status == 200 and b"Successfully built" in data, data[-2000:]
    grown = peak() - before
    assert grown < 96 << 20, f"the daemon's peak memory grew by {grown >> 20} MB for a {size >> 20} MB context"
    assert clean(box), leftovers(box)


def test_daemon_killed_mid_build_restarts_clean():
    with busybox_daemon("barge-bkill-") as d:
        images_before = {i["Id"] for i in d.json("GET", "/images/json?all=1")}
        raw = start_slow_build(d)
        (step,) = [c["Id"] for c in d.json("GET", "/containers/json?all=1")]
        d.kill()
        raw.close()
        d.start()
        after = leftovers(d)
        assert not any(after.values()), after
        assert container_leftovers(d, step) == [], "the killed build's step container left state behind"
        images_after = {i["Id"] for i in d.json("GET", "/images/json?all=1")}
        assert images_after == images_before, "a killed build left an image"
        for image in images_after:  # every image still whole: its layers are all there
            d.json("GET", f"/images/{image}/history")
        msgs, _ = build(d, context_tar({"Dockerfile": "FROM busybox\nRUN echo after\n"}), networkmode="none")
        assert "after\n" in stream_text(msgs) and built_id(msgs)


def test_cancel_by_build_id(box):
    raw = Raw(box, "POST", "/v1.41/build?networkmode=none&nocache=1&buildid=b-123",
              {"Content-Type": "application/x-tar"}, context_tar({"Dockerfile": SLOW}))
    assert STARTED in raw.read_until(STARTED, timeout=30)
    status, _, _ = box.request("POST", "/build/cancel?id=b-123")
    assert status == 200
    rest = raw.read_all()
    raw.close()
    assert b"Build cancelled" in rest
    wait_for(lambda: clean(box), timeout=20, what="the build's leftovers to go")
    status, _, body = box.request("POST", "/build/cancel")
    assert status == 400 and json.loads(body)["message"] == "build ID not provided"
    assert box.json("POST", "/build/prune") == {"CachesDeleted": None, "SpaceReclaimed": 0}




def test_prune_and_cancel_answer_as_dockerd(box):
    """dockerd 20.10's answers, seen side by side (a wrong key, a bad size, no build id; 400 where dockerd says 500)."""
    assert box.json("POST", "/build/prune?all=1&filters=%7B%22until%22%3A%5B%2224h%22%5D%7D") == \
        {"CachesDeleted": None, "SpaceReclaimed": 0}
    status, _, body = box.request("POST", "/build/prune?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D")
    assert (status, json.loads(body)["message"]) == (400, "failed to prune build cache: Invalid filter 'bogus'")
    status, _, body = box.request("POST", "/build/prune?keep-storage=abc")
    assert status == 400 and json.loads(body)["message"] == (
        'keep-storage is in bytes and expects an integer, got abc: strconv.Atoi: parsing "abc": invalid syntax')
    status, _, body = box.request("POST", "/build/cancel?id=nope")
    assert (status, body) == (200, b"")


def test_buildkit_requests_are_refused_as_dockerd_refuses_them(box):
    """No BuildKit here: ``POST /session`` without an upgrade and ``version=9`` get dockerd 20.10's words; the h2c
    upgrade dockerd would take over (and ``version=2``) is a 400 saying why."""
    status, _, body = box.request("POST", "/session")
    assert (status, json.loads(body)["message"]) == (400, "no upgrade proto in request")
    status, _, body = box.request("POST", "/session", headers={"Connection": "Upgrade", "Upgrade": "foo"})
    assert (status, json.loads(body)["message"]) == (400, "protocol foo not supported")
    status, _, body = box.request("POST", "/session", headers={"Connection": "Upgrade", "Upgrade": "h2c"})
    assert status == 400 and "BuildKit is not available" in json.loads(body)["message"]
    status, _, body = box.request("POST", "/build?version=9", context_tar({"Dockerfile": "FROM busybox\n"}))
    assert (status, json.loads(body)["message"]) == (400, 'invalid version "9"')
    status, _, body = box.request("POST", "/build?version=2", context_tar({"Dockerfile": "FROM busybox\n"}))
    assert status == 400 and "BuildKit is not available" in json.loads(body)["message"]
