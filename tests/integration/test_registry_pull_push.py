"""``barge push``/``pull``/``search``/``login``/``logout`` against real registries on
127.0.0.1: barge's own server (anonymous, Basic, token) and Debian's
docker-registry (anonymous and htpasswd). Images go out and come back with
the same ID and run; a second push skips or mounts blobs; hand-made OCI
indexes, zstd and uncompressed layers pull; ``barge pull`` on a pty draws
per-layer progress bars."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from barge.registry.server.testing import start_registry, stop_registry
from tests.compat.conftest import pty_run
from tests.conftest import remove_tree
from tests.integration.helpers import joined, rm, run
from tests.registry_peers import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    Distribution,
    barge,
    busybox_tar,
    cli_env,
    compress,
    digest_of,
    get_manifest,
    http_upload,
    layer_tar,
    make_image,
    put_manifest,
)

pytestmark = pytest.mark.daemon

DIGEST_LINE = re.compile(r"^(\S+): digest: (sha256:[0-9a-f]{64}) size: (\d+)$", re.M)


@pytest.fixture(scope="module")
def registry():
    """barge's registry server, anonymous: (base URL, host:port)."""
    tmp = Path(tempfile.mkdtemp(prefix="barge-reg-"))
    url, proc = start_registry(tmp)
    try:
        yield url, url.split("://", 1)[1]
    finally:
        stop_registry(proc)
        remove_tree(tmp)


@pytest.fixture(scope="module")
def app(box):
    """A 2-layer image: busybox + a committed container that wrote /hello. Returns its id."""
    cid = run(box, ["sh", "-c", "echo pushed-by-barge > /hello"])
    box.json("POST", f"/containers/{cid}/wait")
    image_id = box.json("POST", f"/commit?container={cid}&repo=barge-app&tag=base", expect=201)["Id"]
    rm(box, cid)
    assert len(box.json("GET", f"/images/{image_id}/json")["RootFS"]["Layers"]) == 2
    return image_id


def tag(d, image: str, ref: str) -> None:
    repo, _, t = ref.rpartition(":")
    status, _, body = d.request("POST", f"/images/{image}/tag?repo={repo}&tag={t}")
    assert status == 201, body


def rmi(d, *refs: str) -> None:
    for ref in refs:
        status, _, body = d.request("DELETE", f"/images/{ref}")
        assert status == 200, (ref, body)


def image_id(d, ref: str) -> str | None:
    status, _, body = d.request("GET", f"/images/{ref}/json")
    return json.loads(body)["Id"] if status == 200 else None


def output_of(d, image: str, cmd: list[str]) -> str:
    cid = run(d, cmd, Image=image)
    try:
        assert d.json("POST", f"/containers/{cid}/wait")["StatusCode"] == 0
        status, _, body = d.request("GET", f"/containers/{cid}/logs?stdout=1&stderr=1")
        return joined(body, 1).decode()
    finally:
        rm(d, cid)


# ---------------------------------------------------------------------------
# barge's registry server, anonymous
# ---------------------------------------------------------------------------


