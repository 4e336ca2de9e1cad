"""``GET /events`` against a real daemon: replay with since/until, filters, and the live stream."""

from __future__ import annotations

import json
import socket
import threading
import time
from urllib.parse import quote

import pytest

from tests.conftest import Daemon
from tests.integration.helpers import Raw, rm, run

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def events(d: Daemon, since: float, until: float, filters: dict | None = None, expect: int = 200):
    query = f"since={since}&until={until}"
    if filters is not None:
        query += "&filters=" + quote(json.dumps(filters))
    status, headers, data = d.request("GET", f"/events?{query}")
    assert status == expect, data
    if expect != 200:
        return json.loads(data)["message"]
    assert headers["Content-Type"] == "application/json"
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def test_replay_shape_and_order(box):
    t0 = time.time()
    cid = run(box, ["sh", "-c", "exit 3"], name="ev-one", Labels={"team": "blue"})
    box.request("POST", f"/containers/{cid}/wait")
    rm(box, cid)
    t1 = time.time() + 0.01
    got = events(box, t0, t1, {"container": [cid]})
    assert [e["Action"] for e in got] == ["create", "start", "die", "destroy"]
    die = got[2]
    assert die["Type"] == "container" and die["status"] == "die" and die["id"] == cid and die["from"] == "busybox"
    assert die["Actor"] == {"ID": cid, "Attributes": {"exitCode": "3", "image": "busybox", "name": "ev-one",
                                                      "team": "blue"}}
    assert die["scope"] == "local" and die["time"] == die["timeNano"] // 10**9
    assert [e["timeNano"] for e in got] == sorted(e["timeNano"] for e in got)
    by_name = events(box, t0, t1, {"container": ["ev-one"], "event": ["die"]})
    assert [e["Action"] for e in by_name] == ["die"]
    assert [e["Action"] for e in events(box, t0, t1, {"label": ["team=blue"], "event": ["start"]})] == ["start"]
    assert events(box, t0, t1, {"label": ["team=red"]}) == []
    assert events(box, t0, t1, {"type": ["image"]}) == []


def test_image_and_volume_events(box):
    t0 = time.time()
    box.request("POST", "/images/busybox/tag?repo=evtag&tag=x")
    box.request("POST", "/volumes/create", {"Name": "ev-vol"})
    box.request("DELETE", "/volumes/ev-vol")
    t1 = time.time() + 0.01
    tag = events(box, t0, t1, {"type": ["image"]})
    assert [(e["Action"], e["Actor"]["Attributes"]["name"]) for e in tag] == [("tag", "evtag:x")]
    assert tag[0]["status"] == "tag" and tag[0]["id"].startswith("sha256:")
    assert [e["Action"] for e in events(box, t0, t1, {"image": ["evtag:x"]})] == ["tag"]
    vols = events(box, t0, t1, {"type": ["volume"]})
    assert [(e["Action"], e["Actor"]["ID"]) for e in vols] == [("create", "ev-vol"), ("destroy", "ev-vol")]
    assert "status" not in vols[0] and vols[0]["Actor"]["Attributes"] == {"driver": "local"}


def test_volume_mount_and_unmount(box):
    t0 = time.time()
    cid = run(box, ["true"], HostConfig={"Binds": ["ev-mounted:/data:ro"]})
    box.request("POST", f"/containers/{cid}/wait")
    rm(box, cid)
    box.request("DELETE", "/volumes/ev-mounted")
    t1 = time.time() + 0.01
    got = events(box, t0, t1, {"volume": ["ev-mounted"]})
    assert [e["Action"] for e in got] == ["create", "mount", "unmount", "destroy"]
    assert got[1]["Actor"]["Attributes"] == {"container": cid, "destination": "/data", "driver": "local",
                                             "propagation": "", "read/write": "false"}
    ordered = [(e["Type"], e["Action"]) for e in events(box, t0, t1) if e["Action"] in ("die", "unmount")]
    assert ordered == [("container", "die"), ("volume", "unmount")]


def test_live_stream_follows_a_container(box):
    r = Raw(box, "GET", "/events?filters=" + quote(json.dumps({"type": ["container"]})))
    assert r.status_line.startswith("HTTP/1.1 200")
    got: list[str] = []
    done = threading.Event()

    def read() -> None:
        buf = r.rest
        r.sock.settimeout(20)
        try:
            while b'"destroy"' not in buf:
                chunk = r.sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except (socket.timeout, OSError):
            pass
        got.append(buf.decode(errors="replace"))
        done.set()

    reader = threading.Thread(target=read)
    reader.start()
    cid = run(box, ["true"])
    box.request("POST", f"/containers/{cid}/wait")
    rm(box, cid)
    assert done.wait(20)
    reader.join()
    r.close()
    text = got[0]
    for action in ("create", "start", "die", "destroy"):
        assert f'"Action":"{action}"' in text
    assert text.index('"Action":"create"') < text.index('"Action":"die"') < text.index('"Action":"destroy"')


def test_until_in_the_future_ends_the_stream(box):
    start = time.monotonic()
    status, _, data = box.request("GET", f"/events?until={time.time() + 1.0}")
    assert status == 200 and 0.8 < time.monotonic() - start < 5


def test_bad_input(box):
    status, _, data = box.request("GET", "/events?since=yesterday&until=1")
    assert status == 400
    status, _, data = box.request("GET", "/events?since=10&until=5")
    assert status == 400 and json.loads(data)["message"] == "`since` time (10) cannot be after `until` time (5)"


def test_any_filter_key_is_taken(box):
    # dockerd 20.10 validates no key: one that no event has filters nothing
    t0 = time.time()
    cid = run(box, ["true"])
    box.request("POST", f"/containers/{cid}/wait")
    rm(box, cid)
    got = events(box, t0, time.time() + 0.01, {"bogus": ["x"], "container": [cid]})
    assert [e["Action"] for e in got if e["Type"] == "container"] == ["create", "start", "die", "destroy"]
