"""``docker volume create --opt`` (the local driver's type/device/o) through the docker CLI."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_busybox, require_exec_driver


@pytest.fixture
def docker(docker_cli, daemon):
    require_exec_driver()
    make_busybox(daemon)
    return docker_cli


def test_tmpfs_volume_with_size_and_uid(docker, daemon):
    docker("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=2m,uid=1000", "cv")
    try:
        info = json.loads(docker.out("volume", "inspect", "cv"))[0]
        assert info["Options"] == {"device": "tmpfs", "o": "size=2m,uid=1000", "type": "tmpfs"}
        out = docker.out("run", "--rm", "-v", "cv:/d", "busybox", "sh", "-c", "df -k /d | tail -1; stat -c %u /d")
        assert out.split()[1] == "2048" and out.endswith("\n1000")
        bad = docker("volume", "create", "--opt", "foo=1", "cv2", check=False)
        assert bad.returncode == 1 and b'create cv2: invalid option: "foo"' in bad.stderr
    finally:
        docker("volume", "rm", "cv")
