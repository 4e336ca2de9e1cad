"""Registry client: pure parts, and the protocol against a small HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from barge.errors import InvalidParameter
from barge.registry import mediatypes as mt
from barge.registry.auth import AuthConfig, parse_www_authenticate
from barge.registry.client import (
    DigestMismatch,
    ManifestTooLarge,
    RegistryDenied,
    RegistryNotFound,
    RegistryUnauthorized,
    RegistryUnavailable,
    Repository,
    TooManyRequests,
    TruncatedBlob,
    login,
    search,
)
from barge.registry.endpoints import Endpoint, RegistryConfig, endpoints_for, index_name, split_search_term
from barge.registry.transport import PlainHTTPRefused, Transport


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


D1 = _digest(b"one")
D2 = _digest(b"two")


# --- media types ---------------------------------------------------------------


def _manifest(**over):
    doc = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
           "config": {"mediaType": mt.OCI_CONFIG, "digest": D1, "size": 3},
           "layers": [{"mediaType": mt.OCI_LAYER_ZSTD, "digest": D2, "size": 3}]}
    doc.update(over)
    return json.dumps(doc).encode()


def test_parse_manifest_ok_and_sniffed():
    m = mt.parse_manifest(_manifest(), mt.OCI_MANIFEST)
    assert isinstance(m, mt.Manifest) and m.config.digest == D1
    assert [mt.layer_compression(layer.media_type) for layer in m.layers] == ["zstd"]
    # a registry sending application/json: the body's mediaType decides
    assert mt.parse_manifest(_manifest(), "application/json; charset=utf-8").media_type == mt.OCI_MANIFEST


@pytest.mark.parametrize("body,media_type,message", [
    (_manifest(), "application/vnd.example+json", "unsupported manifest media type application/vnd.example+json"),
    (b'{"schemaVersion":1}', mt.DOCKER_SCHEMA1_SIGNED, "schema 1 is no longer supported"),
    (_manifest(layers=[{"mediaType": "text/plain", "digest": D2, "size": 1}]), mt.OCI_MANIFEST,
     "unsupported layer media type text/plain"),
    (_manifest(layers=[{"mediaType": mt.OCI_LAYER, "digest": "sha256:abc", "size": 1}]), mt.OCI_MANIFEST,
     "invalid layer digest"),
    (_manifest(layers=[{"mediaType": mt.OCI_LAYER, "digest": D2, "size": -1}]), mt.OCI_MANIFEST,
     "invalid layer size"),
    (_manifest(layers=[{"mediaType": mt.OCI_LAYER, "digest": D2, "size": "1"}]), mt.OCI_MANIFEST,
     "invalid layer size"),
    (b"not json", mt.OCI_MANIFEST, "invalid manifest"),
    (_manifest(), mt.DOCKER_MANIFEST, "does not match"),
])
def test_parse_manifest_rejects(body, media_type, message):
    with pytest.raises(mt.InvalidManifest, match=re.escape(message)):
        mt.parse_manifest(body, media_type)


def _index(*platforms, extra=()):
    entries = [{"mediaType": mt.OCI_MANIFEST, "digest": _digest(p.encode()), "size": 10,
                "platform": dict(zip(("os", "architecture", "variant"), p.split("/")))} for p in platforms]
    entries += list(extra)
    return mt.parse_manifest(json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                                         "manifests": entries}).encode(), mt.OCI_INDEX)


def test_select_platform():
    attestation = {"mediaType": "application/vnd.in-toto+json", "digest": D1, "size": 1,
                   "platform": {"os": "linux", "architecture": "amd64"}}
    idx = _index("linux/amd64", "linux/arm64/v8", "linux/arm/v6", "linux/amd64", extra=[attestation])
    assert idx.manifests[0].platform.variant == ""
    assert mt.select_platform(idx, "linux/amd64") is idx.manifests[0]  # first match wins
    assert mt.select_platform(idx, "linux/arm64") is idx.manifests[1]  # arm64 == arm64/v8
    assert mt.select_platform(idx, "linux/arm/v7") is idx.manifests[2]  # v7 runs v6
    with pytest.raises(mt.NoMatchingPlatform,
                       match="^no matching manifest for linux/s390x in the manifest list entries$"):
        mt.select_platform(idx, "linux/s390x")
    with pytest.raises(mt.NoMatchingPlatform, match="linux/arm/v5"):
        mt.select_platform(idx, "linux/arm/v5")  # an older CPU cannot run newer variants
    only_attestation = _index(extra=[attestation])
    with pytest.raises(mt.NoMatchingPlatform):
        mt.select_platform(only_attestation, "linux/amd64")  # unknown media types are ignored
    assert mt.default_platform().os == "linux"


def test_parse_platform():
    assert mt.parse_platform("linux/arm64/v8") == mt.Platform("linux", "arm64", "v8")
    assert mt.parse_platform("Linux/AMD64") == mt.Platform("linux", "amd64")
    for bad in ("", "linux/", "a/b/c/d"):
        with pytest.raises(InvalidParameter):
            mt.parse_platform(bad)


# --- auth ------------------------------------------------------------------------


def test_x_registry_auth_decoding():
    doc = {"username": "bob", "password": "p?>>>", "serveraddress": "127.0.0.1:5000"}
    raw = json.dumps(doc).encode()
    url = base64.urlsafe_b64encode(raw).decode()
    std = base64.b64encode(raw).decode()
    assert url != std  # the password makes the alphabets differ
    for value in (url, std, url.rstrip("=")):
        assert AuthConfig.from_header(value) == AuthConfig(username="bob", password="p?>>>",
                                                           serveraddress="127.0.0.1:5000")
    assert AuthConfig.from_header("").anonymous
    assert AuthConfig.from_header(None).anonymous
    assert AuthConfig.from_header(base64.b64encode(b"{}").decode()).anonymous
    for garbage in ("!!!", base64.b64encode(b"not json").decode(), base64.b64encode(b"[1]").decode()):
        with pytest.raises(InvalidParameter):
            AuthConfig.from_header(garbage)
    assert AuthConfig(auth=base64.b64encode(b"u:p:q").decode()).credentials() == ("u", "p:q")
    assert AuthConfig.from_json({"Username": "x", "Password": "y"}).credentials() == ("x", "y")


def test_www_authenticate_parsing():
    got = parse_www_authenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:samalba/my-app:pull,push", Basic realm="r \\"x\\""')
    assert [c.scheme for c in got] == ["bearer", "basic"]
    assert got[0].params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                             "scope": "repository:samalba/my-app:pull,push"}
    assert got[1].params == {"realm": 'r "x"'}
    assert parse_www_authenticate(["Basic realm=plain"])[0].params == {"realm": "plain"}


# --- endpoints ---------------------------------------------------------------------


def test_endpoints_for():
    cfg = RegistryConfig(mirrors=["https://mirror.example.com/"], insecure_registries=["10.0.0.0/8", "myreg:5000"])
    assert [e.url for e in endpoints_for("docker.io", cfg)] == ["https://mirror.example.com",
                                                               "https://registry-1.docker.io"]
    assert endpoints_for("index.docker.io", cfg)[0].mirror
    assert index_name("registry-1.docker.io") == "docker.io"
    assert endpoints_for("127.0.0.1:5000") == [Endpoint("https://127.0.0.1:5000", "127.0.0.1:5000", True),
                                               Endpoint("http://127.0.0.1:5000", "127.0.0.1:5000", True)]
    assert [e.url for e in endpoints_for("[::1]:5000")] == ["https://[::1]:5000", "http://[::1]:5000"]
    assert [e.url for e in endpoints_for("localhost:5000")][-1] == "http://localhost:5000"
    assert [e.url for e in endpoints_for("10.1.2.3:5000", cfg)][-1] == "http://10.1.2.3:5000"
    assert [e.url for e in endpoints_for("myreg:5000", cfg)][-1] == "http://myreg:5000"
    assert endpoints_for("192.0.2.1:5000", cfg) == [Endpoint("https://192.0.2.1:5000", "192.0.2.1:5000", False)]
    with pytest.raises(InvalidParameter, match="plain HTTP"):
        endpoints_for("docker.io", RegistryConfig(mirrors=["http://192.0.2.1"]))
    assert split_search_term("127.0.0.1:5000/foo") == ("127.0.0.1:5000", "foo")
    assert split_search_term("library/busybox") == ("docker.io", "busybox")


def test_plain_http_refused_for_secure_host():
    with pytest.raises(PlainHTTPRefused):
        Repository(Endpoint("http://192.0.2.1:5000", "192.0.2.1:5000", False), "x", AuthConfig())
    with pytest.raises(PlainHTTPRefused):
        Transport().request("GET", "http://192.0.2.1:5000/v2/")


# --- a fake registry ---------------------------------------------------------------


class FakeRegistry:
    """Routes keyed by (method, path); each gets the handler and answers with h.reply()."""

    def __init__(self):
        self.routes: dict[tuple[str, str], object] = {}
        self.log: list[tuple[str, str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, status, body=b"", headers=None):
                self.send_response(status)
                hdrs = {"Content-Length": str(len(body))}
                hdrs.update(headers or {})
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def cut(self, status, body, sent, headers=None):
                """Announce all of ``body``, send ``sent`` bytes, drop the connection."""
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body[:sent])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def _any(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                self.query = parse_qs(parts.query)
                outer.log.append((self.command, parts.path, dict(self.headers)))
                route = outer.routes.get((self.command, parts.path))
                if route is None:
                    self.reply(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known '
                                    b'to registry"}]}')
                else:
                    route(self)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # clients hanging up mid-body is what several tests do on purpose

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.endpoint = Endpoint(f"http://{self.host}", self.host, True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def route(self, method, path):
        def deco(fn):
            self.routes[(method, path)] = fn
            return fn
        return deco

    def repo(self, name="test/repo", auth=None, actions=("pull",), **kw):
        r = Repository(self.endpoint, name, auth or AuthConfig(), actions, transport=Transport(timeout=5), **kw)
        r.delays = []
        r.session.sleep = r.delays.append
        return r

    def count(self, method, path):
        return sum(1 for m, p, _ in self.log if (m, p) == (method, path))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def reg():
    server = FakeRegistry()
    yield server
    server.close()


BLOB = bytes(range(256)) * 4096  # 1 MiB
BLOB_D = _digest(BLOB)


def test_token_handshake_and_cache(reg):
    calls = []

    @reg.route("GET", "/token")
    def token(h):
        calls.append((h.headers.get("Authorization"), h.query))
        if h.headers.get("Authorization") != "Basic " + base64.b64encode(b"bob:pw").decode():
            return h.reply(401, b'{"details":"incorrect username or password"}')
        h.reply(200, json.dumps({"token": "T-" + h.query["scope"][0], "expires_in": 300}).encode())

    challenge = f'Bearer realm="http://{reg.host}/token",service="fake"'

    @reg.route("GET", "/v2/test/repo/manifests/latest")
    def manifest(h):
        if h.headers.get("Authorization") != "Bearer T-repository:test/repo:pull":
            return h.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                           {"WWW-Authenticate": challenge + ',scope="repository:test/repo:pull"'})
        h.reply(200, _manifest(), {"Content-Type": mt.OCI_MANIFEST})

    repo = reg.repo(auth=AuthConfig(username="bob", password="pw"))
    body, media_type, digest = repo.get_manifest("latest")
    assert (body, media_type, digest) == (_manifest(), mt.OCI_MANIFEST, _digest(_manifest()))
    repo.get_manifest("latest")
    assert len(calls) == 1  # cached token
    assert calls[0][1] == {"service": ["fake"], "scope": ["repository:test/repo:pull"]}

    wrong = reg.repo(auth=AuthConfig(username="bob", password="nope"))
    with pytest.raises(RegistryUnauthorized, match="^unauthorized: incorrect username or password$"):
        wrong.get_manifest("latest")

    anon = reg.repo()
    with pytest.raises(RegistryUnauthorized) as err:
        anon.get_manifest("latest")
    assert err.value.status == 401


def test_identity_token_refresh_grant_and_login(reg):
    @reg.route("POST", "/token")
    def oauth(h):
        form = parse_qs(h.body.decode())
        ok = form.get("grant_type") == ["refresh_token"] and form.get("refresh_token") == ["R1"]
        h.reply(200 if ok else 401, json.dumps({"access_token": "A"}).encode())

    @reg.route("GET", "/token")
    def token(h):
        assert h.query.get("offline_token") == ["true"] and h.query.get("client_id") == ["docker"]
        h.reply(200, json.dumps({"token": "A", "refresh_token": "R1"}).encode())

    @reg.route("GET", "/v2/")
    def ping(h):
        if h.headers.get("Authorization") != "Bearer A":
            return h.reply(401, b"", {"WWW-Authenticate": f'Bearer realm="http://{reg.host}/token",service="s"'})
        h.reply(200, b"{}")

    assert login(reg.endpoint, AuthConfig(username="u", password="p")) == {
        "Status": "Login Succeeded", "IdentityToken": "R1"}
    reg.repo(auth=AuthConfig(identitytoken="R1")).ping()
    assert reg.count("POST", "/token") == 1


def test_basic_auth_login(reg):
    @reg.route("GET", "/v2/")
    def ping(h):
        if h.headers.get("Authorization") != "Basic " + base64.b64encode(b"u:p").decode():
            return h.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                           {"WWW-Authenticate": 'Basic realm="fake"'})
        h.reply(200, b"{}")

    assert login(reg.endpoint, AuthConfig(username="u", password="p"))["Status"] == "Login Succeeded"
    with pytest.raises(RegistryUnauthorized, match="^unauthorized: incorrect username or password$"):
        login(reg.endpoint, AuthConfig(username="u", password="bad"))
    with pytest.raises(RegistryUnauthorized, match="^unauthorized: authentication required$"):
        reg.repo().ping()


def test_redirect_drops_authorization_on_other_host(reg):
    seen = {}

    @reg.route("GET", "/v2/test/repo/blobs/" + BLOB_D)
    def blob(h):
        h.reply(307, b"", {"Location": f"http://localhost:{reg.port}/cdn/blob"})

    @reg.route("GET", "/cdn/blob")
    def cdn(h):
        seen["auth"] = h.headers.get("Authorization")
        h.reply(200, BLOB)

    repo = reg.repo(auth=AuthConfig(registrytoken="secret"))
    out = io.BytesIO()
    repo.fetch_blob(BLOB_D, out, size=len(BLOB))
    assert out.getvalue() == BLOB
    assert seen["auth"] is None


def test_range_resume_after_dropped_connection(reg):
    ranges = []

    @reg.route("GET", "/v2/test/repo/blobs/" + BLOB_D)
    def blob(h):
        rng = h.headers.get("Range")
        ranges.append(rng)
        if rng is None:
            return h.cut(200, BLOB, 300_000, {"Accept-Ranges": "bytes"})
        start = int(rng.split("=")[1].rstrip("-"))
        h.reply(206, BLOB[start:], {"Content-Range": f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"})

    repo = reg.repo()
    progress = []
    out = io.BytesIO()
    repo.fetch_blob(BLOB_D, out, size=len(BLOB), progress=progress.append)
    assert out.getvalue() == BLOB
    assert ranges[0] is None and len(ranges) == 2
    assert int(ranges[1].split("=")[1].rstrip("-")) > 0
    assert progress[-1] == len(BLOB)
    assert repo.delays == [repo.session.backoff(0)]


def test_restart_without_range_support_and_open_blob(reg):
    served = []

    @reg.route("GET", "/v2/test/repo/blobs/" + BLOB_D)
    def blob(h):
        served.append(h.headers.get("Range"))
        if len(served) == 1:
            return h.cut(200, BLOB, 500_000)
        h.reply(200, BLOB)  # ignores Range: the client skips what it has

    with reg.repo().open_blob(BLOB_D, len(BLOB)) as stream:
        assert stream.read() == BLOB
    assert len(served) == 2 and served[1] is not None


def test_retry_500_then_429_with_retry_after(reg):
    answers = [(500, b'{"errors":[{"code":"UNKNOWN","message":"boom"}]}', {}),
               (429, b"", {"Retry-After": "1"})]

    @reg.route("GET", "/v2/test/repo/blobs/" + BLOB_D)
    def blob(h):
        if answers:
            return h.reply(*answers.pop(0))
        h.reply(200, BLOB)

    repo = reg.repo()
    out = io.BytesIO()
    repo.fetch_blob(BLOB_D, out)
    assert out.getvalue() == BLOB
    assert repo.delays == [repo.session.backoff(0), 1.0]


def test_persistent_errors_are_mapped(reg):
    @reg.route("GET", "/v2/test/repo/blobs/" + D1)
    def always_500(h):
        h.reply(500, b'{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}')

    @reg.route("GET", "/v2/test/repo/blobs/" + D2)
    def always_429(h):
        h.reply(429, b'{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit"}]}')

    @reg.route("GET", "/v2/test/repo/manifests/forbidden")
    def denied(h):
        h.reply(403, b'{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}')

    @reg.route("GET", "/v2/test/repo/manifests/nosuch")
    def unknown(h):
        h.reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')

    repo = reg.repo(display="busybox")
    with pytest.raises(RegistryUnavailable, match="^unknown: disk on fire$") as err:
        repo.fetch_blob(D1, io.BytesIO())
    assert err.value.status == 500 and len(repo.delays) == 4
    with pytest.raises(TooManyRequests, match="^toomanyrequests: You have reached your pull rate limit$") as err:
        repo.fetch_blob(D2, io.BytesIO())
    assert err.value.status == 429
    with pytest.raises(RegistryDenied, match="^denied: requested access to the resource is denied$") as err:
        repo.get_manifest("forbidden")
    assert err.value.status == 403
    with pytest.raises(RegistryNotFound) as err:
        repo.get_manifest("nosuch")
    assert str(err.value) == "manifest for busybox:nosuch not found: manifest unknown: manifest unknown"
    assert err.value.status == 404
    assert repo.head_manifest("nosuch") is None


def test_digest_mismatch_and_truncation(reg):
    @reg.route("GET", "/v2/test/repo/blobs/" + D1)
    def wrong(h):
        h.reply(200, b"not one")

    @reg.route("GET", "/v2/test/repo/blobs/" + BLOB_D)
    def short(h):
        h.reply(200, BLOB[:1000])

    @reg.route("GET", "/v2/test/repo/manifests/" + D2)
    def wrong_manifest(h):
        h.reply(200, _manifest(), {"Content-Type": mt.OCI_MANIFEST})

    @reg.route("GET", "/v2/test/repo/manifests/lying")
    def lying(h):
        h.reply(200, _manifest(), {"Content-Type": mt.OCI_MANIFEST, "Docker-Content-Digest": D1})

    repo = reg.repo()
    with pytest.raises(DigestMismatch, match=f"verification failed for digest {D1}"):
        repo.fetch_blob(D1, io.BytesIO())
    with pytest.raises(DigestMismatch):
        with repo.open_blob(D1) as stream:
            stream.read()
    with pytest.raises(DigestMismatch, match="more than the expected 3 bytes"):
        repo.fetch_blob(D1, io.BytesIO(), size=3)
    with pytest.raises(TruncatedBlob, match=f"got 1000 of {len(BLOB)} bytes"):
        repo.fetch_blob(BLOB_D, io.BytesIO(), size=len(BLOB))
    with pytest.raises(DigestMismatch, match="manifest verification failed"):
        repo.get_manifest(D2)
    with pytest.raises(DigestMismatch, match="manifest verification failed"):
        repo.get_manifest("lying")


def test_oversized_manifest(reg):
    big = b"{" + b" " * (4 << 20) + b"}"

    @reg.route("GET", "/v2/test/repo/manifests/big")
    def huge(h):
        h.reply(200, big, {"Content-Type": mt.OCI_MANIFEST})

    with pytest.raises(ManifestTooLarge, match="larger than 4 MiB"):
        reg.repo().get_manifest("big")


def test_tags_pagination_and_search(reg):
    @reg.route("GET", "/v2/test/repo/tags/list")
    def tags(h):
        if "last" not in h.query:
            return h.reply(200, json.dumps({"name": "test/repo", "tags": ["a", "b"]}).encode(),
                           {"Link": '</v2/test/repo/tags/list?last=b&n=2>; rel="next"'})
        h.reply(200, json.dumps({"name": "test/repo", "tags": ["c"]}).encode())

    @reg.route("GET", "/v1/search")
    def find(h):
        assert h.query == {"q": ["busy"], "n": ["5"]}
        h.reply(200, json.dumps({"num_results": 1, "query": "busy", "results": [
            {"name": "busybox", "description": "tiny", "star_count": 3, "is_official": True}]}).encode())

    assert reg.repo().tags() == ["a", "b", "c"]
    assert search(reg.endpoint, "busy", 5, AuthConfig()) == [
        {"name": "busybox", "description": "tiny", "star_count": 3, "is_official": True, "is_automated": False}]


def test_upload_retries_from_a_new_session(reg):
    stored = {}
    attempts = []

    @reg.route("POST", "/v2/test/repo/blobs/uploads/")
    def start(h):
        h.reply(202, b"", {"Location": f"/upload/{len(attempts)}?_state=x"})

    def put(h):
        attempts.append(len(h.body))
        if len(attempts) == 1:
            return h.reply(503, b"")
        stored[h.query["digest"][0]] = h.body
        h.reply(201, b"", {"Docker-Content-Digest": h.query["digest"][0]})

    reg.routes[("PUT", "/upload/0")] = put
    reg.routes[("PUT", "/upload/1")] = put
    repo = reg.repo(actions=("pull", "push"))
    seen = []
    repo.upload_blob(io.BytesIO(BLOB), BLOB_D, len(BLOB), progress=seen.append)
    assert stored == {BLOB_D: BLOB} and attempts == [len(BLOB), len(BLOB)]
    assert seen[-1] == len(BLOB)


def test_concurrent_fetches_share_one_token(reg):
    @reg.route("GET", "/token")
    def token(h):
        h.reply(200, b'{"token":"T"}')

    @reg.route("GET", "/v2/test/repo/blobs/" + BLOB_D)
    def blob(h):
        if h.headers.get("Authorization") != "Bearer T":
            return h.reply(401, b"", {"WWW-Authenticate": f'Bearer realm="http://{reg.host}/token"'})
        h.reply(200, BLOB)

    repo = reg.repo()
    errors = []

    def work():
        try:
            out = io.BytesIO()
            repo.fetch_blob(BLOB_D, out, size=len(BLOB))
            assert out.getvalue() == BLOB
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert reg.count("GET", "/token") == 1  # one fetch per scope set, shared by the threads
