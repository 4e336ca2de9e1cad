"""The real docker CLI (28.x) against barge's daemon and barge's registry server on
127.0.0.1: ``docker login`` (``-p`` and ``--password-stdin``; config in a temp
DOCKER_CONFIG), ``docker push``, ``docker pull`` (Docker's own progress
lines), ``docker search``, ``docker logout``, and the exit codes of failures."""

from __future__ import annotations

import base64
import json
import re
import tempfile
from pathlib import Path

import pytest

from barge.registry.server.testing import start_registry, stop_registry
from tests.compat.conftest import DOCKER, DockerCLI, small_rootfs_tar
from tests.conftest import remove_tree

pytestmark = [pytest.mark.daemon,
              pytest.mark.skipif(DOCKER is None, reason="the docker CLI is not installed (/usr/local/bin/docker)")]

DIGEST_LINE = re.compile(r"^(\S+): digest: (sha256:[0-9a-f]{64}) size: (\d+)$", re.M)


@pytest.fixture(scope="module")
def d(shared_daemon):
    """One daemon for the module (its images and records change from test to test)."""
    return shared_daemon


@pytest.fixture
def docker(d, tmp_path):
    return DockerCLI(d, tmp_path)


def _registry(auth: str):
    tmp = Path(tempfile.mkdtemp(prefix="barge-dreg-"))
    url, proc = start_registry(tmp, auth=auth, users={"alice": "s3cret"})
    return tmp, url.split("://", 1)[1], proc


@pytest.fixture(scope="module")
def anon_registry():
    tmp, host, proc = _registry("none")
    try:
        yield host
    finally:
        stop_registry(proc)
        remove_tree(tmp)


def imported(docker, ref: str, marker: str) -> str:
    """``docker import`` a tiny root file system as ``ref``; returns the image id."""
    tar = small_rootfs_tar({"etc/hello.txt": f"{marker}\n".encode(), "bin/tool": b"#!/bin/sh\necho tool\n"})
    return docker.out("import", "-", ref, input=tar)


def test_push_pull_search_anonymous(docker, anon_registry):
    host = anon_registry
    ref = f"{host}/cli/app:v1"
    image = imported(docker, ref, "anonymous")

    push = docker("push", ref).stdout.decode()
    assert f"The push refers to repository [{host}/cli/app]" in push and ": Pushed" in push, push
    (t, digest, _), = DIGEST_LINE.findall(push)
    assert t == "v1"
    assert ": Layer already exists" in docker.out("push", ref)

    docker("rmi", ref)
    pull = docker.out("pull", ref)
    lines = pull.splitlines()
    assert lines[0] == "v1: Pulling from cli/app", pull
    assert any(re.fullmatch(r"[0-9a-f]{12}: Pull complete", ln) for ln in lines), pull
    assert f"Digest: {digest}" in lines and f"Status: Downloaded newer image for {ref}" in lines, pull
    assert lines[-1] == ref
    assert docker.out("inspect", "-f", "{{.Id}}", ref) == image
    assert f"{host}/cli/app@{digest}" in json.loads(docker.out("inspect", "-f", "{{json .RepoDigests}}", ref))

    again = docker.out("pull", ref)
    assert f"Status: Image is up to date for {ref}" in again, again
    by_digest = docker.out("pull", f"{host}/cli/app@{digest}")
    assert f"Digest: {digest}" in by_digest and by_digest.splitlines()[-1] == f"{host}/cli/app@{digest}"

    found = docker.out("search", f"{host}/cli")
    assert found.splitlines()[0].split()[:2] == ["NAME", "DESCRIPTION"]
    assert any("cli/app" in line.split()[0] for line in found.splitlines()[1:]), found

    missing = docker("pull", f"{host}/cli/app:nosuch", check=False)
    err = missing.stderr.decode()
    assert missing.returncode == 1 and "manifest unknown" in err, err
    nohost = docker("pull", "127.0.0.1:1/cli/app:v1", check=False)  # nothing listens on port 1
    assert nohost.returncode == 1 and "connection refused" in nohost.stderr.decode().lower()
    bad = docker("pull", "upper/CASE", check=False)
    assert bad.returncode == 1 and "invalid reference format" in bad.stderr.decode()


