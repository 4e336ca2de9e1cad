"""Networks and volumes side by side.

The reference dockerd runs without a bridge and without iptables, so the
built-in ``bridge`` network exists only on barge's side: the list and the
prune skip it; user networks are created on both (dockerd makes their
bridges itself even with ``--iptables=false``).
"""

from __future__ import annotations

import pytest


def net_body(side):
    """The same network on both sides, on subnets of their own: both bridges are on the host's routes."""
    n = 7 if side.name == "dockerd" else 8
    return {"Name": "diff-net", "Driver": "bridge", "Labels": {"a": "b"},
            "IPAM": {"Config": [{"Subnet": f"10.231.{n}.0/24", "Gateway": f"10.231.{n}.1"}]}}


def _without_bridge(networks):
    return [n for n in networks or [] if n["Name"] != "bridge"]


def test_builtin_networks(diff):
    r, b = diff.both("GET /networks")
    diff.compare("GET /networks", r, b, json_body=False)
    diff.compare_shapes("GET /networks", _without_bridge(r.json), _without_bridge(b.json))
    diff.check("GET /networks/host", expect=200)
    diff.check("GET /networks/none", expect=200)
    diff.check("GET /networks/none?verbose=true", expect=200)
    diff.check("GET /networks/nope", expect=404)
    diff.check("DELETE /networks/host", expect=403)
    diff.check("DELETE /networks/nope", expect=404)
    diff.check('GET /networks?filters={"bogus":["x"]}', expect=400)
    diff.check('GET /networks?filters={"type":["nope"]}', expect=400)
    diff.check("GET /networks?filters=x", expect=400)


def test_create_bad_requests(diff):
    diff.check("POST /networks/create", "{", expect=400)
    diff.check("POST /networks/create", {}, expect=400)
    diff.check("POST /networks/create", {"Name": 5}, expect=400)
    diff.check("POST /networks/create", {"Name": "host"}, expect=403)
    diff.check("POST /networks/create", {"Name": "diff-x", "Driver": "nope-driver"})
    diff.check("POST /networks/create", {"Name": "diff-x", "IPAM": {"Config": [{"Subnet": "bogus"}]}})
    diff.check("POST /networks/create", {"Name": "diff-x", "Driver": "host"})


def test_user_network(diff):
    r, b = diff.check("POST /networks/create", net_body)
    if r.status != 201:
        pytest.skip(f"the reference dockerd cannot make bridge networks here: {r.body[:200]!r}")
    assert b.status == 201, b.body
    diff.ref.ids["n"], diff.barge.ids["n"] = r.json["Id"], b.json["Id"]
    diff.check("POST /networks/create", lambda s: {**net_body(s), "CheckDuplicate": True}, expect=409)
    diff.check("GET /networks/{n}", expect=200)
    diff.check("GET /networks/diff-net", expect=200)
    diff.check('GET /networks?filters={"name":["diff-net"]}', expect=200)
    diff.check('GET /networks?filters={"label":["a=b"],"type":["custom"]}', expect=200)
    diff.make("c", lambda s: s.call("POST /containers/create?name=diff-nc", {"Image": "busybox",
                                                                              "Cmd": ["sleep", "60"]}).json["Id"])
    diff.check("POST /networks/{n}/connect", lambda s: {"Container": s.ids["c"],
                                                         "EndpointConfig": {"Aliases": ["al"]}}, expect=200)
    diff.check("POST /containers/{c}/start", expect=204)
    diff.check("GET /networks/{n}", expect=200)
    diff.check("GET /containers/{c}/json", expect=200)
    diff.check("POST /networks/{n}/connect", {"Container": "nope"}, expect=404)
    diff.check("POST /networks/{n}/connect", "{", expect=400)
    diff.check("POST /networks/nope/connect", {"Container": "nope"}, expect=404)
    diff.check("POST /networks/{n}/disconnect", {"Container": "nope"}, expect=404)
    diff.check("DELETE /networks/{n}", expect=403)
    diff.check("POST /networks/{n}/disconnect", lambda s: {"Container": s.ids["c"]}, expect=200)
    diff.check("POST /networks/{n}/disconnect", lambda s: {"Container": s.ids["c"]})
    diff.check("DELETE /networks/{n}", expect=204)


def test_network_prune(diff):
    r, b = diff.check("POST /networks/create", {"Name": "diff-pr", "Labels": {"p": "1"}})
    if r.status != 201:
        pytest.skip(f"the reference dockerd cannot make bridge networks here: {r.body[:200]!r}")
    diff.check('POST /networks/prune?filters={"label":["nope"]}', expect=200)
    r, b = diff.check('POST /networks/prune?filters={"label":["p=1"]}', expect=200)
    diff.compare_values("POST /networks/prune", r.json, b.json, "body")
    diff.check('POST /networks/prune?filters={"bogus":["x"]}', expect=400)


def test_volumes(diff):
    diff.check("GET /volumes", expect=200)
    r, b = diff.check("POST /volumes/create", {"Name": "diff-vol", "Labels": {"a": "b"}}, expect=201)
    diff.check("POST /volumes/create", {"Name": "diff-vol"}, expect=201)
    diff.check("POST /volumes/create", {}, expect=201)
    diff.check("GET /volumes/diff-vol", expect=200)
    diff.check("GET /volumes", expect=200)
    diff.check('GET /volumes?filters={"label":["a=b"]}', expect=200)
    diff.check('GET /volumes?filters={"dangling":["true"]}', expect=200)
    diff.check('GET /volumes?filters={"bogus":["x"]}', expect=400)
    diff.check('GET /volumes?filters={"dangling":["maybe"]}', expect=400)
    diff.check("GET /volumes/nope", expect=404)
    diff.check("DELETE /volumes/nope", expect=404)
    diff.check("POST /volumes/create", "{", expect=400)
    diff.check("POST /volumes/create", {"Name": 5}, expect=400)
    diff.check("POST /volumes/create", {"Name": "bad/name"}, expect=400)
    diff.check("POST /volumes/create", {"Name": "x"})
    diff.check("POST /volumes/create", {"Name": "diff-x", "Driver": "nope-driver"})
    diff.check("POST /volumes/create", {"Name": "diff-x", "DriverOpts": {"bogus": "1"}})
    diff.make("c", lambda s: s.call("POST /containers/create", {"Image": "busybox",
                                                                "HostConfig": {"Binds": ["diff-vol:/v"]}}).json["Id"])
    diff.check("GET /volumes/diff-vol", expect=200)
    diff.check("DELETE /volumes/diff-vol", expect=409)
    diff.check("DELETE /containers/{c}", expect=204)
    diff.check("DELETE /volumes/diff-vol", expect=204)
    diff.check("PUT /volumes/diff-vol", {"Spec": {}})
    r, b = diff.check("POST /volumes/prune", expect=200)
    diff.check('POST /volumes/prune?filters={"bogus":["x"]}', expect=400)
