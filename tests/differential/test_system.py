"""System endpoints side by side: ping, version, info, df, events, auth; and the swarm, plugin and session ones."""

from __future__ import annotations

import time

from tests.differential.conftest import json_stream


def test_ping_version_info(diff):
    r, b = diff.check("GET /_ping", expect=200, json_body=False)
    diff.compare_values("GET /_ping", r.body, b.body, "body")
    for header in ("Api-Version", "Docker-Experimental", "Cache-Control", "Pragma"):
        diff.compare_values("GET /_ping", r.headers.get(header) is None, b.headers.get(header) is None,
                            f"header {header} absent")
    r, b = diff.check("HEAD /_ping", expect=200, json_body=False)
    diff.compare_values("HEAD /_ping", r.body, b.body, "body")
    diff.check("GET /version", expect=200)
    diff.check("GET /info", expect=200)


def test_system_df(diff):
    diff.both("POST /images/prune")  # busybox alone, as in the image lists (see test_images)
    diff.make("c", lambda s: s.call("POST /containers/create", {"Image": "busybox", "Cmd": ["true"]}).json["Id"])
    diff.make("v", lambda s: s.call("POST /volumes/create", {"Name": "diff-df"}).json["Name"])
    diff.check("GET /system/df", expect=200)
    diff.check("DELETE /volumes/{v}", expect=204)


def test_events_bounded(diff):
    since = f"{time.time():.9f}"
    diff.make("c", lambda s: s.call("POST /containers/create?name=diff-ev", {"Image": "busybox",
                                                                               "Cmd": ["true"]}).json["Id"])
    diff.check("POST /containers/{c}/start", expect=204)
    diff.check("POST /containers/{c}/wait", expect=200)
    diff.check("DELETE /containers/{c}", expect=204)
    until = f"{time.time() + 0.2:.9f}"
    # container events only: barge's containers join its default bridge (network events), dockerd's have none
    request = f"GET /events?since={since}&until={until}" + '&filters={"type":["container"]}'
    time.sleep(0.3)
    r, b = diff.both(request)
    diff.compare(request, r, b, json_body=False)
    er, eb = json_stream(r.body), json_stream(b.body)
    diff.compare_values(request, [(e["Type"], e["Action"]) for e in er], [(e["Type"], e["Action"]) for e in eb],
                        "Type/Action sequence")
    diff.compare_shapes(request, er, eb)
    request = f"GET /events?since={since}&until={until}&filters=" + '{"event":{"die":true}}'
    r, b = diff.both(request)
    diff.compare_shapes(request, json_stream(r.body), json_stream(b.body))
    diff.check('GET /events?until=1&filters={"nope":{"x":true}}')
    diff.check("GET /events?since=bogus&until=1")
    diff.check("GET /events?since=10&until=5")


def test_auth_errors(diff):
    diff.check("POST /auth", "{", expect=400)
    diff.check("POST /auth", {"username": 1}, expect=400)
    # nothing listens on 127.0.0.1:1: the login fails without leaving the machine
    diff.check("POST /auth", {"username": "u", "password": "p", "serveraddress": "127.0.0.1:1"})


SWARM_ONLY = [
    "GET /swarm", "POST /swarm/leave?force=1", "POST /swarm/update?version=1", "GET /swarm/unlockkey",
    "POST /swarm/unlock", "GET /nodes", "GET /nodes/x", "DELETE /nodes/x", "GET /services", "GET /services/x",
    "GET /services/x/logs", "GET /tasks", "GET /tasks/x", "GET /secrets", "GET /secrets/x", "GET /configs",
    "GET /configs/x",
]


def test_swarm_endpoints_not_in_a_swarm(diff):
    for request in SWARM_ONLY:
        diff.check(request, {} if request.startswith("POST") else None)
    diff.check("POST /swarm/join", {"RemoteAddrs": ["127.0.0.1:1"], "JoinToken": "x"})
    diff.check("POST /swarm/init", "{")
    diff.check("POST /services/create", {"Name": "x"})


def test_plugins_list(diff):
    r, b = diff.check("GET /plugins", expect=200)
    # dockerd's private instance has no managed plugin; barge lists its driver packages as plugins
    if r.json == [] and isinstance(b.json, list) and b.json:
        assert {"Id", "Name", "Enabled", "Config", "Settings"} <= set(b.json[0]), b.json[0]
    diff.check("GET /plugins/nope/json")
    diff.check("GET /plugins?filters=" + '{"bogus":{"x":true}}')
    diff.check("DELETE /plugins/nope")
    diff.check("POST /plugins/nope/enable")
    diff.check("POST /plugins/nope/disable")


def test_session_and_distribution(diff):
    diff.check("POST /session", expect=None, json_body=False)
    diff.check("GET /distribution/127.0.0.1:1/nope/json")
    diff.check("GET /distribution/Bad%20Name/json")
