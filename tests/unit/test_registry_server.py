"""barge's registry server against the distribution spec (conformance
categories pull, push, content discovery, content management), auth (Basic,
token), v1 search, gc and crash safety. A real ``barge registry serve``
process on 127.0.0.1, driven with plain http.client."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from barge.registry.server.testing import start_registry, stop_registry
from barge.testing.wait import wait_for

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Reply:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def code(self) -> str:
        return self.json()["errors"][0]["code"]


class Client:
    def __init__(self, url: str, auth: str | None = None):
        parts = urlsplit(url)
        self.url, self.host, self.port, self.tls = url, parts.hostname, parts.port, parts.scheme == "https"
        self.auth = auth

    def conn(self) -> http.client.HTTPConnection:
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            return http.client.HTTPSConnection(self.host, self.port, timeout=30, context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                auth: str | None = None) -> Reply:
        headers = dict(headers or {})
        if auth or self.auth:
            headers["Authorization"] = auth or self.auth
        if body is not None:
            headers.setdefault("Content-Length", str(len(body)))
        elif method in ("POST", "PUT", "PATCH"):
            headers.setdefault("Content-Length", "0")
        conn = self.conn()
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return Reply(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    # -- helpers for setting content up --------------------------------------------------

    def push_blob(self, name: str, data: bytes) -> str:
        digest = sha(data)
        r = self.request("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", data,
                         {"Content-Type": "application/octet-stream"})
        assert r.status == 201, r.body
        return digest

    def push_image(self, name: str, tag: str | None = "latest", layers: tuple[bytes, ...] = (b"layer-a",),
                   extra: dict | None = None, media_type: str = OCI_MANIFEST) -> tuple[str, bytes]:
        config = json.dumps({"architecture": "amd64", "os": "linux", "n": name}).encode()
        manifest = {
            "schemaVersion": 2, "mediaType": media_type,
            "config": {"mediaType": CONFIG, "digest": self.push_blob(name, config), "size": len(config)},
            "layers": [{"mediaType": LAYER, "digest": self.push_blob(name, data), "size": len(data)}
                       for data in layers],
            **(extra or {}),
        }
        body = json.dumps(manifest).encode()
        ref = tag or sha(body)
        r = self.request("PUT", f"/v2/{name}/manifests/{ref}", body, {"Content-Type": media_type})
        assert r.status == 201, r.body
        assert r.headers["Docker-Content-Digest"] == sha(body)
        return sha(body), body


def error_of(reply: Reply) -> str:
    body = reply.json()
    assert set(body["errors"][0]) == {"code", "message", "detail"}
    return body["errors"][0]["code"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry")
    url, proc = start_registry(tmp)
    yield Client(url), tmp / "registry"
    stop_registry(proc)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def reg(server):
    return server[0]


# ---------------------------------------------------------------------------
# pull
# ---------------------------------------------------------------------------


def test_base_and_api_version_header(reg):
    r = reg.request("GET", "/v2/")
    assert r.status == 200 and r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    r = reg.request("GET", "/v2/nope/nope/tags/list")
    assert r.status == 404 and r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert error_of(r) == "NAME_UNKNOWN"


def test_pull_blobs_and_manifests_by_tag_and_digest(reg):
    digest, body = reg.push_image("pull/one", "v1", layers=(b"0123456789" * 100,))
    layer = json.loads(body)["layers"][0]["digest"]
    for method in ("HEAD", "GET"):
        r = reg.request(method, f"/v2/pull/one/blobs/{layer}")
        assert r.status == 200
        assert r.headers["Content-Length"] == "1000" and r.headers["Docker-Content-Digest"] == layer
        assert r.body == (b"0123456789" * 100 if method == "GET" else b"")
        for ref in ("v1", digest):
            r = reg.request(method, f"/v2/pull/one/manifests/{ref}")
            assert r.status == 200, r.body
            assert r.headers["Content-Type"] == OCI_MANIFEST and r.headers["Docker-Content-Digest"] == digest
            assert r.headers["Content-Length"] == str(len(body))
            assert r.body == (body if method == "GET" else b"")


def test_pull_range_request(reg):
    data = bytes(range(256)) * 40
    digest = reg.push_blob("pull/range", data)
    r = reg.request("GET", f"/v2/pull/range/blobs/{digest}", headers={"Range": "bytes=100-1099"})
    assert r.status == 206 and r.body == data[100:1100]
    assert r.headers["Content-Range"] == f"bytes 100-1099/{len(data)}"
    r = reg.request("GET", f"/v2/pull/range/blobs/{digest}", headers={"Range": "bytes=10000-"})
    assert r.status == 206 and r.body == data[10000:]


def test_pull_missing_things_are_404_with_error_json(reg):
    reg.push_image("pull/missing")
    r = reg.request("GET", f"/v2/pull/missing/blobs/{sha(b'absent')}")
    assert r.status == 404 and error_of(r) == "BLOB_UNKNOWN"
    assert reg.request("HEAD", f"/v2/pull/missing/blobs/{sha(b'absent')}").status == 404
    for ref in ("nosuchtag", sha(b"absent")):
        r = reg.request("GET", f"/v2/pull/missing/manifests/{ref}")
        assert r.status == 404 and error_of(r) == "MANIFEST_UNKNOWN"
    r = reg.request("GET", "/v2/pull/missing/blobs/sha256:1234")
    assert r.status == 400 and error_of(r) == "DIGEST_INVALID"


def test_blob_visible_only_in_repositories_it_is_linked_in(reg):
    digest = reg.push_blob("link/a", b"only in a")
    assert reg.request("HEAD", f"/v2/link/a/blobs/{digest}").status == 200
    assert reg.request("HEAD", f"/v2/link/b/blobs/{digest}").status == 404


# ---------------------------------------------------------------------------
# push
# ---------------------------------------------------------------------------


def test_push_post_then_put(reg):
    data = b"post then put"
    r = reg.request("POST", "/v2/push/pp/blobs/uploads/")
    assert r.status == 202 and r.headers["Location"] and r.headers["Docker-Upload-UUID"]
    assert r.headers["Range"] == "0-0"
    r = reg.request("PUT", f"{r.headers['Location']}?digest={sha(data)}", data,
                    {"Content-Type": "application/octet-stream"})
    assert r.status == 201 and r.headers["Docker-Content-Digest"] == sha(data)
    assert r.headers["Location"] == f"/v2/push/pp/blobs/{sha(data)}"
    assert reg.request("GET", r.headers["Location"]).body == data


def test_push_streamed_patch_then_put(reg):
    data = os.urandom(3 << 20)
    location = reg.request("POST", "/v2/push/stream/blobs/uploads/").headers["Location"]
    r = reg.request("PATCH", location, data, {"Content-Type": "application/octet-stream"})
    assert r.status == 202 and r.headers["Range"] == f"0-{len(data) - 1}"
    r = reg.request("PUT", f"{r.headers['Location']}?digest={sha(data)}")
    assert r.status == 201
    assert reg.request("GET", f"/v2/push/stream/blobs/{sha(data)}").body == data


def test_push_chunked_with_out_of_order_and_retried_chunks(reg):
    data = os.urandom(20)
    first, second = data[:10], data[10:]
    r = reg.request("POST", "/v2/push/chunked/blobs/uploads/")
    assert r.status == 202
    location = r.headers["Location"]
    octet = {"Content-Type": "application/octet-stream"}
    r = reg.request("PATCH", location, second, {**octet, "Content-Range": "10-19"})
    assert r.status == 416 and r.headers["Range"] == "0-0"
    r = reg.request("PATCH", location, first, {**octet, "Content-Range": "0-9"})
    assert r.status == 202 and r.headers["Range"] == "0-9"
    location = r.headers["Location"]
    r = reg.request("PATCH", location, first, {**octet, "Content-Range": "0-9"})
    assert r.status == 416
    r = reg.request("GET", location)
    assert r.status == 204 and r.headers["Range"] == "0-9" and r.headers["Location"] == location
    r = reg.request("PATCH", location, second, {**octet, "Content-Range": "10-19"})
    assert r.status == 202 and r.headers["Range"] == "0-19"
    r = reg.request("PUT", f"{location}?digest={sha(data)}")
    assert r.status == 201
    assert reg.request("GET", f"/v2/push/chunked/blobs/{sha(data)}").body == data
    # the session is gone once closed
    assert reg.request("GET", location).status == 404


def test_push_cancel_upload(reg):
    location = reg.request("POST", "/v2/push/cancel/blobs/uploads/").headers["Location"]
    assert reg.request("DELETE", location).status == 204
    r = reg.request("PATCH", location, b"x")
    assert r.status == 404 and error_of(r) == "BLOB_UPLOAD_UNKNOWN"


def test_upload_session_belongs_to_its_repository(reg):
    location = reg.request("POST", "/v2/push/owner/blobs/uploads/").headers["Location"]
    uid = location.rsplit("/", 1)[-1]
    r = reg.request("PATCH", f"/v2/push/thief/blobs/uploads/{uid}", b"x")
    assert r.status == 404 and error_of(r) == "BLOB_UPLOAD_UNKNOWN"
    assert reg.request("GET", "/v2/push/owner/blobs/uploads/../../../etc").status in (400, 404)


def test_cross_repository_mount_and_fallback(reg):
    digest = reg.push_blob("mount/src", b"mount me")
    r = reg.request("POST", f"/v2/mount/dst/blobs/uploads/?mount={digest}&from=mount/src")
    assert r.status == 201 and r.headers["Location"] == f"/v2/mount/dst/blobs/{digest}"
    assert r.headers["Docker-Content-Digest"] == digest
    assert reg.request("GET", f"/v2/mount/dst/blobs/{digest}").body == b"mount me"
    # a blob the source does not have: an ordinary upload session instead
    r = reg.request("POST", f"/v2/mount/dst2/blobs/uploads/?mount={sha(b'nothing')}&from=mount/src")
    assert r.status == 202 and "/blobs/uploads/" in r.headers["Location"]
    r = reg.request("PUT", f"{r.headers['Location']}?digest={sha(b'nothing')}", b"nothing")
    assert r.status == 201


def test_push_sha512_blob(reg):
    data = b"sha512 content"
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    r = reg.request("POST", f"/v2/push/sha512/blobs/uploads/?digest={digest}", data)
    assert r.status == 201 and r.headers["Docker-Content-Digest"] == digest
    assert reg.request("GET", f"/v2/push/sha512/blobs/{digest}").body == data


def test_manifest_with_no_layers_and_docker_schema2(reg):
    digest, _ = reg.push_image("push/nolayers", "empty", layers=())
    assert reg.request("GET", f"/v2/push/nolayers/manifests/{digest}").status == 200
    digest, _ = reg.push_image("push/docker", "v2", media_type=DOCKER_MANIFEST)
    r = reg.request("GET", "/v2/push/docker/manifests/v2")
    assert r.headers["Content-Type"] == DOCKER_MANIFEST


def test_index_push_needs_its_manifests(reg):
    child, body = reg.push_image("push/index", None)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": child, "size": len(body),
         "platform": {"architecture": "amd64", "os": "linux"}}]}
    data = json.dumps(index).encode()
    r = reg.request("PUT", "/v2/push/index/manifests/multi", data, {"Content-Type": OCI_INDEX})
    assert r.status == 201
    index["manifests"].append({"mediaType": OCI_MANIFEST, "digest": sha(b"gone"), "size": 4})
    r = reg.request("PUT", "/v2/push/index/manifests/broken", json.dumps(index).encode(),
                    {"Content-Type": OCI_INDEX})
    assert r.status == 400 and error_of(r) == "MANIFEST_BLOB_UNKNOWN"


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def test_manifest_referencing_missing_blob_is_refused(reg):
    config = b"{}"
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": CONFIG, "digest": reg.push_blob("bad/missing", config), "size": 2},
                "layers": [{"mediaType": LAYER, "digest": sha(b"never pushed"), "size": 12}]}
    r = reg.request("PUT", "/v2/bad/missing/manifests/t", json.dumps(manifest).encode(),
                    {"Content-Type": OCI_MANIFEST})
    assert r.status == 400 and error_of(r) == "MANIFEST_BLOB_UNKNOWN"
    assert sha(b"never pushed") in json.dumps(r.json())
    assert reg.request("GET", "/v2/bad/missing/manifests/t").status == 404


def test_digest_mismatch_stores_nothing(server):
    reg, root = server
    data, claimed = b"real content", sha(b"other content")
    r = reg.request("POST", f"/v2/bad/digest/blobs/uploads/?digest={claimed}", data)
    assert r.status == 400 and error_of(r) == "DIGEST_INVALID"
    location = reg.request("POST", "/v2/bad/digest/blobs/uploads/").headers["Location"]
    r = reg.request("PUT", f"{location}?digest={claimed}", data)
    assert r.status == 400 and error_of(r) == "DIGEST_INVALID"
    assert reg.request("GET", location).status == 404  # the session is dropped
    for digest in (claimed, sha(data)):
        assert not (root / "blobs" / "sha256" / digest.split(":")[1]).exists()
        assert reg.request("HEAD", f"/v2/bad/digest/blobs/{digest}").status == 404
    assert not (root / "uploads" / location.rsplit("/", 1)[-1]).exists()
    # a manifest PUT by a digest that is not its own
    digest, body = reg.push_image("bad/digest", "t")
    r = reg.request("PUT", f"/v2/bad/digest/manifests/{sha(b'x')}", body, {"Content-Type": OCI_MANIFEST})
    assert r.status == 400 and error_of(r) == "DIGEST_INVALID"


def test_oversized_manifest(reg):
    config = b"{}"
    cd = reg.push_blob("bad/big", config)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": CONFIG, "digest": cd, "size": 2}, "layers": [],
                "annotations": {"pad": "x" * (4 << 20)}}
    r = reg.request("PUT", "/v2/bad/big/manifests/t", json.dumps(manifest).encode(),
                    {"Content-Type": OCI_MANIFEST})
    assert r.status == 413 and error_of(r) == "SIZE_INVALID"
    # just under the limit is accepted
    manifest["annotations"]["pad"] = "x" * ((4 << 20) - 400)
    r = reg.request("PUT", "/v2/bad/big/manifests/t", json.dumps(manifest).encode(),
                    {"Content-Type": OCI_MANIFEST})
    assert r.status == 201, r.body


@pytest.mark.parametrize("body,ctype", [
    (b"not json", OCI_MANIFEST),
    (json.dumps({"schemaVersion": 1, "name": "x"}).encode(), "application/vnd.docker.distribution.manifest.v1+json"),
    (json.dumps({"schemaVersion": 2, "mediaType": "application/x-unknown", "config": {}}).encode(), ""),
    (json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode(), OCI_MANIFEST),
    (json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode(), OCI_MANIFEST),
])
def test_invalid_manifests(reg, body, ctype):
    r = reg.request("PUT", "/v2/bad/manifest/manifests/t", body, {"Content-Type": ctype} if ctype else {})
    assert r.status == 400 and error_of(r) == "MANIFEST_INVALID"


@pytest.mark.parametrize("name", ["Upper/case", "a..b", "-lead", "trail-", "a//b", "a/_layers", "x" * 256])
def test_invalid_names(reg, name):
    r = reg.request("GET", f"/v2/{name}/tags/list")
    assert r.status == 400 and error_of(r) == "NAME_INVALID"
    r = reg.request("POST", f"/v2/{name}/blobs/uploads/")
    assert r.status == 400 and error_of(r) == "NAME_INVALID"


def test_unknown_endpoint_and_method(reg):
    assert reg.request("GET", "/v2/some/repo/whatever").status == 404
    r = reg.request("POST", "/v2/some/repo/tags/list")
    assert r.status == 405 and error_of(r) == "UNSUPPORTED"


# ---------------------------------------------------------------------------
# content discovery
# ---------------------------------------------------------------------------


def test_tags_list_pagination(reg):
    digest, body = reg.push_image("disc/tags", "a")
    for tag in ("b", "c", "d", "e"):
        assert reg.request("PUT", f"/v2/disc/tags/manifests/{tag}", body, {"Content-Type": OCI_MANIFEST}).status == 201
    r = reg.request("GET", "/v2/disc/tags/tags/list")
    assert r.json() == {"name": "disc/tags", "tags": ["a", "b", "c", "d", "e"]} and "Link" not in r.headers
    r = reg.request("GET", "/v2/disc/tags/tags/list?n=2")
    assert r.json()["tags"] == ["a", "b"]
    assert r.headers["Link"] == '</v2/disc/tags/tags/list?n=2&last=b>; rel="next"'
    nxt = r.headers["Link"][1:].split(">")[0]
    r = reg.request("GET", nxt)
    assert r.json()["tags"] == ["c", "d"]
    r = reg.request("GET", "/v2/disc/tags/tags/list?n=2&last=d")
    assert r.json()["tags"] == ["e"] and "Link" not in r.headers
    assert reg.request("GET", "/v2/disc/tags/tags/list?last=b").json()["tags"] == ["c", "d", "e"]
    assert reg.request("GET", "/v2/disc/tags/tags/list?n=0").json()["tags"] == []
    assert reg.request("GET", "/v2/disc/tags/tags/list?n=x").status == 400


def test_catalog_pagination(reg):
    for name in ("cat/a", "cat/b", "cat/c"):
        reg.push_image(name)
    names = reg.request("GET", "/v2/_catalog").json()["repositories"]
    assert {"cat/a", "cat/b", "cat/c"} <= set(names) and names == sorted(names)
    r = reg.request("GET", "/v2/_catalog?n=2&last=cat/")
    assert r.json()["repositories"] == ["cat/a", "cat/b"]
    assert r.headers["Link"] == '</v2/_catalog?n=2&last=cat%2Fb>; rel="next"'
    r = reg.request("GET", "/v2/_catalog?n=1&last=cat/b")
    assert r.json()["repositories"] == ["cat/c"]


def test_referrers_with_artifact_type_filter(reg):
    subject, body = reg.push_image("disc/refs", "base")
    subj = {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(body)}
    r = reg.request("GET", f"/v2/disc/refs/referrers/{subject}")
    assert r.status == 200 and r.json()["manifests"] == []
    assert r.headers["Content-Type"].startswith(OCI_INDEX)
    sig, _ = reg.push_image("disc/refs", None, layers=(b"signature",),
                            extra={"artifactType": "application/vnd.example.sig", "subject": subj,
                                   "annotations": {"k": "v"}})
    sbom, _ = reg.push_image("disc/refs", None, layers=(b"sbom",),
                             extra={"artifactType": "application/vnd.example.sbom", "subject": subj})
    refs = reg.request("GET", f"/v2/disc/refs/referrers/{subject}").json()
    assert refs["mediaType"] == OCI_INDEX
    by_digest = {m["digest"]: m for m in refs["manifests"]}
    assert set(by_digest) == {sig, sbom}
    assert by_digest[sig]["artifactType"] == "application/vnd.example.sig"
    assert by_digest[sig]["annotations"] == {"k": "v"}
    r = reg.request("GET", f"/v2/disc/refs/referrers/{subject}?artifactType=application/vnd.example.sbom")
    assert [m["digest"] for m in r.json()["manifests"]] == [sbom]
    assert r.headers["OCI-Filters-Applied"] == "artifactType"


def test_manifest_with_subject_answers_oci_subject(reg):
    subject, body = reg.push_image("disc/subject", "base")
    config = b"{}"
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.test",
                "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                           "digest": reg.push_blob("disc/subject", config), "size": 2},
                "layers": [], "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(body)}}
    data = json.dumps(manifest).encode()
    r = reg.request("PUT", f"/v2/disc/subject/manifests/{sha(data)}", data, {"Content-Type": OCI_MANIFEST})
    assert r.status == 201 and r.headers["OCI-Subject"] == subject


# ---------------------------------------------------------------------------
# content management
# ---------------------------------------------------------------------------


def test_delete_tag_manifest_and_blob(reg):
    digest, body = reg.push_image("mgmt/del", "one")
    assert reg.request("PUT", "/v2/mgmt/del/manifests/two", body, {"Content-Type": OCI_MANIFEST}).status == 201
    assert reg.request("DELETE", "/v2/mgmt/del/manifests/one").status == 202
    assert reg.request("GET", "/v2/mgmt/del/manifests/one").status == 404
    assert reg.request("GET", "/v2/mgmt/del/tags/list").json()["tags"] == ["two"]
    assert reg.request("GET", f"/v2/mgmt/del/manifests/{digest}").status == 200
    assert reg.request("DELETE", f"/v2/mgmt/del/manifests/{digest}").status == 202
    r = reg.request("GET", f"/v2/mgmt/del/manifests/{digest}")
    assert r.status == 404 and error_of(r) == "MANIFEST_UNKNOWN"
    assert reg.request("GET", "/v2/mgmt/del/tags/list").json()["tags"] == []  # tags of it went too
    assert reg.request("DELETE", f"/v2/mgmt/del/manifests/{digest}").status == 404
    layer = json.loads(body)["layers"][0]["digest"]
    assert reg.request("DELETE", f"/v2/mgmt/del/blobs/{layer}").status == 202
    r = reg.request("GET", f"/v2/mgmt/del/blobs/{layer}")
    assert r.status == 404 and error_of(r) == "BLOB_UNKNOWN"
    assert reg.request("DELETE", f"/v2/mgmt/del/blobs/{layer}").status == 404


# ---------------------------------------------------------------------------
# v1 search
# ---------------------------------------------------------------------------


def test_v1_search(reg):
    for name in ("search/alpha", "search/alphabet", "other/beta"):
        reg.push_image(name)
    r = reg.request("GET", "/v1/search?q=alpha&n=1")
    body = r.json()
    assert r.status == 200
    assert body["num_results"] == 2 and body["query"] == "alpha" and body["page"] == 1
    assert body["num_pages"] == 2 and body["page_size"] == 1
    assert body["results"] == [{"name": "search/alpha", "description": "", "star_count": 0,
                                "is_official": False, "is_automated": False}]
    body = reg.request("GET", "/v1/search?q=alpha&n=1&page=2").json()
    assert [x["name"] for x in body["results"]] == ["search/alphabet"]
    assert reg.request("GET", "/v1/search?q=zzz-none").json()["results"] == []
    assert reg.request("GET", "/v1/_ping").status == 200


# ---------------------------------------------------------------------------
# auth
# ---------------------------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_auth(tmp_path):
    url, proc = start_registry(tmp_path, auth="basic", users={"alice": "s3cret"})
    try:
        reg = Client(url)
        r = reg.request("GET", "/v2/")
        assert r.status == 401 and error_of(r) == "UNAUTHORIZED"
        assert r.headers["WWW-Authenticate"] == 'Basic realm="barge-registry"'
        assert reg.request("GET", "/v2/", auth=basic("alice", "wrong")).status == 401
        assert reg.request("GET", "/v2/", auth=basic("bob", "s3cret")).status == 401
        assert reg.request("POST", "/v2/a/b/blobs/uploads/").status == 401
        assert reg.request("GET", "/v1/search?q=a").status == 401
        reg.auth = basic("alice", "s3cret")
        assert reg.request("GET", "/v2/").status == 200
        reg.push_image("auth/basic")
        assert reg.request("GET", "/v2/auth/basic/manifests/latest").status == 200
        assert reg.request("GET", "/v1/search?q=auth").json()["num_results"] == 1
    finally:
        stop_registry(proc)


def _challenge(header: str) -> dict[str, str]:
    kind, _, rest = header.partition(" ")
    assert kind == "Bearer"
    out = {}
    for part in rest.split('",'):
        key, _, value = part.partition("=")
        out[key.strip()] = value.strip('"')
    return out


def test_token_auth_flow(tmp_path):
    url, proc = start_registry(tmp_path, auth="token", users={"alice": "s3cret"}, extra_args=["--anonymous", "pull"])
    try:
        reg = Client(url)
        r = reg.request("GET", "/v2/")
        assert r.status == 401
        ch = _challenge(r.headers["WWW-Authenticate"])
        assert ch["realm"] == f"{url}/token" and ch["service"] == "barge-registry"
        r = reg.request("POST", "/v2/tok/img/blobs/uploads/")
        assert r.status == 401
        ch = _challenge(r.headers["WWW-Authenticate"])
        assert ch["scope"] == "repository:tok/img:pull,push"
        token_path = f"/token?service={ch['service']}&scope={ch['scope']}"
        # wrong password: no token
        r = reg.request("GET", token_path, auth=basic("alice", "nope"))
        assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Basic ")
        # a user gets what it asks for
        r = reg.request("GET", token_path, auth=basic("alice", "s3cret"))
        assert r.status == 200
        body = r.json()
        assert body["token"] == body["access_token"] and body["expires_in"] > 0 and body["issued_at"]
        reg.auth = "Bearer " + body["token"]
        digest, _ = reg.push_image("tok/img", "v1")
        assert reg.request("GET", "/v2/tok/img/manifests/v1").status == 200
        # the token is for tok/img only
        r = reg.request("GET", "/v2/tok/other/tags/list")
        assert r.status == 401 and 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
        assert reg.request("GET", "/v2/_catalog").status == 401
        # a tampered token is refused
        head, claims, mac = body["token"].split(".")
        assert reg.request("GET", "/v2/", auth=f"Bearer {head}.{claims}.{mac[:-2]}AA").status == 401
        # anonymous: pull only, even when asking for push
        conn = reg.conn()
        conn.request("GET", token_path)
        anon = json.loads(conn.getresponse().read())
        conn.close()
        reg.auth = "Bearer " + anon["token"]
        assert reg.request("GET", "/v2/tok/img/manifests/v1").status == 200
        r = reg.request("POST", "/v2/tok/img/blobs/uploads/")
        assert r.status in (401, 403)
        assert 'scope="repository:tok/img:pull,push"' in r.headers["WWW-Authenticate"]
        # catalog scope for a user
        r = reg.request("GET", "/token?service=barge-registry&scope=registry:catalog:*", auth=basic("alice", "s3cret"))
        assert reg.request("GET", "/v2/_catalog", auth="Bearer " + r.json()["token"]).json()["repositories"] == ["tok/img"]
        # OAuth2 password grant
        form = "grant_type=password&username=alice&password=s3cret&service=barge-registry&scope=repository:tok/img:pull"
        r = reg.request("POST", "/token", form.encode(), {"Content-Type": "application/x-www-form-urlencoded"}, auth="x")
        assert r.status == 200 and reg.request("GET", "/v2/tok/img/tags/list",
                                               auth="Bearer " + r.json()["access_token"]).status == 200
    finally:
        stop_registry(proc)


def test_token_without_anonymous_needs_credentials(tmp_path):
    url, proc = start_registry(tmp_path, auth="token", users={"alice": "s3cret"})
    try:
        conn = http.client.HTTPConnection(urlsplit(url).hostname, urlsplit(url).port, timeout=10)
        conn.request("GET", "/token?service=barge-registry&scope=repository:a:pull")
        r = conn.getresponse()
        r.read()
        conn.close()
        assert r.status == 401
    finally:
        stop_registry(proc)


def test_tls(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    url, proc = start_registry(tmp_path, tls=(cert, key))
    try:
        assert url.startswith("https://")
        reg = Client(url)
        assert reg.request("GET", "/v2/").status == 200
        digest = reg.push_blob("tls/img", b"over tls")
        assert reg.request("GET", f"/v2/tls/img/blobs/{digest}").body == b"over tls"
    finally:
        stop_registry(proc)


def test_config_file(tmp_path):
    (tmp_path / "htpasswd").write_text("")
    from barge.registry.server.testing import write_htpasswd
    write_htpasswd(tmp_path / "users", {"u": "p"})
    (tmp_path / "registry.toml").write_text('auth = "basic"\nhtpasswd = "users"\nrealm = "from-file"\n')
    url, proc = start_registry(tmp_path, extra_args=["--config", str(tmp_path / "registry.toml"), "--auth", "basic"])
    try:
        r = Client(url).request("GET", "/v2/")
        assert r.status == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="from-file"'
        assert Client(url).request("GET", "/v2/", auth=basic("u", "p")).status == 200
    finally:
        stop_registry(proc)


# ---------------------------------------------------------------------------
# gc
# ---------------------------------------------------------------------------


def _gc(root: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "barge", "registry", "gc", "--root", str(root), *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_gc_deletes_only_unreferenced_blobs(tmp_path):
    url, proc = start_registry(tmp_path)
    root = tmp_path / "registry"
    try:
        reg = Client(url)
        kept, kept_body = reg.push_image("gc/img", "v1", layers=(b"kept layer",))
        untagged, untagged_body = reg.push_image("gc/img", None, layers=(b"untagged layer",))
        loose = reg.push_blob("gc/img", b"loose blob")
        old_upload = reg.request("POST", "/v2/gc/img/blobs/uploads/").headers["Location"].rsplit("/", 1)[-1]
    finally:
        stop_registry(proc)
    old = time.time() - 7200
    os.utime(root / "uploads" / old_upload / "data", (old, old))
    os.utime(root / "uploads" / old_upload, (old, old))

    def present(digest: str) -> bool:
        return (root / "blobs" / "sha256" / digest.split(":")[1]).exists()

    out = _gc(root, "--dry-run")
    assert f"blob eligible for deletion: {loose}" in out and present(loose)
    assert (root / "uploads" / old_upload).exists()
    out = _gc(root)
    assert f"blob eligible for deletion: {loose}" in out and "Deleting blob:" in out
    assert not present(loose)
    assert not (root / "uploads" / old_upload).exists()
    for digest, body in ((kept, kept_body), (untagged, untagged_body)):
        assert present(digest)
        m = json.loads(body)
        assert all(present(d["digest"]) for d in [m["config"], *m["layers"]])
    untagged_layer = json.loads(untagged_body)["layers"][0]["digest"]
    out = _gc(root, "--delete-untagged")
    assert f"manifest eligible for deletion: {untagged}" in out
    assert not present(untagged) and not present(untagged_layer)
    assert present(kept) and all(present(d["digest"]) for d in json.loads(kept_body)["layers"])
    # the registry still serves what was kept
    url, proc = start_registry(tmp_path)
    try:
        reg = Client(url)
        assert reg.request("GET", "/v2/gc/img/manifests/v1").status == 200
        assert reg.request("GET", f"/v2/gc/img/manifests/{untagged}").status == 404
        assert reg.request("HEAD", f"/v2/gc/img/blobs/{loose}").status == 404
    finally:
        stop_registry(proc)


# ---------------------------------------------------------------------------
# crash safety
# ---------------------------------------------------------------------------


def _partial_patch(url: str, location: str, total: int, sent: bytes) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.sendall((f"PATCH {location} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                  f"Content-Type: application/octet-stream\r\nContent-Length: {total}\r\n\r\n").encode() + sent)
    return sock


def test_dropped_connection_mid_upload_leaves_no_blob(tmp_path):
    url, proc = start_registry(tmp_path)
    root = tmp_path / "registry"
    try:
        reg = Client(url)
        data = os.urandom(8 << 20)
        r = reg.request("POST", "/v2/crash/drop/blobs/uploads/")
        location, uid = r.headers["Location"], r.headers["Docker-Upload-UUID"]
        sock = _partial_patch(url, location, len(data), data[: 5 << 20])
        # Once its first write is on disk the server is reading the body, faster than the rest arrives
        # (its loop awaits nothing before the second write): all 5 MiB are read before the drop is.
        wait_for(lambda: (root / "uploads" / uid / "data").stat().st_size > 0, what="the server to write the body")
        sock.close()

        def upload_range() -> str | None:
            r = reg.request("GET", location)
            return r.headers["Range"] if r.status == 204 else None

        # the server notices the drop and keeps what arrived
        wait_for(lambda: upload_range() == f"0-{(5 << 20) - 1}", what="the upload's Range to stand at 5 MiB")
        assert reg.request("HEAD", f"/v2/crash/drop/blobs/{sha(data)}").status == 404
        assert list((root / "blobs" / "sha256").iterdir()) == []
        # the client resumes where the server stands
        have = int(upload_range().split("-")[1]) + 1
        r = reg.request("PATCH", location, data[have:], {"Content-Range": f"{have}-{len(data) - 1}"})
        assert r.status == 202
        assert reg.request("PUT", f"{location}?digest={sha(data)}").status == 201
        assert reg.request("GET", f"/v2/crash/drop/blobs/{sha(data)}").body == data
    finally:
        stop_registry(proc)


def test_killed_server_mid_upload_leaves_no_blob(tmp_path):
    url, proc = start_registry(tmp_path)
    root = tmp_path / "registry"
    data = os.urandom(8 << 20)
    try:
        reg = Client(url)
        r = reg.request("POST", "/v2/crash/kill/blobs/uploads/")
        location = r.headers["Location"]
        uid = r.headers["Docker-Upload-UUID"]
        sock = _partial_patch(url, location, len(data), data[: 5 << 20])  # over one write chunk (4 MiB)
        wait_for(lambda: (root / "uploads" / uid / "data").stat().st_size > 0, what="the first bytes on disk")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        sock.close()
    finally:
        stop_registry(proc)
    assert list((root / "blobs" / "sha256").iterdir()) == []
    assert (root / "uploads" / uid).exists()  # what the crash left
    url, proc = start_registry(tmp_path)
    try:
        reg = Client(url)
        assert list((root / "uploads").iterdir()) == []  # removed at start
        assert reg.request("HEAD", f"/v2/crash/kill/blobs/{sha(data)}").status == 404
        r = reg.request("GET", location)
        assert r.status == 404 and error_of(r) == "BLOB_UPLOAD_UNKNOWN"
        assert reg.push_blob("crash/kill", data) == sha(data)
    finally:
        stop_registry(proc)


# ---------------------------------------------------------------------------
# tokens, in process
# ---------------------------------------------------------------------------


def test_tokens_expire_and_are_bound_to_the_service_and_secret(monkeypatch):
    from barge.registry.server import tokens

    issuer = tokens.TokenIssuer(b"k" * 32, "svc", expiry=60)
    access = [{"type": "repository", "name": "a/b", "actions": ["pull"]}]
    token = issuer.mint("alice", access).token
    claims = issuer.verify(token)
    assert claims["sub"] == "alice" and claims["access"] == access
    assert tokens.TokenIssuer(b"other" * 8, "svc").verify(token) is None
    assert tokens.TokenIssuer(b"k" * 32, "other-svc").verify(token) is None
    now = time.time()
    monkeypatch.setattr(tokens.time, "time", lambda: now + 61)
    assert issuer.verify(token) is None


def test_token_secret_file_is_created_private_and_reused(tmp_path):
    from barge.registry.server.tokens import load_secret

    path = tmp_path / "secret"
    first = load_secret(path)
    assert load_secret(path) == first and len(first) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
