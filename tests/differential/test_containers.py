"""Containers side by side: the life cycle, inspect/list/top/logs/stats/changes, archive, and bad requests."""

from __future__ import annotations

import io
import tarfile

from tests.integration.helpers import frames


def created(name: str, **body):
    body.setdefault("Image", "busybox")
    return lambda s: s.call(f"POST /containers/create?name={name}", body).json["Id"]


def test_create_inspect_list(diff):
    r, b = diff.check("POST /containers/create?name=diff-ci", {"Image": "busybox", "Cmd": ["sleep", "60"],
                                                                "Labels": {"a": "b"}, "Env": ["X=1"]}, expect=201)
    diff.ref.ids["c"], diff.barge.ids["c"] = r.json["Id"], b.json["Id"]
    diff.check("GET /containers/{c}/json", expect=200)
    diff.check("GET /containers/json?all=1", expect=200)
    diff.check("GET /containers/json?all=1&size=1", expect=200)
    diff.check("POST /containers/{c}/start", expect=204)
    diff.check("POST /containers/{c}/start", expect=304, json_body=False)
    diff.check("GET /containers/{c}/json?size=1", expect=200)
    diff.check("GET /containers/json", expect=200)
    diff.check('GET /containers/json?filters={"label":["a=b"]}', expect=200)
    diff.check('GET /containers/json?filters={"status":["running"],"name":["diff-ci"]}', expect=200)
    diff.check('GET /containers/json?filters={"bogus":["x"]}', expect=400)
    diff.check('GET /containers/json?filters={"status":["nope"]}', expect=400)
    diff.check("GET /containers/json?filters=notjson", expect=400)
    diff.check("GET /containers/json?limit=1", expect=200)
    diff.check("POST /containers/create?name=diff-ci", {"Image": "busybox"}, expect=409)
    diff.check("DELETE /containers/{c}", expect=409)
    diff.check("DELETE /containers/{c}?force=1", expect=204)


