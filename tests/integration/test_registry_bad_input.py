"""Pulls from a registry that lies, refuses, fails or dies: each fails with a
clear message and records nothing (graph db rows read-only, driver layer
dirs, pull temp dirs, ``GET /images/json``); a second pull from a sane
registry completes. The registry is :class:`tests.registry_peers.FakeRegistry`
on 127.0.0.1; the daemon is one per module, except where it gets killed."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import tarfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from barge.testing.wait import wait_for
from tests.registry_peers import (
    FakeRegistry,
    api_pull,
    barge,
    db_rows,
    digest_of,
    layer_tar,
    make_image,
    raw_tar,
    recorded,
    temp_dirs,
)

pytestmark = pytest.mark.daemon


@pytest.fixture(scope="module")
def d(shared_daemon):
    """One daemon for the module (its images and records change from test to test)."""
    return shared_daemon


@pytest.fixture
def fake():
    f = FakeRegistry()
    yield f
    f.stop()


def unique_image(n_layers: int = 1, big: int = 0, **kw):
    """An image whose layers no other test has (so every layer must be downloaded)."""
    tag = uuid.uuid4().hex
    layers = [layer_tar({f"layer{i}/{tag}": f"layer {i} of {tag}\n".encode()}) for i in range(n_layers)]
    if big:
        layers[-1] = layer_tar({f"big/{tag}": os.urandom(big)})
    return make_image(layers, note=tag, **kw)


def fails_cleanly(d, ref: str, *expected: str, tag: str = "") -> str:
    """Pull ``ref``: it must fail with each of ``expected`` in the message and record nothing."""
    before = recorded(d)
    status, msgs, err = api_pull(d, ref, tag=tag or ("" if "@" in ref or ":" in ref.rsplit("/", 1)[-1] else "latest"))
    assert err, f"pull of {ref} did not fail: {status} {msgs}"
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"
    assert recorded(d) == before
    assert "Status: Downloaded" not in json.dumps(msgs)
    return err


def pulls(d, ref: str, image) -> list[dict]:
    status, msgs, err = api_pull(d, ref)
    assert status == 200 and not err, (status, err, msgs)
    assert d.json("GET", f"/images/{image.id}/json")["Id"] == image.id
    assert temp_dirs(d) == [] and db_rows(d, "pending_layers") == []
    return msgs


# ---------------------------------------------------------------------------
# lying content
# ---------------------------------------------------------------------------




def _bad_blob_registry(fake):
    img = unique_image(2)
    fake.add("bad/blob", "v1", img)
    good = img.layer_digests[1]
    blob = bytearray(fake.blobs[good])
    blob[len(blob) // 2] ^= 0xFF  # same size, other bytes
    fake.blobs[good] = bytes(blob)
    return img, good


def test_blob_digest_mismatch_records_nothing(d, fake):
    img, good = _bad_blob_registry(fake)
    fails_cleanly(d, f"{fake.host}/bad/blob:v1")
    # the honest bytes pull fine afterwards
    fake.blobs[good] = img.blobs[good]
    pulls(d, f"{fake.host}/bad/blob:v1", img)


def test_blob_digest_mismatch_message(d, fake):
    img, good = _bad_blob_registry(fake)
    err = fails_cleanly(d, f"{fake.host}/bad/blob:v1")
    assert good in err and "verification failed" in err, err


def test_config_digest_mismatch(d, fake):
    img = unique_image(1)
    fake.add("bad/config", "v1", img)
    fake.blobs[digest_of(img.config)] = img.config.replace(b"amd64", b"AMD64")
    fails_cleanly(d, f"{fake.host}/bad/config:v1", "verification failed")


def test_truncated_blob(d, fake):
    img = unique_image(1, big=200_000)
    fake.add("bad/trunc", "v1", img)
    target = img.layer_digests[0]

    def short(h, method, repo, kind, ref):
        if kind == "blobs" and ref == target:
            h.reply(200, img.blobs[target][:50_000], {"Content-Type": "application/octet-stream"}, method)
            return True
        return False

    fake.rules.append(short)
    fails_cleanly(d, f"{fake.host}/bad/trunc:v1", "truncated")


def test_manifest_digest_mismatch(d, fake):
    img, other = unique_image(1), unique_image(1)
    fake.add("bad/mdigest", None, img)
    fake.blobs.update(other.blobs)
    # asked by digest, the registry answers another manifest
    fake.manifests[("bad/mdigest", img.digest)] = (other.manifest, other.media_type)
    fails_cleanly(d, f"{fake.host}/bad/mdigest@{img.digest}", "manifest verification failed")

    # by tag, with a Docker-Content-Digest that does not match the body
    def lying_header(h, method, repo, kind, ref):
        if kind == "manifests" and ref == "v1":
            h.reply(200, img.manifest, {"Content-Type": img.media_type, "Docker-Content-Digest": other.digest},
                    method)
            return True
        return False

    fake.rules.append(lying_header)
    fails_cleanly(d, f"{fake.host}/bad/mdigest:v1", "verification failed")


def test_unknown_manifest_media_type(d, fake):
    img = unique_image(1)
    fake.add("bad/mtype", "v1", img, media_type="application/vnd.example.thing.v1+json")
    err = fails_cleanly(d, f"{fake.host}/bad/mtype:v1", "application/vnd.example.thing.v1+json")
    assert "media type" in err or "mediaType" in err


def test_unknown_layer_media_type(d, fake):
    base = unique_image(1)
    doc = json.loads(base.manifest)
    doc["layers"][0]["mediaType"] = "application/vnd.example.layer.v1.tar+lz4"
    manifest = json.dumps(doc).encode()
    fake.blobs.update(base.blobs)
    fake.manifests[("bad/ltype", "v1")] = (manifest, base.media_type)
    fails_cleanly(d, f"{fake.host}/bad/ltype:v1", "application/vnd.example.layer.v1.tar+lz4")


def _missing_blob_registry(fake):
    img = unique_image(2)
    fake.add("bad/missing", "v1", img)
    del fake.blobs[img.layer_digests[1]]
    return img


def test_manifest_references_missing_blob_records_nothing(d, fake):
    img = _missing_blob_registry(fake)
    fails_cleanly(d, f"{fake.host}/bad/missing:v1")
    assert fake.count("GET", f"/blobs/{img.layer_digests[1]}") >= 1


def test_manifest_references_missing_blob_message(d, fake):
    _missing_blob_registry(fake)
    err = fails_cleanly(d, f"{fake.host}/bad/missing:v1")
    assert "blob unknown" in err, err


def test_oversized_manifest(d, fake):
    img = unique_image(1)
    doc = json.loads(img.manifest)
    doc["annotations"] = {"padding": "x" * (4 << 20)}
    body = json.dumps(doc).encode()
    assert len(body) > 4 << 20
    fake.blobs.update(img.blobs)
    fake.manifests[("bad/huge", "v1")] = (body, img.media_type)
    err = fails_cleanly(d, f"{fake.host}/bad/huge:v1")
    assert "4 MiB" in err or "too large" in err or "larger" in err, err


# ---------------------------------------------------------------------------
# status codes
# ---------------------------------------------------------------------------


def test_401_without_credentials(d, fake):
    def unauthorized(h, method, repo, kind, ref):
        h.error(401, "UNAUTHORIZED", "authentication required",
                {"WWW-Authenticate": 'Basic realm="fake"'})
        return True

    fake.rules.append(unauthorized)
    err = fails_cleanly(d, f"{fake.host}/secret/img:v1")
    assert "unauthorized" in err or "pull access denied" in err, err


def test_403_denied(d, fake):
    img = unique_image(1)
    fake.add("denied/img", "v1", img)

    def denied(h, method, repo, kind, ref):
        if kind == "manifests":
            h.error(403, "DENIED", "requested access to the resource is denied")
            return True
        return False

    fake.rules.append(denied)
    fails_cleanly(d, f"{fake.host}/denied/img:v1", "denied")


def test_404_unknown_tag(d, fake):
    img = unique_image(1)
    fake.add("known/img", "v1", img)
    fails_cleanly(d, f"{fake.host}/known/img:nosuch", "manifest unknown")


def test_429_then_success_honours_retry_after(d, fake):
    img = unique_image(1)
    fake.add("busy/img", "v1", img)
    times: list[float] = []

    def busy_once(h, method, repo, kind, ref):
        if kind == "manifests" and method == "GET":
            times.append(time.monotonic())
            if len(times) == 1:
                h.error(429, "TOOMANYREQUESTS", "slow down", {"Retry-After": "1"})
                return True
        return False

    fake.rules.append(busy_once)
    pulls(d, f"{fake.host}/busy/img:v1", img)
    assert len(times) == 2
    assert times[1] - times[0] >= 0.95  # Retry-After: 1 waited, not the 0.5 s first backoff


def test_500_fails_after_retries(d, fake):
    img = unique_image(1)
    fake.add("broken/img", "v1", img)

    def broken(h, method, repo, kind, ref):
        if kind == "manifests":
            h.error(500, "UNKNOWN", "the fake is broken", {"Retry-After": "0"})
            return True
        return False

    fake.rules.append(broken)
    err = fails_cleanly(d, f"{fake.host}/broken/img:v1")
    assert "500" in err or "the fake is broken" in err or "Internal Server Error" in err, err
    assert fake.count("GET", "/manifests/v1") == 5  # retried, then given up


# ---------------------------------------------------------------------------
# connections cut
# ---------------------------------------------------------------------------


def test_dropped_connection_resumes_with_range(d, fake):
    img = unique_image(1, big=1_500_000)
    fake.add("flaky/img", "v1", img)
    target = img.layer_digests[0]
    blob = img.blobs[target]
    ranges: list[str] = []

    def drop_once(h, method, repo, kind, ref):
        if kind == "blobs" and ref == target and method == "GET":
            ranges.append(h.headers.get("Range", ""))
            if len(ranges) == 1:
                h.cut(blob, len(blob), 400_000)
                return True
        return False

    fake.rules.append(drop_once)
    pulls(d, f"{fake.host}/flaky/img:v1", img)
    assert len(ranges) == 2 and ranges[1].startswith("bytes=") and ranges[1] != "bytes=0-", ranges


def test_registry_dies_mid_pull_then_second_pull_completes(d, fake):
    img = unique_image(2, big=2_000_000)
    fake.add("dies/img", "v1", img)
    target = img.layer_digests[1]
    blob = img.blobs[target]

    def die(h, method, repo, kind, ref):
        if kind == "blobs" and ref == target and method == "GET":
            h.cut(blob, len(blob), 300_000)
            fake.go_down()  # and stays down
            return True
        return False

    fake.rules.append(die)
    t0 = time.monotonic()
    fails_cleanly(d, f"{fake.host}/dies/img:v1")
    assert time.monotonic() - t0 < 60
    fake.rules.clear()
    fake.start()  # back, on the same port
    pulls(d, f"{fake.host}/dies/img:v1", img)


# ---------------------------------------------------------------------------
# hostile layers
# ---------------------------------------------------------------------------


def _escape_case(d, fake, tmp_path: Path, repo: str, members: list[tarfile.TarInfo], payloads: dict,
                 outside: list[Path]) -> None:
    tar = raw_tar(members, payloads)
    # sanity: the names really are hostile in the tar
    import io

    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        assert [m.name for m in tf.getmembers()] == [m.name for m in members]
    img = make_image([tar], note=uuid.uuid4().hex)
    fake.add(repo, "v1", img)
    before = recorded(d)
    status, msgs, err = api_pull(d, f"{fake.host}/{repo}", tag="v1")
    for path in outside:
        assert not path.exists() or (path.is_dir() and list(path.iterdir()) == []), f"{path} written: {err}"
    if err:  # refused: nothing recorded
        assert recorded(d) == before, err
    else:  # neutralised: the image is there, its files inside the layer
        assert d.json("GET", f"/images/{img.id}/json")["Id"] == img.id
        assert temp_dirs(d) == [] and db_rows(d, "pending_layers") == []


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode, info.mtime = 0o644, 1_700_000_000
    return info


def test_layer_with_dotdot_entry(d, fake, tmp_path):
    target = tmp_path / "dotdot-victim"
    name = "../" * 30 + str(target).lstrip("/")
    _escape_case(d, fake, tmp_path, "evil/dotdot", [_file("ok"), _file(name)], {"ok": b"1", name: b"pwned"},
                 [target])


def test_layer_with_absolute_entry(d, fake, tmp_path):
    target = tmp_path / "abs-victim"
    _escape_case(d, fake, tmp_path, "evil/abs", [_file("ok"), _file(str(target))],
                 {"ok": b"1", str(target): b"pwned"}, [target])


def test_layer_with_symlink_escape(d, fake, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    link = tarfile.TarInfo("evil")
    link.type, link.linkname, link.mtime = tarfile.SYMTYPE, str(outside), 1_700_000_000
    rel = tarfile.TarInfo("rel")
    rel.type, rel.linkname, rel.mtime = tarfile.SYMTYPE, "../" * 30 + str(outside).lstrip("/"), 1_700_000_000
    members = [link, _file("evil/through-link"), rel, _file("rel/through-relative")]
    _escape_case(d, fake, tmp_path, "evil/symlink", members,
                 {"evil/through-link": b"pwned", "rel/through-relative": b"pwned"}, [outside])


# ---------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------


INVALID_NAMES = ["upper/CASE", "127.0.0.1:1/UPPER", "bad..name", "a/b:bad tag", "name@sha256:abc", "trailing/"]
#: what docker 28 says for each (checked against the real CLI when it is installed)
DOCKER_SAYS = {
    "upper/CASE": "invalid reference format: repository name (upper/CASE) must be lowercase",
    "127.0.0.1:1/UPPER": "invalid reference format: repository name (UPPER) must be lowercase",
}


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_names(d, name):
    expected = DOCKER_SAYS.get(name, "invalid reference format")
    before = recorded(d)
    status, _, err = api_pull(d, name)
    assert status == 400 and err == expected, (status, err)
    proc = barge(d, "pull", name, check=False)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.strip() == expected, proc.stderr
    assert recorded(d) == before
    docker = shutil.which("docker")
    if docker:  # the real CLI refuses the name before it talks to any daemon
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DOCKER_HOST": "unix:///nonexistent/docker.sock",
               "DOCKER_CONFIG": str(d.root / "no-docker-config")}
        real = subprocess.run([docker, "pull", name], capture_output=True, text=True, env=env, timeout=30)
        assert real.returncode == 1 and real.stderr.strip() == expected, real.stderr


# ---------------------------------------------------------------------------
# a daemon killed mid-pull
# ---------------------------------------------------------------------------


def test_daemon_killed_mid_pull(daemon_factory, fake):
    d2 = daemon_factory()
    img = unique_image(2, big=3_000_000)
    fake.add("slow/img", "v1", img)
    target = img.layer_digests[1]
    blob = img.blobs[target]
    release = threading.Event()
    started = threading.Event()

    def stall(h, method, repo, kind, ref):
        if kind == "blobs" and ref == target and method == "GET":
            h.send_response(200)
            h.send_header("Content-Length", str(len(blob)))
            h.end_headers()
            try:
                h.wfile.write(blob[:500_000])
                h.wfile.flush()
                started.set()
                release.wait(60)
                h.wfile.write(blob[500_000:])
            except OSError:
                pass
            h.close_connection = True
            return True
        return False

    fake.rules.append(stall)
    result: list = []
    puller = threading.Thread(target=lambda: result.append(_pull_swallowing(d2, f"{fake.host}/slow/img:v1")))
    puller.start()
    try:
        assert started.wait(60), "the daemon never asked for the big layer"
        # the small layer is unpacked and pending while the big one is stuck
        wait_for(lambda: db_rows(d2, "pending_layers"), 30, what="the first layer to be prepared")
        assert temp_dirs(d2), "no pull temp dir while pulling"
        d2.kill()
    finally:
        release.set()
        puller.join(60)
    fake.rules.clear()
    d2.start()
    state = recorded(d2)
    assert state["pending_layers"] == [] and state["temp_dirs"] == [], state
    assert state["images"] == [] and state["api"] == [] and state["layers"] == 0 and state["tags"] == [], state
    assert state["layer_dirs"] == set(), state
    pulls(d2, f"{fake.host}/slow/img:v1", img)
    assert d2.json("GET", f"/images/{fake.host}/slow/img:v1/json")["Id"] == img.id


def _pull_swallowing(d, ref):
    try:
        return api_pull(d, ref)
    except (OSError, http.client.HTTPException) as exc:  # the daemon died under us (mid-body: IncompleteRead)
        return exc
