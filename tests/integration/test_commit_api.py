"""``POST /commit`` against a real daemon: the new image runs, has the right config and history."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from tests.conftest import Daemon
from tests.integration.helpers import create, inspect, rm, run

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def commit(d: Daemon, query: str, body=None, expect: int = 201):
    status, _, data = d.request("POST", f"/v1.47/commit?{query}", body)
    assert status == expect, data
    return json.loads(data)


def run_output(d: Daemon, image: str, cmd: list[str] | None = None) -> bytes:
    body = {"Image": image}
    if cmd is not None:
        body["Cmd"] = cmd
    cid = create(d, **body)
    try:
        d.request("POST", f"/containers/{cid}/start")
        status, _, data = d.request("POST", f"/containers/{cid}/wait")
        _, _, logs = d.request("GET", f"/containers/{cid}/logs?stdout=1&stderr=1")
        return logs[8:] if logs[:1] in (b"\x01", b"\x02") else logs
    finally:
        rm(d, cid)


def test_commit_runs_with_config_history_and_tag(box):
    base = box.json("GET", "/images/busybox/json")
    cid = run(box, ["sh", "-c", "echo hi > /hello"], Env=["FROM_CONTAINER=1"])
    box.request("POST", f"/containers/{cid}/wait")
    try:
        change = quote('CMD ["cat", "/hello"]')
        result = commit(box, f"container={cid}&repo=committed&tag=v1&comment=a+note&author=me"
                             f"&changes={change}&changes={quote('ENV ADDED=yes')}")
        image_id = result["Id"]
        img = box.json("GET", "/images/committed:v1/json")
        assert img["Id"] == image_id and img["Parent"] == base["Id"]
        assert img["Comment"] == "a note" and img["Author"] == "me"
        assert img["Config"]["Cmd"] == ["cat", "/hello"]
        assert "ADDED=yes" in img["Config"]["Env"] and "FROM_CONTAINER=1" in img["Config"]["Env"]
        assert img["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
        assert len(img["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
        history = box.json("GET", "/images/committed:v1/history")
        assert history[0]["CreatedBy"] == "sh -c echo hi > /hello" and history[0]["Comment"] == "a note"
        assert history[0]["Size"] > 0
        assert run_output(box, "committed:v1") == b"hi\n"
    finally:
        rm(box, cid)


def test_no_changes_no_layer(box):
    cid = create(box, Cmd=["true"])
    try:
        image_id = commit(box, f"container={cid}")["Id"]
        img = box.json("GET", f"/images/{image_id}/json")
        base = box.json("GET", "/images/busybox/json")
        assert img["RootFS"]["Layers"] == base["RootFS"]["Layers"]
        assert img["RepoTags"] == []
        history = box.json("GET", f"/images/{image_id}/history")
        assert history[0]["Size"] == 0
    finally:
        rm(box, cid)


def events_between(d: Daemon, since: float, until: float, filters: dict) -> list[dict]:
    status, _, data = d.request("GET", f"/events?since={since}&until={until}&filters={quote(json.dumps(filters))}")
    assert status == 200, data
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def test_running_container_is_paused_meanwhile_and_runs_on(box):
    cid = run(box, ["sh", "-c", "echo live > /live; sleep 600"])
    try:
        t0 = time.time()
        image_id = commit(box, f"container={cid}&repo=fromrunning")["Id"]
        state = inspect(box, cid)["State"]
        assert state["Running"] and not state["Paused"]
        actions = [e["Action"] for e in events_between(box, t0, time.time() + 0.01, {"container": [cid]})]
        assert actions == ["pause", "commit", "unpause"]  # dockerd 20.10's order: the commit while still paused
        assert run_output(box, "fromrunning", ["cat", "/live"]) == b"live\n"
        commit(box, f"container={cid}&pause=0")
        assert "pause" not in [e["Action"] for e in events_between(box, t0, time.time() + 0.01,
                                                                   {"container": [cid]})][3:]
        assert image_id.startswith("sha256:")
    finally:
        rm(box, cid)


def test_body_config_is_merged(box):
    cid = create(box, Cmd=["sh"], Env=["KEEP=1"], Labels={"from": "container"})
    try:
        image_id = commit(box, f"container={cid}", {"Env": ["NEW=2"], "Labels": {"from": "body"},
                                                    "WorkingDir": "/tmp"})["Id"]
        cfg = box.json("GET", f"/images/{image_id}/json")["Config"]
        assert "NEW=2" in cfg["Env"] and "KEEP=1" in cfg["Env"]
        assert cfg["Labels"]["from"] == "body" and cfg["WorkingDir"] == "/tmp" and cfg["Cmd"] == ["sh"]
    finally:
        rm(box, cid)


def test_bad_input_writes_nothing(box):
    images_before = box.json("GET", "/images/json?all=1")
    status, _, data = box.request("POST", "/commit?container=nothere")
    assert status == 404 and json.loads(data)["message"] == "No such container: nothere"
    cid = create(box, Cmd=["true"])
    try:
        for query in ("repo=Bad%20Name", f"changes={quote('RUN echo no')}", "repo=ok&tag=bad:tag"):
            status, _, data = box.request("POST", f"/commit?container={cid}&{query}")
            assert status == 400, (query, data)
        status, _, data = box.request("POST", f"/commit?container={cid}", b"[1]", {"Content-Type": "application/json"})
        assert status == 400
    finally:
        rm(box, cid)
    assert box.json("GET", "/images/json?all=1") == images_before
