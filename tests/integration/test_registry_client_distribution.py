"""barge's registry client against Debian's docker-registry (CNCF distribution 2.8) on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil

import pytest

from barge.registry import mediatypes as mt
from barge.registry.auth import AuthConfig
from barge.registry.client import (
    DigestMismatch,
    RegistryNotFound,
    RegistryUnauthorized,
    Repository,
    login,
)
from barge.registry.endpoints import RegistryConfig, endpoints_for
from tests import registry_peers
from tests.registry_peers import REGISTRY

pytestmark = pytest.mark.skipif(not os.path.exists(REGISTRY),
                                reason=f"{REGISTRY} missing (apt-get install docker-registry)")


class Distribution(registry_peers.Distribution):
    @property
    def endpoint(self):
        # loopback is insecure: https (no verify) first, then http; the registry speaks http
        return endpoints_for(self.host, RegistryConfig())[-1]


@pytest.fixture
def registry(tmp_path):
    reg = Distribution(tmp_path, None)
    yield reg
    reg.stop()
    shutil.rmtree(tmp_path / "data", ignore_errors=True)


@pytest.fixture
def auth_registry(tmp_path):
    reg = Distribution(tmp_path, ("alice", "s3cret"))
    yield reg
    reg.stop()
    shutil.rmtree(tmp_path / "data", ignore_errors=True)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_image(repo: Repository, layers: list[bytes], tag: str = "v1") -> tuple[bytes, str]:
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [_digest(x) for x in layers]}}).encode()
    for blob in [config, *layers]:
        repo.upload_blob(io.BytesIO(blob), _digest(blob), len(blob))
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST,
        "config": {"mediaType": mt.DOCKER_CONFIG, "digest": _digest(config), "size": len(config)},
        "layers": [{"mediaType": mt.DOCKER_LAYER, "digest": _digest(x), "size": len(x)} for x in layers],
    }).encode()
    return manifest, repo.put_manifest(tag, manifest, mt.DOCKER_MANIFEST)


def test_push_and_pull_roundtrip(registry, tmp_path):
    anon = AuthConfig()
    push = Repository(registry.endpoint, "barge/one", anon, ("pull", "push"))
    push.ping()
    small = os.urandom(70_000)
    big = os.urandom(5 * 1024 * 1024 + 123)
    assert push.blob_size(_digest(small)) is None
    push.upload_blob(io.BytesIO(small), _digest(small), len(small))  # monolithic
    seen: list[int] = []
    push.upload_blob(io.BytesIO(big), _digest(big), len(big), progress=seen.append, chunk_size=1 << 20)  # chunked
    assert seen[-1] == len(big) and len(seen) == 6
    assert push.blob_size(_digest(small)) == len(small)
    assert push.blob_size(_digest(big)) == len(big)

    manifest, digest = _push_image(push, [small, big])
    assert digest == _digest(manifest)
    pull = Repository(registry.endpoint, "barge/one", anon, display="127.0.0.1/barge/one")
    body, media_type, got = pull.get_manifest("v1")
    assert (body, media_type, got) == (manifest, mt.DOCKER_MANIFEST, digest)
    assert pull.get_manifest(digest)[0] == manifest
    assert pull.head_manifest("v1") == (digest, mt.DOCKER_MANIFEST, len(manifest))
    assert pull.head_manifest("nosuch") is None
    parsed = mt.parse_manifest(body, media_type)
    assert [layer.size for layer in parsed.layers] == [len(small), len(big)]

    progress: list[int] = []
    with open(tmp_path / "blob", "w+b") as out:
        pull.fetch_blob(_digest(big), out, size=len(big), progress=progress.append)
    assert (tmp_path / "blob").read_bytes() == big
    assert progress[-1] == len(big)
    # resume from a partial file
    with open(tmp_path / "part", "w+b") as out:
        out.write(big[:1_000_000])
        pull.fetch_blob(_digest(big), out, size=len(big), offset=1_000_000)
    assert (tmp_path / "part").read_bytes() == big
    with pull.open_blob(_digest(small), len(small)) as stream:
        assert stream.read() == small

    with pytest.raises(RegistryNotFound) as err:
        pull.get_manifest("nosuch")
    assert str(err.value) == "manifest for 127.0.0.1/barge/one:nosuch not found: manifest unknown: manifest unknown"
    with pytest.raises(RegistryNotFound, match="blob unknown"):
        pull.fetch_blob(_digest(b"nope"), io.BytesIO())


def test_mount_tags_and_manifest_digest(registry):
    anon = AuthConfig()
    a = Repository(registry.endpoint, "barge/a", anon, ("pull", "push"))
    layer = os.urandom(4096)
    manifest, digest = _push_image(a, [layer], tag="v1")
    for tag in ("v2", "v3"):
        a.put_manifest(tag, manifest, mt.DOCKER_MANIFEST)
    assert sorted(a.tags()) == ["v1", "v2", "v3"]

    b = Repository(registry.endpoint, "barge/b", anon, ("pull", "push"))
    assert b.blob_size(_digest(layer)) is None
    assert b.mount_blob(_digest(layer), "barge/a") is True
    assert b.blob_size(_digest(layer)) == len(layer)
    assert b.mount_blob(_digest(b"not there"), "barge/a") is False
    # wrong digest on upload: the registry refuses, the client says so
    with pytest.raises(DigestMismatch):
        b.upload_blob(io.BytesIO(b"hello"), _digest(b"other"), 5)
    config = mt.parse_manifest(manifest, mt.DOCKER_MANIFEST).config
    assert b.mount_blob(config.digest, "barge/a") is True
    assert b.put_manifest(digest, manifest, mt.DOCKER_MANIFEST) == digest
    assert b.get_manifest(digest)[2] == digest


def test_htpasswd_auth(auth_registry):
    ep = auth_registry.endpoint
    anon = Repository(ep, "barge/private", AuthConfig())
    with pytest.raises(RegistryUnauthorized) as err:
        anon.ping()
    assert err.value.status == 401 and "authentication required" in str(err.value)
    with pytest.raises(RegistryUnauthorized):
        anon.get_manifest("latest")

    good = AuthConfig(username="alice", password="s3cret")
    assert login(ep, good, RegistryConfig()) == {"Status": "Login Succeeded", "IdentityToken": ""}
    with pytest.raises(RegistryUnauthorized) as err:
        login(ep, AuthConfig(username="alice", password="wrong"), RegistryConfig())
    assert str(err.value) == "unauthorized: incorrect username or password"

    repo = Repository(ep, "barge/private", AuthConfig.from_header(good.to_header()), ("pull", "push"))
    layer = os.urandom(10_000)
    manifest, digest = _push_image(repo, [layer], tag="latest")
    assert repo.get_manifest("latest")[2] == digest
    out = io.BytesIO()
    repo.fetch_blob(_digest(layer), out, size=len(layer))
    assert out.getvalue() == layer
    wrong = Repository(ep, "barge/private", AuthConfig(username="alice", password="nope"))
    with pytest.raises(RegistryUnauthorized):
        wrong.get_manifest("latest")
