"""Images side by side: list, inspect, history, tag, delete, get, load, import, prune, search, and build's stream."""

from __future__ import annotations

import io
import tarfile

from tests.differential.conftest import json_stream


def test_list_inspect_history(diff):
    # both lists hold busybox alone: dockerd 20.10 commits before it checks the repo name, so test_commit's
    # `repo=Bad:Name:x` (500) leaves it a dangling image barge never makes (it refuses first, 400, nothing made)
    diff.both("POST /images/prune")
    diff.check("GET /images/json", expect=200)
    diff.check("GET /images/json?all=1&digests=1", expect=200)
    diff.check('GET /images/json?filters={"reference":["busybox"]}', expect=200)
    diff.check('GET /images/json?filters={"dangling":["true"]}', expect=200)
    diff.check('GET /images/json?filters={"bogus":["x"]}', expect=400)
    diff.check('GET /images/json?filters={"dangling":["maybe"]}', expect=400)
    diff.check("GET /images/busybox/json", expect=200)
    diff.check("GET /images/busybox/history", expect=200)
    diff.check("GET /images/nope/json", expect=404)
    diff.check("GET /images/nope/history", expect=404)
    diff.check("GET /images/Bad:Name:x/json")


def test_tag_delete(diff):
    diff.both("POST /images/prune")  # no untagged child left by earlier tests: rmi checks children first
    diff.check("POST /images/busybox/tag?repo=diff-tag&tag=one", expect=201, json_body=False)
    diff.check("POST /images/busybox/tag?repo=diff-tag&tag=two", expect=201, json_body=False)
    diff.check("POST /images/busybox/tag?repo=Bad_Upper&tag=x", expect=400)
    diff.check("POST /images/busybox/tag?repo=diff-tag&tag=bad:tag", expect=400)
    diff.check("POST /images/busybox/tag", expect=400)
    diff.check("POST /images/nope/tag?repo=x", expect=404)
    diff.check("DELETE /images/diff-tag:one", expect=200)
    diff.check("DELETE /images/diff-tag:one", expect=404)
    diff.check("DELETE /images/nope", expect=404)
    diff.make("c", lambda s: s.call("POST /containers/create", {"Image": "diff-tag:two"}).json["Id"])
    diff.check("DELETE /images/diff-tag:two", expect=200)
    diff.make("i", lambda s: s.call("GET /images/busybox/json").json["Id"])
    diff.check("DELETE /images/{i}", expect=409)


def test_get_load(diff):
    r, b = diff.check("GET /images/busybox/get", expect=200, json_body=False)
    names_r = sorted(tarfile.open(fileobj=io.BytesIO(r.body)).getnames())
    names_b = sorted(tarfile.open(fileobj=io.BytesIO(b.body)).getnames())
    diff.compare_values("GET /images/busybox/get", [n for n in names_r if "/" not in n and not n.endswith(".json")],
                        [n for n in names_b if "/" not in n and not n.endswith(".json")], "top-level names")
    diff.check("GET /images/get?names=busybox", expect=200, json_body=False)
    diff.check("GET /images/nope/get", json_body=False)
    diff.check("GET /images/get?names=nope", json_body=False)
    tar_headers = {"Content-Type": "application/x-tar"}
    ra = diff.ref.call("POST /images/load?quiet=0", r.body, tar_headers)
    ba = diff.barge.call("POST /images/load?quiet=0", b.body, tar_headers)
    diff.compare("POST /images/load", ra, ba, json_body=False)
    diff.compare_shapes("POST /images/load", json_stream(ra.body), json_stream(ba.body))
    ra = diff.ref.call("POST /images/load?quiet=1", r.body, tar_headers)
    ba = diff.barge.call("POST /images/load?quiet=1", b.body, tar_headers)
    diff.compare_shapes("POST /images/load?quiet=1", json_stream(ra.body), json_stream(ba.body))
    r, b = diff.check("POST /images/load", b"not a tar" * 100, tar_headers, json_body=False)
    diff.compare_shapes("POST /images/load (bad tar)", json_stream(r.body) if r.status == 200 else None,
                        json_stream(b.body) if b.status == 200 else None)


