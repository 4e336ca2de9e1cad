"""Healthchecks through a real daemon: probes as execs, State.Health, events, ps, filters, image HEALTHCHECKs."""

from __future__ import annotations

import json
import time

import pytest

from barge.testing.wait import wait_for
from tests.integration.build_helpers import build, built_id, context_tar
from tests.integration.helpers import create, inspect, rm

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

MS = 1_000_000


def started(box, **body) -> str:
    cid = create(box, Image="busybox", Cmd=["sleep", "600"], HostConfig={"NetworkMode": "none"}, **body)
    status, _, data = box.request("POST", f"/containers/{cid}/start")
    assert status == 204, data
    return cid


def health(box, cid: str) -> dict:
    return inspect(box, cid)["State"].get("Health") or {}


def test_a_probe_decides_starting_unhealthy_and_healthy(box):
    since = time.time()
    cid = started(box, Healthcheck={"Test": ["CMD-SHELL", "test -f /tmp/ok && echo fine"], "Interval": 200 * MS,
                                    "Retries": 2})
    try:
        assert health(box, cid)["Status"] == "starting"
        wait_for(lambda: health(box, cid)["Status"] == "unhealthy", 10, what="two failed probes")
        h = health(box, cid)
        assert h["FailingStreak"] >= 2 and h["Log"][-1]["ExitCode"] == 1
        exec_id = json.loads(box.request("POST", f"/containers/{cid}/exec", {"Cmd": ["touch", "/tmp/ok"]})[2])["Id"]
        box.request("POST", f"/exec/{exec_id}/start", {"Detach": True})
        wait_for(lambda: health(box, cid)["Status"] == "healthy", 10, what="a passing probe")
        h = health(box, cid)
        assert h["FailingStreak"] == 0 and h["Log"][-1]["Output"] == "fine\n" and len(h["Log"]) <= 5
        ps = box.json("GET", '/containers/json?filters={"health":["healthy"]}')
        assert [c["Id"] for c in ps] == [cid] and ps[0]["Status"].endswith("(healthy)")
        assert box.json("GET", '/containers/json?filters={"health":["unhealthy"]}') == []
        status, _, body = box.request("GET", '/containers/json?filters={"health":["sick"]}')
        assert status == 400 and json.loads(body)["message"] == "Unrecognised filter value for health: sick"
        status, _, body = box.request("GET", f"/events?since={since}&until={time.time() + 0.1}"
                                              f'&filters={{"container":["{cid}"]}}')
        actions = [json.loads(line)["Action"] for line in body.splitlines()]
        assert [a for a in actions if a.startswith("health_status")] == \
            ["health_status: unhealthy", "health_status: healthy"]
    finally:
        rm(box, cid)


def test_timeouts_none_and_bad_settings(box):
    cid = started(box, Healthcheck={"Test": ["CMD", "sleep", "5"], "Interval": 100 * MS, "Timeout": 300 * MS})
    try:
        wait_for(lambda: health(box, cid).get("Log"), 10, what="a probe that times out")
        entry = health(box, cid)["Log"][0]
        assert entry["ExitCode"] == -1 and entry["Output"] == "Health check exceeded timeout (300ms)"
    finally:
        rm(box, cid)
    cid = started(box, Healthcheck={"Test": ["NONE"]})
    try:
        assert "Health" not in inspect(box, cid)["State"]
        assert cid in [c["Id"] for c in box.json("GET", '/containers/json?filters={"health":["none"]}')]
    finally:
        rm(box, cid)
    for bad, message in (({"Interval": 100}, "Interval in Healthcheck cannot be less than 1ms"),
                         ({"Retries": -1}, "Retries in Healthcheck cannot be negative")):
        status, _, body = box.request("POST", "/containers/create",
                                      {"Image": "busybox", "Healthcheck": {"Test": ["CMD", "true"], **bad}})
        assert (status, json.loads(body)["message"]) == (400, message)


def test_an_image_healthcheck_applies_and_the_request_overrides_it(box):
    msgs, _ = build(box, context_tar({"Dockerfile": "FROM busybox\nHEALTHCHECK --interval=200ms CMD true\n"}))
    image = built_id(msgs)
    cid = create(box, Image=image, Cmd=["sleep", "600"], HostConfig={"NetworkMode": "none"})
    try:
        assert inspect(box, cid)["Config"]["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 200 * MS}
        box.request("POST", f"/containers/{cid}/start")
        wait_for(lambda: health(box, cid).get("Status") == "healthy", 10, what="the image's probe to pass")
    finally:
        rm(box, cid)
    cid = create(box, Image=image, Cmd=["sleep", "600"], Healthcheck={"Retries": 7})
    try:
        assert inspect(box, cid)["Config"]["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 200 * MS,
                                                              "Retries": 7}
    finally:
        rm(box, cid)


def test_probes_resume_after_a_daemon_restart():
    from tests.integration.helpers import busybox_daemon

    with busybox_daemon("barge-health-") as d:
        cid = started(d, Healthcheck={"Test": ["CMD", "test", "-f", "/tmp/ok"], "Interval": 200 * MS, "Retries": 1})
        exec_id = json.loads(d.request("POST", f"/containers/{cid}/exec", {"Cmd": ["touch", "/tmp/ok"]})[2])["Id"]
        d.request("POST", f"/exec/{exec_id}/start", {"Detach": True})
        wait_for(lambda: health(d, cid)["Status"] == "healthy", 10, what="a passing probe")
        d.restart()  # the container keeps running; the new daemon probes it again
        exec_id = json.loads(d.request("POST", f"/containers/{cid}/exec", {"Cmd": ["rm", "/tmp/ok"]})[2])["Id"]
        d.request("POST", f"/exec/{exec_id}/start", {"Detach": True})
        wait_for(lambda: health(d, cid)["Status"] == "unhealthy", 10, what="probes after the restart")
        rm(d, cid)