@pytest.mark.parametrize("auth", ["basic", "token"])
def test_login_push_pull_logout(docker, d, tmp_path, auth):
    tmp, host, proc = _registry(auth)
    try:
        ref = f"{host}/private/app:v1"
        imported(docker, ref, f"private {auth}")
        config = Path(docker.env["DOCKER_CONFIG"]) / "config.json"

        anon = docker("push", ref, check=False)
        assert anon.returncode == 1 and ("unauthorized" in anon.stderr.decode() or "denied" in anon.stderr.decode())

        wrong = docker("login", host, "-u", "alice", "--password-stdin", input=b"wrong\n", check=False)
        assert wrong.returncode == 1 and "unauthorized" in wrong.stderr.decode(), wrong.stderr
        assert not config.exists() or host not in json.loads(config.read_text()).get("auths", {})

        login = docker("login", host, "-u", "alice", "--password-stdin", input=b"s3cret\n")
        assert "Login Succeeded" in login.stdout.decode()
        stored = json.loads(config.read_text())["auths"][host]
        assert base64.b64decode(stored["auth"]) == b"alice:s3cret", stored
        login = docker("login", host, "-u", "alice", "-p", "s3cret")
        assert "Login Succeeded" in login.stdout.decode() and "--password-stdin" in login.stderr.decode()

        push = docker.out("push", ref)
        (_, digest, _), = DIGEST_LINE.findall(push)
        docker("rmi", ref)
        pull = docker.out("pull", ref)
        assert "Pull complete" in pull and f"Digest: {digest}" in pull and "Status: Downloaded newer image" in pull

        found = docker.out("search", f"{host}/private")
        assert any("private/app" in line for line in found.splitlines()[1:]), found

        out = docker.out("logout", host)
        assert f"Removing login credentials for {host}" in out
        assert host not in json.loads(config.read_text()).get("auths", {})
        docker("rmi", ref)
        denied = docker("pull", ref, check=False)
        err = denied.stderr.decode()
        assert denied.returncode == 1 and ("unauthorized" in err or "denied" in err), err
    finally:
        stop_registry(proc)
        remove_tree(tmp)


def test_resolve_errors_are_daemon_errors(docker, anon_registry):
    missing = docker("pull", f"{anon_registry}/cli/none:nosuch", check=False)
    assert missing.returncode == 1
    assert missing.stdout.decode() == ""  # dockerd says nothing before the manifest is found
    assert missing.stderr.decode().strip() == (
        f"Error response from daemon: manifest for {anon_registry}/cli/none:nosuch"
        " not found: manifest unknown: manifest unknown")


def test_docker_pull_progress_bars_on_a_pty(d, docker, anon_registry):
    """``docker pull`` on a terminal draws its own per-layer bars from barge's JSON messages."""
    import os

    from tests.compat.conftest import pty_run
    from tests.registry_peers import compress, http_upload, layer_tar, make_image

    big = layer_tar({"big": os.urandom(24 << 20)})
    img = make_image([(big, *compress(big, "none"))])
    http_upload(f"http://{anon_registry}", "cli/big", img, "v1")
    ref = f"{anon_registry}/cli/big:v1"
    code, raw = pty_run(dict(docker.env, TERM="xterm"), [DOCKER, "pull", ref], [], timeout=120, size=(40, 160))
    text = raw.decode(errors="replace")
    assert code == 0, text
    short = img.layer_digests[0][7:19]
    assert re.search(re.escape(short) + r": Downloading \[[=> ]+\]\s+\S+MB/\S+MB", text), text[-2000:]
    assert f"{short}: Pull complete" in text and f"Status: Downloaded newer image for {ref}" in text
    assert "\x1b[" in text
    docker("rmi", ref)