def test_push_skip_mount_pull_roundtrip(box, app, registry):
    _, host = registry
    ref = f"{host}/barge/app:v1"
    tag(box, app, ref)
    out = barge(box, "push", ref).stdout
    assert f"The push refers to repository [{host}/barge/app]" in out
    assert out.count(": Pushed") == 2, out
    (t, digest, size), = DIGEST_LINE.findall(out)
    assert t == "v1" and int(size) > 0

    again = barge(box, "push", ref).stdout
    assert again.count(": Layer already exists") == 2 and ": Pushed" not in again, again
    assert DIGEST_LINE.findall(again) == [("v1", digest, size)]

    copy = f"{host}/barge/copy:v1"
    tag(box, app, copy)
    mounted = barge(box, "push", copy).stdout
    assert mounted.count(": Mounted from barge/app") == 2 and ": Pushed" not in mounted, mounted
    assert DIGEST_LINE.findall(mounted) == [("v1", digest, size)]

    rmi(box, ref, copy)
    assert image_id(box, ref) is None and image_id(box, app) is not None  # barge-app:base keeps it
    rmi(box, "barge-app:base")
    assert image_id(box, app) is None

    pulled = barge(box, "pull", ref).stdout
    assert ": Already exists" in pulled and ": Pull complete" in pulled, pulled  # busybox's layer is here
    assert f"Digest: {digest}" in pulled and f"Status: Downloaded newer image for {ref}" in pulled
    assert pulled.rstrip().endswith(ref)
    assert image_id(box, ref) == app
    assert output_of(box, ref, ["cat", "/hello"]) == "pushed-by-barge\n"

    up = barge(box, "pull", ref).stdout
    assert up.count(": Already exists") == 2 and f"Status: Image is up to date for {ref}" in up, up
    assert f"{host}/barge/app@{digest}" in box.json("GET", f"/images/{ref}/json")["RepoDigests"]

    # by digest, after the tags are gone
    tag(box, app, "barge-app:base")  # keep a local name for the other tests
    rmi(box, ref)
    by_digest = f"{host}/barge/app@{digest}"
    out = barge(box, "pull", by_digest).stdout
    assert f"Digest: {digest}" in out and out.rstrip().endswith(by_digest), out
    inspected = box.json("GET", f"/images/{by_digest}/json")
    assert inspected["Id"] == app and by_digest in inspected["RepoDigests"]


def test_fresh_daemon_pulls_every_layer(daemon_factory, box, app, registry):
    _, host = registry
    ref = f"{host}/barge/fresh:v1"
    tag(box, app, ref)
    barge(box, "push", ref)
    d = daemon_factory()
    out = barge(d, "pull", ref).stdout
    assert out.count(": Pull complete") == 2 and "Already exists" not in out, out
    assert image_id(d, ref) == app
    assert output_of(d, ref, ["cat", "/hello"]) == "pushed-by-barge\n"
    # API: the same pull is a JSON message stream
    status, _, body = d.request("POST", f"/v1.47/images/create?fromImage={host}/barge/fresh&tag=v1")
    msgs = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert status == 200 and msgs[-1] == {"status": f"Status: Image is up to date for {ref}"}, msgs


def test_pull_all_tags_and_search(box, app, registry):
    _, host = registry
    for t in ("a", "b"):
        tag(box, app, f"{host}/barge/multi:{t}")
    out = barge(box, "push", "--all-tags", f"{host}/barge/multi").stdout
    assert len(DIGEST_LINE.findall(out)) == 2 and {t for t, _, _ in DIGEST_LINE.findall(out)} == {"a", "b"}
    rmi(box, f"{host}/barge/multi:a", f"{host}/barge/multi:b")
    out = barge(box, "pull", "--all-tags", f"{host}/barge/multi").stdout
    assert image_id(box, f"{host}/barge/multi:a") == app == image_id(box, f"{host}/barge/multi:b")
    assert "Status: " in out

    tag(box, app, f"{host}/barge/other:x")
    barge(box, "push", f"{host}/barge/other:x")
    found = barge(box, "search", f"{host}/barge").stdout.splitlines()
    assert found[0].split()[:2] == ["NAME", "DESCRIPTION"], found
    names = {line.split()[0] for line in found[1:]}
    assert {"barge/multi", "barge/other"} <= {n.split("/", 1)[1] if n.startswith(host) else n for n in names}, found
    assert barge(box, "search", f"{host}/nothing-like-this").stdout.splitlines()[1:] == []


