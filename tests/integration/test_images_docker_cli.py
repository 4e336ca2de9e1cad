"""The real docker CLI (28.x) against a barge daemon: import, images, tag,
history, inspect, save, load, rmi."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile

import pytest

pytestmark = [pytest.mark.daemon, pytest.mark.compat]

DOCKER = shutil.which("docker")


@pytest.fixture
def docker(daemon):
    if DOCKER is None:
        pytest.skip("the docker CLI is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST=daemon.url, DOCKER_CONFIG=str(daemon.root / "docker-config"))

    def run(*args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([DOCKER, *args], input=input, capture_output=True, env=env, timeout=120)
        if check:
            assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return proc

    return run


def rootfs(tmp_path) -> str:
    path = tmp_path / "rootfs.tar"
    with tarfile.open(path, "w") as tf:
        data = b"#!/bin/sh\necho hi\n"
        info = tarfile.TarInfo("bin/hi")
        info.size, info.mode = len(data), 0o755
        tf.addfile(info, io.BytesIO(data))
    return str(path)


def test_docker_cli_image_commands(docker, tmp_path):
    out = docker("import", "--change", "CMD [\"/bin/hi\"]", "-m", "cli import", rootfs(tmp_path), "busybox:cli")
    image_id = out.stdout.decode().strip()
    assert image_id.startswith("sha256:")

    listing = docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout.decode().split()
    assert listing == ["busybox:cli", image_id[7:19]]

    docker("tag", "busybox:cli", "example.com/me/app:1")
    tags = json.loads(docker("image", "inspect", image_id).stdout)[0]["RepoTags"]
    assert sorted(tags) == ["busybox:cli", "example.com/me/app:1"]

    hist = docker("history", "--no-trunc", "--format", "{{.ID}} {{.Comment}}", "busybox:cli").stdout.decode().strip()
    assert hist == f"{image_id} cli import"

    refused = docker("rmi", image_id[7:19], check=False)
    assert refused.returncode != 0
    assert b"image is referenced in multiple repositories" in refused.stderr

    archive = tmp_path / "saved.tar"
    docker("save", "-o", str(archive), "busybox:cli", "example.com/me/app:1")
    with tarfile.open(archive) as tf:
        assert {"manifest.json", "index.json", "oci-layout"} <= set(tf.getnames())

    removed = docker("rmi", "-f", image_id[7:19]).stdout.decode()
    assert "Untagged: busybox:cli" in removed and f"Deleted: {image_id}" in removed
    assert docker("images", "-q").stdout.strip() == b""

    loaded = docker("load", "-i", str(archive)).stdout.decode()
    assert "Loaded image: busybox:cli" in loaded and "Loaded image: example.com/me/app:1" in loaded
    assert docker("images", "-q", "--no-trunc").stdout.decode().split() == [image_id, image_id]

    assert docker("images", "-q", "--filter", "reference=busy*").stdout.decode().split() == [image_id[7:19]]
    assert docker("images", "-q", "--filter", "dangling=true").stdout.strip() == b""
    docker("rmi", "busybox:cli", "example.com/me/app:1")
    piped = docker("load", input=archive.read_bytes()).stdout.decode()  # docker load < file
    assert "Loaded image: busybox:cli" in piped

    missing = docker("rmi", "nothere", check=False)
    assert missing.returncode != 0 and b"No such image: nothere:latest" in missing.stderr
