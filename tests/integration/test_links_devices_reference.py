"""The refusals of ``Links``, ``VolumesFrom``, ``Devices``, ``DeviceCgroupRules`` and
``DeviceRequests`` sent to barge and to the reference dockerd 20.10 (a private one, no bridge:
every container here is ``--network none``): the same words. Where dockerd answers at start
with a 500, barge answers the same text with a 400, at create for what needs no host lookup
(a rule's format, a permission word, ``--gpus``) — the accepted differences, listed here once.
"""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from tests.integration.helpers import rm
from tests.reference_dockerd import reference_dockerd

pytestmark = pytest.mark.daemon


class _Unix(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def _call(sock: str, method: str, path: str, body=None) -> tuple[int, dict]:
    conn = _Unix(sock)
    try:
        conn.request(method, path, json.dumps(body) if body is not None else None,
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if data else {}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def ref():
    with reference_dockerd() as r:
        yield r


def _create_then_start(call, host: dict) -> tuple[str, int, str]:
    """("create" or "start", status, message) of the first refusal; ("ok", 204, "") when none."""
    status, answer = call("POST", "/v1.41/containers/create",
                          {"Image": "busybox", "Cmd": ["true"], "HostConfig": dict(host, NetworkMode="none")})
    if status != 201:
        return "create", status, answer.get("message", "")
    cid = answer["Id"]
    try:
        status, answer = call("POST", f"/v1.41/containers/{cid}/start")
        return ("ok", status, "") if status == 204 else ("start", status, answer.get("message", ""))
    finally:
        call("DELETE", f"/v1.41/containers/{cid}?force=1&v=1")


CASES = {
    "link to nothing": {"Links": ["nosuch:alias"]},
    "volumes from nothing": {"VolumesFrom": ["nosuch"]},
    "volumes-from propagation": {"VolumesFrom": ["x:shared"]},
    "volumes-from copy mode": {"VolumesFrom": ["x:nocopy"]},
    "volumes-from empty": {"VolumesFrom": [""]},
    "device: a regular file": {"Devices": [{"PathOnHost": "/etc/hostname", "PathInContainer": "/dev/x",
                                            "CgroupPermissions": "rwm"}]},
    "device: missing": {"Devices": [{"PathOnHost": "/nonexistent-dev", "PathInContainer": "/dev/x",
                                     "CgroupPermissions": "rwm"}]},
    "device cgroup rule": {"DeviceCgroupRules": ["x 1:3 rwm"]},
    "gpus": {"DeviceRequests": [{"Count": -1, "Capabilities": [["gpu"]]}]},
}
#: dockerd's 500s at start that barge answers with a 400 (and where: create or start).
ACCEPTED = {
    "device: a regular file": ("start", 400),
    "device: missing": ("start", 400),
    "device cgroup rule": ("create", 400),
    "gpus": ("create", 400),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_words_as_dockerd(box, ref, case):
    sock = str(ref.root / "docker.sock")
    theirs = _create_then_start(lambda *a: _call(sock, *a), CASES[case])
    ours = _create_then_start(lambda m, p, b=None: _json(box, m, p, b), CASES[case])
    assert ours[2] == theirs[2], (case, ours, theirs)
    if case in ACCEPTED:
        assert theirs[1] == 500 and ours[:2] == ACCEPTED[case], (case, ours, theirs)
    else:
        assert ours[:2] == theirs[:2] == ("create", 400), (case, ours, theirs)


def test_link_name_conflicts_with_host_and_container_networks(box, ref):
    sock = str(ref.root / "docker.sock")
    for mode in ("host", "container:nosuch"):
        body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": mode, "Links": ["x"]}}
        theirs = _call(sock, "POST", "/v1.41/containers/create", body)
        ours = _json(box, "POST", "/v1.41/containers/create", body)
        assert ours == theirs and theirs[0] == 400, (mode, ours, theirs)
        if ours[0] == 201:
            rm(box, ours[1]["Id"])


def _json(box, method: str, path: str, body=None) -> tuple[int, dict]:
    status, _, data = box.request(method, path, body)
    return status, json.loads(data) if data else {}