def _rootfs_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("hello.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"hello"))
    return buf.getvalue()


def test_import_from_src(diff):
    headers = {"Content-Type": "application/x-tar"}
    r, b = diff.check("POST /images/create?fromSrc=-&repo=diff-imp&tag=t&changes=CMD%20%5B%22sh%22%5D",
                      _rootfs_tar(), headers, expect=200, json_body=False)
    diff.compare_shapes("POST /images/create?fromSrc=-", json_stream(r.body), json_stream(b.body))
    diff.check("GET /images/diff-imp:t/json", expect=200)
    r, b = diff.check("POST /images/create?fromSrc=-&repo=diff-imp&changes=BOGUS%20x", _rootfs_tar(), headers,
                      json_body=False)
    diff.compare_shapes("POST /images/create?fromSrc=- (bad change)", json_stream(r.body), json_stream(b.body))
    r, b = diff.check("POST /images/create?fromSrc=-&repo=diff-imp", b"not a tar" * 64, headers, json_body=False)
    diff.compare_shapes("POST /images/create?fromSrc=- (bad tar)", json_stream(r.body), json_stream(b.body))
    diff.check("POST /images/create?fromSrc=-&repo=Bad:Re:po", _rootfs_tar(), headers, json_body=False)
    diff.check("POST /images/create", expect=400)
    diff.check("DELETE /images/diff-imp:t", expect=200)


def test_pull_and_search_errors(diff):
    # only names on a closed loopback port: no request leaves the machine
    r, b = diff.check("POST /images/create?fromImage=127.0.0.1:1/nope&tag=x", json_body=False)
    diff.compare_shapes("POST /images/create?fromImage", json_stream(r.body), json_stream(b.body))
    diff.check("POST /images/create?fromImage=Bad:Name:x", json_body=False)
    diff.check("POST /images/127.0.0.1:1/nope/push", json_body=False)
    diff.check("POST /images/nope-local/push", json_body=False)
    # search always asks a registry (docker.io unless named): only bad input, which fails before any request
    diff.check("GET /images/search?term=x&limit=x", expect=None)
    diff.check('GET /images/search?term=x&filters={"bogus":["x"]}', expect=None)


def test_prune(diff):
    headers = {"Content-Type": "application/x-tar"}
    diff.both("POST /images/prune")  # what earlier tests left dangling, which is not the same on both sides
    diff.check("POST /images/create?fromSrc=-", _rootfs_tar(), headers, expect=200, json_body=False)
    r, b = diff.check("POST /images/prune", expect=200)
    diff.compare_values("POST /images/prune", sorted(sorted(e) for e in r.json["ImagesDeleted"] or []),
                        sorted(sorted(e) for e in b.json["ImagesDeleted"] or []), "ImagesDeleted keys")
    diff.check('POST /images/prune?filters={"dangling":["false"],"label":["nope"]}', expect=200)
    diff.check('POST /images/prune?filters={"bogus":["x"]}', expect=400)
    diff.check('POST /images/prune?filters={"until":["bogus"]}', expect=400)


def _context(dockerfile: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _stream_keys(body: bytes) -> list[list[str]]:
    """The distinct key sets of a build's messages, in first-seen order."""
    seen: list[list[str]] = []
    for message in json_stream(body):
        keys = sorted(message)
        if keys not in seen:
            seen.append(keys)
    return seen


def test_build_stream(diff):
    headers = {"Content-Type": "application/x-tar"}
    good = _context("FROM busybox\nRUN echo built > /b\nLABEL a=b\n")
    request = "POST /build?t=diff-build:1&rm=1"
    r, b = diff.check(request, good, headers, expect=200, json_body=False)
    diff.compare_values(request, _stream_keys(r.body), _stream_keys(b.body), "message key sets")
    diff.compare_shapes(request, json_stream(r.body), json_stream(b.body))
    request = "POST /build?q=1"
    r, b = diff.check(request, good, headers, expect=200, json_body=False)
    diff.compare_values(request, _stream_keys(r.body), _stream_keys(b.body), "message key sets")
    request = "POST /build (a failing RUN)"
    r, b = diff.both("POST /build", _context("FROM busybox\nRUN exit 7\n"), headers)
    diff.compare(request, r, b, json_body=False)
    diff.compare_values(request, _stream_keys(r.body)[-1:], _stream_keys(b.body)[-1:], "last message keys")
    last_r, last_b = json_stream(r.body)[-1], json_stream(b.body)[-1]
    diff.compare_values(request, last_r.get("error"), last_b.get("error"), "error")
    diff.compare_shapes(request, last_r, last_b)
    request = "POST /build (bad instruction)"
    r, b = diff.both("POST /build", _context("FROM busybox\nBOGUS x\n"), headers)
    diff.compare(request, r, b, json_body=False)
    diff.compare_values(request, r.body.startswith(b"{"), b.body.startswith(b"{"), "a JSON stream")
    request = "POST /build (unknown image)"  # on a closed loopback port: nothing leaves the machine
    r, b = diff.both("POST /build", _context("FROM 127.0.0.1:1/nope\n"), headers)
    diff.compare(request, r, b, json_body=False)
    diff.compare_values(request, [m.get("error") for m in json_stream(r.body) if "error" in m],
                        [m.get("error") for m in json_stream(b.body) if "error" in m], "errors")
    diff.check("POST /build?dockerfile=nope", good, headers)
    diff.check("POST /build", b"not a tar" * 64, headers)
    diff.check("POST /build?t=Bad:Tag:x", good, headers, expect=400)
    diff.check("POST /build?buildargs=notjson", good, headers, expect=400)
    diff.check("POST /build?version=9", good, headers, expect=400)
    diff.check("POST /build/prune", expect=200)
    diff.check('POST /build/prune?filters={"bogus":["x"]}')
    diff.check("POST /build/cancel?id=nope")
    diff.check("DELETE /images/diff-build:1", expect=200)
