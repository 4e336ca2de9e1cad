"""The daemon's ``[registry]`` settings with real registries on loopback.

A mirror is only ever asked for ``docker.io`` images, so the mirror here
holds the image first: the pull is answered by the mirror and nothing goes
to Docker Hub. A registry named in ``insecure_registries`` is reached over
plain HTTP, as Docker does.
"""

from __future__ import annotations

import pytest

from barge.registry.server.testing import start_registry, stop_registry
from tests.registry_peers import api_pull, busybox_tar, http_upload, make_image

pytestmark = pytest.mark.daemon


@pytest.fixture
def mirror(tmp_path):
    (tmp_path / "mirror").mkdir()
    url, proc = start_registry(tmp_path / "mirror")
    yield url
    stop_registry(proc)


def test_docker_io_pulls_go_to_the_mirror(daemon_factory, mirror, tmp_path):
    img = make_image([busybox_tar()], note="mirrored")
    digest = http_upload(mirror, "library/mirrored", img, "1")
    d = daemon_factory(extra_args=["--registry-mirror", mirror, "--max-concurrent-downloads", "1"])
    status, msgs, error = api_pull(d, "docker.io/library/mirrored", "1")
    assert status == 200 and error == "", (status, error)
    assert {"status": f"Digest: {digest}"} in msgs
    doc = d.json("GET", "/images/mirrored:1/json")
    assert doc["Id"] == img.id
    info = d.json("GET", "/info")
    assert info["RegistryConfig"]["IndexConfigs"]["docker.io"]["Mirrors"] == [mirror]


def test_insecure_registries_in_daemon_toml(daemon_factory, tmp_path):
    """A plain-HTTP registry off loopback (on the test daemon's own bridge address, so the traffic
    stays on this machine) is refused until ``insecure_registries`` names it."""
    strict = daemon_factory()
    gateway = strict.json("GET", "/networks/bridge")["IPAM"]["Config"][0]["Gateway"]
    (tmp_path / "reg").mkdir()
    url, proc = start_registry(tmp_path / "reg", extra_args=["--addr", f"{gateway}:0"])
    try:
        host = url.split("://", 1)[1]
        img = make_image([busybox_tar()], note="insecure")
        http_upload(url, "team/app", img, "v1")
        status, _, error = api_pull(strict, f"{host}/team/app", "v1")
        assert status >= 400 and "https" in error.lower(), (status, error)
        assert strict.json("GET", "/images/json") == []
        root = daemon_factory.new_root()
        (root / "daemon.toml").write_text(
            f'[registry]\ninsecure_registries = ["{host}"]\nmax_concurrent_downloads = 2\n')
        d = daemon_factory(root=root)
        status, msgs, error = api_pull(d, f"{host}/team/app", "v1")
        assert status == 200 and error == "", (status, error)
        assert d.json("GET", f"/images/{host}/team/app:v1/json")["Id"] == img.id
        assert d.json("GET", "/info")["RegistryConfig"]["IndexConfigs"][host]["Secure"] is False
    finally:
        stop_registry(proc)


def test_bad_registry_settings_stop_the_daemon(daemon_factory):
    root = daemon_factory.new_root()
    (root / "daemon.toml").write_text("[registry]\nmax_concurrent_downloads = 0\n")
    d = daemon_factory(root=root, wait=False)
    assert d.wait_exit() != 0
    assert "max_concurrent_downloads must be a positive int" in d.stderr_text()