def test_create_bad_requests(diff):
    diff.check("POST /containers/create", "{", expect=400)
    diff.check("POST /containers/create", {"Image": "busybox", "Cmd": "true", "Tty": "yes"}, expect=400)
    diff.check("POST /containers/create", {"Image": 5}, expect=400)
    diff.check("POST /containers/create", {"Image": "nope-no-such:1"}, expect=404)
    diff.check("POST /containers/create", {}, expect=400)
    diff.check("POST /containers/create?name=a/b", {"Image": "busybox"}, expect=400)
    diff.check("POST /containers/create?name=-x", {"Image": "busybox"}, expect=400)
    diff.check("POST /containers/create", {"Image": "busybox", "HostConfig": {"Memory": -5}}, expect=400)
    diff.check("POST /containers/create", {"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "bad"}}},
               expect=400)
    # dockerd looks the network up at start, not at create
    r, b = diff.check("POST /containers/create?name=diff-nn", {"Image": "busybox",
                                                                "HostConfig": {"NetworkMode": "nope-net"}})
    if r.status == b.status == 201:
        diff.ref.ids["c"], diff.barge.ids["c"] = r.json["Id"], b.json["Id"]
        diff.check("POST /containers/{c}/start", expect=404)
    diff.check("POST /containers/create", {"Image": "busybox", "ExposedPorts": {"abc/tcp": {}}})
    diff.check("POST /containers/create", {"Image": "busybox", "HostConfig": {"CpuShares": "x"}}, expect=400)


def test_unknown_container(diff):
    for request in ("GET /containers/nope/json", "GET /containers/nope/top", "GET /containers/nope/logs?stdout=1",
                    "GET /containers/nope/changes", "GET /containers/nope/export", "GET /containers/nope/stats",
                    "POST /containers/nope/start", "POST /containers/nope/stop", "POST /containers/nope/restart",
                    "POST /containers/nope/kill", "POST /containers/nope/wait", "POST /containers/nope/pause",
                    "POST /containers/nope/unpause", "POST /containers/nope/rename?name=x",
                    "POST /containers/nope/resize?h=1&w=1", "POST /containers/nope/attach?stream=1&stdout=1",
                    "POST /containers/nope/exec", "DELETE /containers/nope", "GET /containers/nope/archive?path=/",
                    "HEAD /containers/nope/archive?path=/", "PUT /containers/nope/archive?path=/"):
        body = {"Cmd": ["true"]} if request.endswith("/exec") else ({} if "update" in request else None)
        diff.check(request, body, json_body=False)
    diff.check("POST /containers/nope/update", {"Memory": 1 << 25})


def test_life_cycle(diff):
    diff.make("c", created("diff-lc", Cmd=["sh", "-c", "echo out; echo err >&2; exec sleep 60"]))
    diff.check("GET /containers/{c}/top", expect=409)
    diff.check("POST /containers/{c}/pause", expect=409)
    diff.check("POST /containers/{c}/unpause")
    diff.check("POST /containers/{c}/kill", expect=409)
    diff.check("POST /containers/{c}/start", expect=204)
    r, b = diff.check("GET /containers/{c}/top", expect=200)
    diff.compare_values("GET /containers/{c}/top", r.json["Titles"], b.json["Titles"], "Titles")
    r, b = diff.check("GET /containers/{c}/top?ps_args=-o%20pid,comm", expect=200)
    diff.compare_values("GET /containers/{c}/top?ps_args", r.json["Titles"], b.json["Titles"], "Titles")
    diff.check("GET /containers/{c}/top?ps_args=--bogus-flag", expect=500)
    r, b = diff.check("GET /containers/{c}/stats?stream=false", expect=200)
    diff.check("GET /containers/{c}/stats?stream=false&one-shot=true", expect=200)
    diff.check("POST /containers/{c}/pause", expect=204)
    diff.check("POST /containers/{c}/pause", expect=409)
    diff.check("GET /containers/{c}/json", expect=200)
    diff.check("POST /containers/{c}/unpause", expect=204)
    diff.check("POST /containers/{c}/unpause")
    diff.check("POST /containers/{c}/kill?signal=BOGUS", expect=400)
    diff.check("POST /containers/{c}/kill?signal=0", expect=400)
    diff.check("POST /containers/{c}/kill?signal=SIGWINCH", expect=204)
    diff.check("POST /containers/{c}/resize?h=10&w=20", expect=200, json_body=False)
    diff.check("POST /containers/{c}/resize?h=x&w=20", expect=400)
    diff.check("POST /containers/{c}/rename?name=diff-lc2", expect=204)
    diff.check("POST /containers/{c}/rename?name=diff-lc2")
    diff.check("POST /containers/{c}/rename", expect=400)
    diff.check("POST /containers/{c}/update", {"Memory": 64 << 20, "MemorySwap": -1, "CpuShares": 512}, expect=200)
    diff.check("POST /containers/{c}/update", {"Memory": "x"}, expect=400)
    diff.check("POST /containers/{c}/update", "{", expect=400)
    diff.check("POST /containers/{c}/update", {"RestartPolicy": {"Name": "always"}}, expect=200)
    diff.check("POST /containers/{c}/update", {"RestartPolicy": {"Name": "no"}}, expect=200)
    diff.check("POST /containers/{c}/restart?t=0", expect=204)
    diff.check("POST /containers/{c}/stop?t=0", expect=204)
    diff.check("POST /containers/{c}/stop?t=0", expect=304, json_body=False)
    diff.check("POST /containers/{c}/stop?t=x", json_body=False)
    diff.check("POST /containers/{c}/wait", expect=200)
    diff.check("POST /containers/{c}/wait?condition=bogus")
    r, b = diff.check("GET /containers/{c}/logs?stdout=1&stderr=1", expect=200, json_body=False)
    # the frames, in any order: stdout and stderr are two pipes, and no daemon orders their lines between them
    diff.compare_values("GET /containers/{c}/logs", sorted(frames(r.body)), sorted(frames(b.body)), "frames")
    # both streams: the last line is "out" or "err" (the same length) as the two pipes happened to deliver them
    r, b = diff.check("GET /containers/{c}/logs?stdout=1&stderr=1&timestamps=1&tail=1", expect=200, json_body=False)
    diff.compare_values("GET /containers/{c}/logs?tail=1", len(r.body), len(b.body), "length")
    diff.check("GET /containers/{c}/logs", expect=400)
    diff.check("GET /containers/{c}/logs?stdout=1&since=bogus", expect=400)
    diff.check("GET /containers/{c}/stats?stream=false", expect=200)
    diff.check("GET /containers/{c}/json", expect=200)


def test_changes_export_archive(diff):
    diff.make("c", created("diff-ar", Cmd=["sh", "-c", "echo hi > /tmp/f; mkdir /new; rm /bin/true"]))
    diff.check("GET /containers/{c}/changes", expect=200)
    diff.check("POST /containers/{c}/start", expect=204)
    diff.check("POST /containers/{c}/wait", expect=200)
    r, b = diff.check("GET /containers/{c}/changes", expect=200)
    diff.compare_values("GET /containers/{c}/changes", sorted(map(str, r.json)), sorted(map(str, b.json)), "body")
    r, b = diff.check("GET /containers/{c}/export", expect=200, json_body=False)
    names_r = set(tarfile.open(fileobj=io.BytesIO(r.body)).getnames())
    names_b = set(tarfile.open(fileobj=io.BytesIO(b.body)).getnames())
    diff.compare_values("GET /containers/{c}/export", sorted(names_r ^ names_b), [], "member names only on one side")
    for path in ("/tmp/f", "/tmp", "/nope", "relative"):
        r, b = diff.check(f"HEAD /containers/{{c}}/archive?path={path}", json_body=False)
        diff.compare_values(f"HEAD /containers/{{c}}/archive?path={path}", r.headers.get("X-Docker-Container-Path-Stat")
                            is None, b.headers.get("X-Docker-Container-Path-Stat") is None, "stat header absent")
        diff.check(f"GET /containers/{{c}}/archive?path={path}", json_body=False)
    diff.check("GET /containers/{c}/archive", json_body=False)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("put.txt")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"ok"))
    tar = buf.getvalue()
    ctype = {"Content-Type": "application/x-tar"}
    diff.check("PUT /containers/{c}/archive?path=/tmp", tar, ctype, expect=200, json_body=False)
    diff.check("PUT /containers/{c}/archive?path=/nope", tar, ctype, json_body=False)
    diff.check("PUT /containers/{c}/archive?path=/tmp/f", tar, ctype, json_body=False)
    diff.check("PUT /containers/{c}/archive", tar, ctype, json_body=False)
    diff.check("PUT /containers/{c}/archive?path=/tmp", b"not a tar at all" * 64, ctype, json_body=False)


