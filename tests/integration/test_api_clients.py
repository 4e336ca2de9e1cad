"""The real docker CLI and docker-py talk to the daemon's system endpoints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

import barge

pytestmark = pytest.mark.daemon

DOCKER = shutil.which("docker")


def docker(d, tmp_path, *args: str) -> subprocess.CompletedProcess:
    if DOCKER is None:
        pytest.skip("the docker CLI is not installed (/usr/local/bin/docker)")
    env = dict(os.environ, DOCKER_HOST=d.url, DOCKER_CONFIG=str(tmp_path / "docker-config"))
    env.pop("DOCKER_API_VERSION", None)
    env.pop("DOCKER_CONTEXT", None)
    return subprocess.run([DOCKER, *args], env=env, capture_output=True, text=True, timeout=60)


def test_docker_version(shared_daemon, tmp_path):
    proc = docker(shared_daemon, tmp_path, "version")
    assert proc.returncode == 0, proc.stderr
    assert f"Server: Barge Engine {barge.__version__}" in proc.stdout
    assert f"API version:      {barge.API_VERSION} (minimum version {barge.MIN_API_VERSION})" in proc.stdout
    data = json.loads(docker(shared_daemon, tmp_path, "version", "--format", "{{json .Server}}").stdout)
    assert data["ApiVersion"] == barge.API_VERSION and data["Os"] == "linux"


def test_docker_info(shared_daemon, tmp_path):
    proc = docker(shared_daemon, tmp_path, "info")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"Storage Driver: {shared_daemon.driver}" in out
    assert f"Docker Root Dir: {shared_daemon.data_root}" in out
    assert "Cgroup Driver: cgroupfs" in out and "Swarm: inactive" in out
    assert f"Server Version: {barge.__version__}" in out
    assert "ERROR" not in out and "error" not in proc.stderr.lower()
    as_json = json.loads(docker(shared_daemon, tmp_path, "info", "--format", "{{json .}}").stdout)
    assert as_json["Driver"] == shared_daemon.driver and not as_json.get("ServerErrors")


def test_docker_cli_negotiates_down_to_our_version(shared_daemon, tmp_path):
    proc = docker(shared_daemon, tmp_path, "version", "--format", "{{.Client.APIVersion}}")
    assert proc.stdout.strip() == barge.API_VERSION


def test_docker_py(shared_daemon):
    docker_sdk = pytest.importorskip("docker", reason="the docker SDK for Python is not installed")
    client = docker_sdk.DockerClient(base_url=shared_daemon.url, version="auto", timeout=30)
    try:
        assert client.ping() is True
        assert client.api.api_version == barge.API_VERSION
        v = client.version()
        assert v["ApiVersion"] == barge.API_VERSION and v["Components"][0]["Name"] == "Engine"
        info = client.info()
        assert info["Driver"] == shared_daemon.driver and info["OSType"] == "linux"
    finally:
        client.close()


def test_docker_py_sees_api_errors(shared_daemon):
    docker_sdk = pytest.importorskip("docker", reason="the docker SDK for Python is not installed")
    client = docker_sdk.APIClient(base_url=shared_daemon.url, version="1.99", timeout=30)
    try:
        with pytest.raises(docker_sdk.errors.APIError) as info:
            client.version(api_version=True)
        assert info.value.status_code == 400
        assert info.value.explanation == f"client version 1.99 is too new. Maximum supported API version is {barge.API_VERSION}"
    finally:
        client.close()