# ---------------------------------------------------------------------------
# auth: barge's server with Basic and token, login/logout
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_login_push_pull_logout(box, app, tmp_path, mode):
    url, proc = start_registry(tmp_path, auth=mode, users={"alice": "s3cret"})
    try:
        host = url.split("://", 1)[1]
        cfg = tmp_path / "docker-config"
        ref = f"{host}/private/app:v1"
        tag(box, app, ref)

        anon = barge(box, "push", ref, docker_config=cfg, check=False)
        assert anon.returncode == 1 and ("unauthorized" in anon.stderr or "denied" in anon.stderr), anon.stderr

        wrong = barge(box, "login", host, "-u", "alice", "--password-stdin", input=b"nope\n",
                      docker_config=cfg, check=False)
        assert wrong.returncode == 1 and "unauthorized" in wrong.stderr, wrong.stderr
        config = cfg / "config.json"
        assert not config.exists() or host not in json.loads(config.read_text()).get("auths", {})

        ok = barge(box, "login", host, "-u", "alice", "-p", "s3cret", docker_config=cfg)
        assert "Login Succeeded" in ok.stdout
        auths = json.loads((cfg / "config.json").read_text())["auths"]
        assert host in auths and (auths[host].get("auth") or auths[host].get("identitytoken")), auths

        out = barge(box, "push", ref, docker_config=cfg).stdout
        (_, digest, _), = DIGEST_LINE.findall(out)
        rmi(box, ref)
        out = barge(box, "pull", ref, docker_config=cfg).stdout
        assert f"Digest: {digest}" in out and image_id(box, ref) == app, out

        out = barge(box, "logout", host, docker_config=cfg).stdout
        assert f"Removing login credentials for {host}" in out
        assert host not in json.loads((cfg / "config.json").read_text()).get("auths", {})
        rmi(box, ref)
        gone = barge(box, "pull", ref, docker_config=cfg, check=False)
        assert gone.returncode == 1 and ("unauthorized" in gone.stderr or "denied" in gone.stderr), gone.stderr
    finally:
        stop_registry(proc)
        remove_tree(tmp_path / "registry")


# ---------------------------------------------------------------------------
# Debian's docker-registry
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("auth", [None, ("bob", "hunter2")], ids=["anonymous", "htpasswd"])
def test_distribution_registry(box, app, tmp_path, auth):
    reg = Distribution(tmp_path / "distribution", auth)
    try:
        cfg = tmp_path / "docker-config"
        ref = f"{reg.host}/dist/app:v1"
        tag(box, app, ref)
        if auth:
            denied = barge(box, "push", ref, docker_config=cfg, check=False)
            assert denied.returncode == 1, denied.stdout
            barge(box, "login", reg.host, "-u", auth[0], "--password-stdin", input=auth[1].encode(),
                  docker_config=cfg)
        out = barge(box, "push", ref, docker_config=cfg).stdout
        assert out.count(": Pushed") == 2, out
        (_, digest, _), = DIGEST_LINE.findall(out)
        assert barge(box, "push", ref, docker_config=cfg).stdout.count(": Layer already exists") == 2
        rmi(box, ref)
        out = barge(box, "pull", ref, docker_config=cfg).stdout
        assert f"Digest: {digest}" in out and image_id(box, ref) == app, out
        assert output_of(box, ref, ["cat", "/hello"]) == "pushed-by-barge\n"
        rmi(box, ref)
    finally:
        reg.stop()
        remove_tree(tmp_path / "distribution")


# ---------------------------------------------------------------------------
# hand-made manifests: an OCI index, zstd and uncompressed layers
# ---------------------------------------------------------------------------


def test_oci_index_platform_selection(box, app, registry):
    url, host = registry
    ref = f"{host}/barge/multiarch:amd64"
    tag(box, app, ref)
    barge(box, "push", ref)
    amd64_body, amd64_type = get_manifest(url, "barge/multiarch", "amd64", DOCKER_MANIFEST)
    assert amd64_type == DOCKER_MANIFEST
    arm = make_image([layer_tar({"arch": b"arm64\n"})], arch="arm64", note=uuid.uuid4().hex)
    arm_digest = http_upload(url, "barge/multiarch", arm, arm.digest)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": DOCKER_MANIFEST, "digest": digest_of(amd64_body),
         "size": len(amd64_body), "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": arm.media_type, "digest": arm_digest, "size": len(arm.manifest),
         "platform": {"os": "linux", "architecture": "arm64"}},
    ]}
    put_manifest(url, "barge/multiarch", "multi", json.dumps(index).encode(), OCI_INDEX)
    multi = f"{host}/barge/multiarch:multi"

    barge(box, "pull", multi)
    assert image_id(box, multi) == app
    out = barge(box, "pull", "--platform", "linux/arm64", multi).stdout
    assert "Downloaded newer image" in out, out
    inspected = box.json("GET", f"/images/{multi}/json")
    assert inspected["Id"] == arm.id and inspected["Architecture"] == "arm64"
    wrong = barge(box, "pull", "--platform", "linux/s390x", multi, check=False)
    assert wrong.returncode == 1 and "no matching manifest for linux/s390x" in wrong.stderr, wrong.stderr
    rmi(box, multi, ref)


