"""System endpoints and the server's framework: ping, version negotiation,
error shapes, /version and /info, over a real daemon's unix socket."""

from __future__ import annotations

import json

import pytest

import barge

pytestmark = pytest.mark.daemon


def test_ping_get_headers(shared_daemon):
    status, headers, body = shared_daemon.request("GET", "/_ping")
    assert (status, body) == (200, b"OK")
    assert headers["Api-Version"] == barge.API_VERSION
    assert headers["Ostype"] == "linux"
    assert headers["Server"] == f"Barge/{barge.__version__} (linux)"
    assert headers["Docker-Experimental"] == "false"
    assert headers["Builder-Version"] == "1"
    assert headers["Swarm"] == "inactive"
    assert headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    assert headers["Pragma"] == "no-cache"
    assert headers["Content-Type"] == "text/plain; charset=utf-8"


def test_ping_head_has_headers_and_no_body(shared_daemon):
    status, headers, body = shared_daemon.request("HEAD", "/_ping")
    assert status == 200 and body == b""
    assert headers["Api-Version"] == barge.API_VERSION
    assert headers["Swarm"] == "inactive"
    assert headers["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize("path", ["/v1.24/_ping", f"/v{barge.API_VERSION}/_ping", "/_ping"])
def test_supported_versions_are_served(shared_daemon, path):
    status, _, body = shared_daemon.request("GET", path)
    assert (status, body) == (200, b"OK")


def test_too_old_version_is_refused(shared_daemon):
    status, headers, body = shared_daemon.request("GET", "/v1.12/version")
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "message": "client version 1.12 is too old. Minimum supported API version is 1.24, "
        "please upgrade your client to a newer version"
    }


def test_too_new_version_is_refused(shared_daemon):
    status, headers, body = shared_daemon.request("GET", "/v1.99/info")
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert headers["Api-Version"] == barge.API_VERSION  # error answers carry it too
    assert json.loads(body) == {"message": f"client version 1.99 is too new. Maximum supported API version is {barge.API_VERSION}"}


def test_unknown_route_is_json_404(shared_daemon):
    for path in ("/no/such/route", "/v1.40/no/such/route"):
        status, headers, body = shared_daemon.request("GET", path)
        assert status == 404
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body) == {"message": "page not found"}
        assert headers["Ostype"] == "linux"


def test_wrong_method_is_json_404_as_dockerd_answers(shared_daemon):
    """dockerd 20.10: ``GET /build/cancel`` (a POST route) is 404 ``page not found``, like any unknown route."""
    for method, path in (("DELETE", "/version"), ("GET", "/build/cancel")):
        status, headers, body = shared_daemon.request(method, path)
        assert status == 404
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body)["message"] == "page not found"


def test_version_shape(shared_daemon):
    v = shared_daemon.json("GET", "/v1.44/version")
    assert v["ApiVersion"] == barge.API_VERSION and v["MinAPIVersion"] == barge.MIN_API_VERSION
    assert v["Version"] == barge.__version__ and v["Os"] == "linux"
    assert v["GoVersion"].startswith("python3.")
    assert v["KernelVersion"] and v["Arch"]
    assert v["Platform"]["Name"].startswith("Barge Engine")
    [engine] = v["Components"]
    assert engine["Name"] == "Engine" and engine["Version"] == barge.__version__
    for key in ("ApiVersion", "MinAPIVersion", "GitCommit", "GoVersion", "Os", "Arch", "KernelVersion", "BuildTime"):
        assert key in engine["Details"], key


def test_version_content_type_is_exact(shared_daemon):
    status, headers, _ = shared_daemon.request("GET", "/version")
    assert status == 200 and headers["Content-Type"] == "application/json"


def test_info_shape(shared_daemon):
    info = shared_daemon.json("GET", "/info")
    assert info["Driver"] == shared_daemon.driver
    assert isinstance(info["DriverStatus"], list)
    assert all(isinstance(pair, list) and len(pair) == 2 for pair in info["DriverStatus"])
    assert info["DockerRootDir"] == str(shared_daemon.data_root)
    assert info["OSType"] == "linux" and info["CgroupDriver"] == "cgroupfs"
    assert info["CgroupVersion"] in {"1", "2"}
    assert info["Swarm"]["LocalNodeState"] == "inactive"
    assert info["NCPU"] >= 1 and info["MemTotal"] > 0
    assert info["ServerVersion"] == barge.__version__
    assert "docker.io" in info["RegistryConfig"]["IndexConfigs"]
    assert set(info["Plugins"]) >= {"Volume", "Network", "Authorization", "Log"}
    assert isinstance(info["Images"], int) and info["Containers"] == 0
    assert len(info["ID"]) >= 32


def test_info_cgroup_version_matches_mountinfo(shared_daemon):
    from barge.daemon.jobs.system import cgroup_version

    assert shared_daemon.json("GET", "/info")["CgroupVersion"] == cgroup_version()


def test_info_lists_every_driver(shared_daemon):
    reports = shared_daemon.json("GET", "/info")["BargeDrivers"]
    by_name = {(r["Kind"], r["Name"]): r for r in reports}
    selected = by_name[("graph", shared_daemon.driver)]
    assert selected["Status"] == "selected"
    assert ("graph", "fake") in by_name  # installed with core, never selected automatically
    for r in reports:
        assert set(r) == {"Kind", "Name", "Package", "Status", "Reason"}
        if r["Status"] in {"not supported", "error"}:
            assert r["Reason"], r


def test_engine_id_is_stable_across_restart(daemon):
    first = daemon.json("GET", "/info")["ID"]
    daemon.restart()
    assert daemon.json("GET", "/info")["ID"] == first


def test_cgroup_version_parsing():
    from barge.daemon.jobs.system import cgroup_version

    v2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n"
    hybrid = (
        "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    )
    assert cgroup_version(v2) == "2"
    assert cgroup_version(hybrid) == "1"
    assert cgroup_version("") == ""
