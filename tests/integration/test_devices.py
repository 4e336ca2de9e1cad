"""``Devices`` (``--device``) and ``DeviceCgroupRules`` (``--device-cgroup-rule``) through the API
with real containers: the node made with the host's numbers, mode and owner, the cgroup rule with
the permissions asked, a directory of devices, a symlinked host path followed as dockerd does,
privileged containers, and the refusals with dockerd 20.10's words (compared with the reference
dockerd: it answers these at start with 500, barge with 400, the format ones at create).

The loop devices are the host's (``/dev/loop0``): opening a block device needs nothing but the
device cgroup, so they show the rule at work; /dev/null shows the node.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile

import pytest

from tests.integration import helpers
from tests.integration.helpers import create, rm

pytestmark = pytest.mark.daemon

LOOP = "/dev/loop0"


def output(box, cmd: list[str], **host) -> str:
    """:func:`helpers.output` with ``host`` as the HostConfig, no network."""
    return helpers.output(box, cmd, HostConfig=dict(host, NetworkMode="none"))


def device(on_host: str, in_container: str = "", permissions: str = "rwm") -> dict:
    return {"PathOnHost": on_host, "PathInContainer": in_container or on_host, "CgroupPermissions": permissions}


@pytest.fixture(scope="module")
def loop() -> os.stat_result:
    try:
        st = os.stat(LOOP)
    except FileNotFoundError:
        pytest.skip(f"no {LOOP} on this machine")
    if not stat.S_ISBLK(st.st_mode):
        pytest.skip(f"{LOOP} is no block device")
    return st


def test_the_node_has_the_host_s_numbers_mode_and_owner(box):
    out = output(box, ["sh", "-c", "stat -c '%t:%T %a %u:%g %F' /dev/mynull; echo x > /dev/mynull && echo wrote"],
                 Devices=[device("/dev/null", "/dev/mynull")])
    assert out == "1:3 666 0:0 character special file\nwrote\n", out


def test_the_rule_lets_the_device_open_with_the_permissions_asked(box, loop):
    numbers = f"{os.major(loop.st_rdev):x}:{os.minor(loop.st_rdev):x}"
    out = output(box, ["sh", "-c", "stat -c '%t:%T %a' /dev/myloop; head -c 1 /dev/myloop >/dev/null && echo read; "
                                   "head -c 0 /dev/zero > /dev/myloop && echo wrote"],
                 Devices=[device(LOOP, "/dev/myloop", "r")])
    lines = out.splitlines()
    assert lines[0] == f"{numbers} {stat.S_IMODE(loop.st_mode):o}" and "read" in lines, out
    assert "wrote" not in lines and "Operation not permitted" in out, out


def test_without_a_rule_the_same_node_cannot_be_opened_and_with_one_it_can(box, loop):
    major, minor = os.major(loop.st_rdev), os.minor(loop.st_rdev)
    script = f"mknod /tmp/d b {major} {minor} && head -c 1 /tmp/d >/dev/null && echo opened"
    assert "Operation not permitted" in output(box, ["sh", "-c", script])
    assert "opened" in output(box, ["sh", "-c", script], DeviceCgroupRules=[f"b {major}:{minor} r"])
    assert "opened" in output(box, ["sh", "-c", script], DeviceCgroupRules=[f"b {major}:* rwm"])


def test_a_directory_gives_every_node_below_it_and_a_symlink_is_followed(box):
    with tempfile.TemporaryDirectory(prefix="barge-dev-") as tmp:
        os.symlink("/dev/null", os.path.join(tmp, "link-to-null"))
        out = output(box, ["sh", "-c", "ls /dev/mynet; stat -c '%t:%T' /dev/sym"],
                     Devices=[device("/dev/net", "/dev/mynet"), device(os.path.join(tmp, "link-to-null"), "/dev/sym")])
    assert out.split() == sorted(os.listdir("/dev/net")) + ["1:3"], out


def test_privileged_containers_get_the_node_too(box):
    out = output(box, ["stat", "-c", "%t:%T", "/dev/priv-null"], Privileged=True,
                 Devices=[device("/dev/null", "/dev/priv-null")])
    assert out == "1:3\n"


def test_refusals_with_dockerd_s_words(box, tmp_path):
    regular = tmp_path / "regular"
    regular.write_text("")
    link = tmp_path / "link"
    link.symlink_to(regular)
    for on_host, why in ((str(regular), "not a device node"), (str(link), "not a device node"),
                         ("/nonexistent-dev", "no such file or directory")):
        cid = create(box, Cmd=["true"], HostConfig={"Devices": [device(on_host, "/dev/x")]})
        try:
            status, _, data = box.request("POST", f"/containers/{cid}/start")
            assert status == 400, data
            assert json.loads(data)["message"] == \
                f'error gathering device information while adding custom device "{on_host}": {why}'
        finally:
            rm(box, cid)
    assert create(box, expect=400, Cmd=["true"], HostConfig={"DeviceCgroupRules": ["x 1:3 rwm"]}) == \
        "invalid device cgroup rule format: 'x 1:3 rwm'"
    assert create(box, expect=400, Cmd=["true"], HostConfig={"DeviceCgroupRules": ["c 1:3"]}) == \
        "invalid device cgroup rule format: 'c 1:3'"
    assert create(box, expect=400, Cmd=["true"], HostConfig={"Devices": [device("/dev/null", "/dev/n", "")]}) == \
        "invalid device mode:  (for device /dev/null): use r, w and m"
    assert create(box, expect=400, Cmd=["true"], HostConfig={"DeviceRequests": [
        {"Count": -1, "Capabilities": [["gpu"]]}]}) == 'could not select device driver "" with capabilities: [[gpu]]'