def test_zstd_and_uncompressed_layers(box, registry):
    url, host = registry
    note = uuid.uuid4().hex
    root = busybox_tar({"hello": b"from a zstd layer\n"})
    plain = layer_tar({"plain": f"uncompressed {note}\n".encode()})
    img = make_image([(root, *compress(root, "zstd")), (plain, *compress(plain, "none"))],
                     cmd=["cat", "/hello", "/plain"], note=note)
    assert [x["mediaType"] for x in json.loads(img.manifest)["layers"]] == [
        "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.oci.image.layer.v1.tar"]
    http_upload(url, "barge/zstd", img, "v1")
    ref = f"{host}/barge/zstd:v1"
    out = barge(box, "pull", ref).stdout
    assert out.count(": Pull complete") == 2, out
    assert image_id(box, ref) == img.id
    assert output_of(box, ref, ["cat", "/hello", "/plain"]) == f"from a zstd layer\nuncompressed {note}\n"
    rmi(box, ref)


# ---------------------------------------------------------------------------
# progress bars on a terminal
# ---------------------------------------------------------------------------


def test_pull_progress_bars_on_a_pty(box, registry):
    url, host = registry
    big = layer_tar({"big": os.urandom(24 << 20)})
    small = layer_tar({"small": uuid.uuid4().bytes})
    img = make_image([(big, *compress(big, "none")), small])
    http_upload(url, "barge/big", img, "v1")
    ref = f"{host}/barge/big:v1"
    code, raw = pty_run(cli_env(box), [sys.executable, "-m", "barge", "pull", ref], [], timeout=120,
                        size=(40, 160))
    text = raw.decode(errors="replace")
    assert code == 0, text
    big_id = img.layer_digests[0][7:19]
    assert re.search(re.escape(big_id) + r": Downloading \[[=> ]+\]\s+\S+MB/\S+MB", text), text[-3000:]
    assert re.search(re.escape(big_id) + r": Extracting \[", text), text[-3000:]
    assert f"{big_id}: Pull complete" in text and img.layer_digests[1][7:19] in text
    assert "\x1b[" in text  # lines rewritten in place, not appended
    assert f"Status: Downloaded newer image for {ref}" in text
    rmi(box, ref)


def test_pull_that_only_adds_a_tag_reports_newer_image(box, app, registry):
    _, host = registry
    ref = f"{host}/barge/tagonly:v1"
    tag(box, app, ref)
    barge(box, "push", ref)
    rmi(box, ref)  # the image stays (barge-app:base); only the tag is new
    out = barge(box, "pull", ref).stdout
    assert image_id(box, ref) == app
    assert f"Status: Downloaded newer image for {ref}" in out, out


def test_push_platform_must_be_the_images(box, app, registry):
    _, host = registry
    ref = f"{host}/barge/plat:v1"
    tag(box, app, ref)
    wrong = barge(box, "push", "--platform", "linux/arm64", ref, check=False)
    assert wrong.returncode == 1 and "does not match the specified platform: wanted linux/arm64" in wrong.stderr
    assert "The push refers to" not in wrong.stdout
    right = barge(box, "push", "--platform", "linux/amd64", ref).stdout
    assert len(DIGEST_LINE.findall(right)) == 1
    rmi(box, ref)
