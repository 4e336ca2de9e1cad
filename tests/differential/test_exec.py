"""Exec side by side: create, inspect, start (detached and not), resize, and bad requests."""

from __future__ import annotations


def test_exec(diff):
    diff.make("c", lambda s: s.call("POST /containers/create?name=diff-ex", {"Image": "busybox",
                                                                              "Cmd": ["sleep", "60"]}).json["Id"])
    diff.check("POST /containers/{c}/exec", {"Cmd": ["true"]}, expect=409)
    diff.check("POST /containers/{c}/start", expect=204)
    r, b = diff.check("POST /containers/{c}/exec", {"Cmd": ["sh", "-c", "echo hi; exit 2"], "AttachStdout": True,
                                                    "Env": ["A=1"], "User": "0", "WorkingDir": "/tmp"}, expect=201)
    diff.ref.ids["e"], diff.barge.ids["e"] = r.json["Id"], b.json["Id"]
    diff.check("GET /exec/{e}/json", expect=200)
    diff.check("POST /exec/{e}/resize?h=10&w=10", json_body=False)
    r, b = diff.check("POST /exec/{e}/start", {"Detach": False, "Tty": False}, expect=200, json_body=False)
    diff.compare_values("POST /exec/{e}/start", r.body, b.body, "body")
    diff.check("GET /exec/{e}/json", expect=200)
    diff.check("POST /exec/{e}/start", {"Detach": True}, json_body=False)
    diff.check("POST /exec/{e}/start", "{", json_body=False)
    r, b = diff.check("POST /containers/{c}/exec", {"Cmd": ["sleep", "30"], "Tty": True}, expect=201)
    diff.ref.ids["t"], diff.barge.ids["t"] = r.json["Id"], b.json["Id"]
    diff.check("POST /exec/{t}/resize?h=10&w=10", json_body=False)
    diff.check("POST /exec/{t}/start", {"Detach": True, "Tty": True}, expect=200, json_body=False)
    diff.check("GET /exec/{t}/json", expect=200)
    diff.check("POST /exec/{t}/resize?h=10&w=10", expect=200, json_body=False)
    diff.check("POST /exec/{t}/resize?h=x&w=10", expect=400)


def test_exec_bad_requests(diff):
    diff.make("c", lambda s: s.call("POST /containers/create?name=diff-exb", {"Image": "busybox",
                                                                               "Cmd": ["sleep", "60"]}).json["Id"])
    diff.check("POST /containers/{c}/start", expect=204)
    diff.check("POST /containers/{c}/exec", {}, expect=400)
    diff.check("POST /containers/{c}/exec", {"Cmd": []}, expect=400)
    diff.check("POST /containers/{c}/exec", {"Cmd": "true"}, expect=400)
    diff.check("POST /containers/{c}/exec", "{", expect=400)
    diff.check("POST /containers/{c}/exec", {"Cmd": ["true"], "DetachKeys": "ctrl-"}, expect=400)
    r, b = diff.check("POST /containers/{c}/exec", {"Cmd": ["/no/such/binary"]}, expect=201)
    diff.ref.ids["e"], diff.barge.ids["e"] = r.json["Id"], b.json["Id"]
    diff.check("POST /exec/{e}/start", {"Detach": True}, json_body=False)
    diff.check("GET /exec/{e}/json", expect=200)
    diff.check("GET /exec/nope/json", expect=404)
    diff.check("POST /exec/nope/start", {"Detach": True}, expect=404)
    diff.check("POST /exec/nope/resize?h=1&w=1", expect=404)
    diff.check("POST /containers/{c}/pause", expect=204)
    diff.check("POST /containers/{c}/exec", {"Cmd": ["true"]}, expect=409)
    diff.check("POST /containers/{c}/unpause", expect=204)
