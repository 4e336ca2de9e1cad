"""Swarm endpoints on a host that is not in a swarm, as dockerd 20.10 answers them (texts seen side by side
with Debian's dockerd): clients that probe or tidy up swarm state get dockerd's 503s."""

from __future__ import annotations

import json

import pytest

from tests.integration.swarm_expectations import MANAGER_ROUTES, NOT_A_MANAGER


@pytest.mark.parametrize("method,path", MANAGER_ROUTES)
def test_manager_objects_are_503(shared_daemon, method, path):
    status, headers, body = shared_daemon.request(method, "/v1.41" + path, {} if method == "POST" else None)
    assert (status, json.loads(body)["message"]) == (503, NOT_A_MANAGER)
    assert headers["Content-Type"] == "application/json"


def test_leave_init_join_logs_and_info(shared_daemon):
    for query in ("", "?force=1"):
        status, _, body = shared_daemon.request("POST", f"/v1.41/swarm/leave{query}")
        assert (status, json.loads(body)["message"]) == (503, "This node is not part of a swarm")
    for path in ("/swarm/init", "/swarm/join"):
        status, _, body = shared_daemon.request("POST", "/v1.41" + path, {})
        assert (status, json.loads(body)["message"]) == (400, 'invalid ListenAddr "": invalid empty address')
        status, _, body = shared_daemon.request("POST", "/v1.41" + path, {"ListenAddr": "0.0.0.0:2377"})
        assert status == 503 and "single host" in json.loads(body)["message"]
    for path in ("/services/x/logs", "/tasks/x/logs"):
        status, _, body = shared_daemon.request("GET", "/v1.41" + path)
        assert (status, json.loads(body)["message"]) == (400, "Bad parameters: you must choose at least one stream")
        status, _, body = shared_daemon.request("GET", "/v1.41" + path + "?stdout=1")
        assert (status, json.loads(body)["message"]) == (503, NOT_A_MANAGER)
    swarm = shared_daemon.json("GET", "/v1.41/info")["Swarm"]
    assert swarm == {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                     "Error": "", "RemoteManagers": None}


def test_the_sdk_leaves_no_swarm_quietly(shared_daemon):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=f"unix://{shared_daemon.socket}")
    try:
        assert client.api.leave_swarm(force=True) is True  # the SDK treats dockerd's 503 as "nothing to do"
        assert client.info()["Swarm"]["LocalNodeState"] == "inactive"
        with pytest.raises(docker.errors.APIError) as err:
            client.services.list()
        assert err.value.status_code == 503
    finally:
        client.close()