def test_attach_errors(diff):
    diff.make("c", created("diff-at", Cmd=["true"]))
    diff.check("POST /containers/{c}/attach?logs=x", json_body=False)
    diff.check("POST /containers/{c}/attach?detachKeys=ctrl-", json_body=False)
    r, b = diff.check("GET /containers/{c}/attach/ws?stream=1", json_body=False)


def test_prune(diff):
    diff.make("c", created("diff-pr", Cmd=["true"]))
    diff.check('POST /containers/prune?filters={"label":["nope"]}', expect=200)
    r, b = diff.check("POST /containers/prune", expect=200)
    diff.compare_values("POST /containers/prune", len(r.json["ContainersDeleted"] or []),
                        len(b.json["ContainersDeleted"] or []), "len(ContainersDeleted)")
    diff.check('POST /containers/prune?filters={"bogus":["x"]}', expect=400)
    diff.check("POST /containers/prune?filters=x", expect=400)


def test_commit(diff):
    diff.make("c", created("diff-cm", Cmd=["sh", "-c", "echo x > /x"]))
    diff.check("POST /containers/{c}/start", expect=204)
    diff.check("POST /containers/{c}/wait", expect=200)
    diff.check("POST /commit?container={c}&repo=diff-commit&tag=t1&comment=c&author=a", {"Labels": {"k": "v"}},
               expect=201)
    diff.make("i", lambda s: s.call("GET /images/diff-commit:t1/json").json["Id"])
    diff.check("GET /images/diff-commit:t1/json", expect=200)
    diff.check("GET /images/diff-commit:t1/history", expect=200)
    diff.check("POST /commit?container={c}&repo=diff-commit&changes=BOGUS%20x", expect=400)
    diff.check("POST /commit?container={c}&repo=Bad:Name:x", expect=400)
    diff.check("POST /commit?container=nope", expect=404)
    diff.check("POST /commit?container={c}", "{", expect=400)
    diff.check("DELETE /images/diff-commit:t1", expect=200)


def test_wait_conditions(diff):
    diff.make("c", created("diff-wt", Cmd=["sh", "-c", "exit 3"]))
    diff.check("POST /containers/{c}/start", expect=204)
    r, b = diff.check("POST /containers/{c}/wait", expect=200)
    diff.compare_values("POST /containers/{c}/wait", r.json, b.json, "body")
    diff.check("POST /containers/{c}/wait?condition=not-running", expect=200)
    diff.check("GET /containers/{c}/json", expect=200)
