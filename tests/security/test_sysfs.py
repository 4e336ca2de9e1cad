"""The host's sysfs sub-mounts (no CVE number; issue 9, item 2).

Every container gets a fresh sysfs, as runc mounts one (read-only unless
privileged): binding the host's ``/sys`` recursively would hand it debugfs,
tracefs, bpffs, securityfs... read-write. With a network namespace of its own
(bridge, a user network, ``container:<id>``) the sysfs shows its own
devices; with ``--network host`` the host's, read-only throughout (dockerd
20.10 behaves the same here). The test owns a tmpfs it mounts on an empty
host directory under ``/sys`` with a secret file in it.
"""

from __future__ import annotations

import ctypes
import os
import uuid
from pathlib import Path

import pytest

from tests.conftest import network_tag
from tests.integration.helpers import rm
from tests.security.helpers import PROBE, outcomes, run_detached, run_once

_libc = ctypes.CDLL(None, use_errno=True)
#: Empty directories of sysfs where a host mounts something (debugfs, bpffs).
CANDIDATES = ("/sys/kernel/debug", "/sys/fs/bpf")


def _mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == path for line in fh)


@pytest.fixture
def host_secret():
    """``(path of a secret file, name)`` on a tmpfs this test mounts under the host's /sys."""
    where = next((p for p in CANDIDATES if os.path.isdir(p) and not _mounted(p)), None)
    if where is None:
        pytest.skip(f"no free mount point under /sys (all of {CANDIDATES} are in use or absent)")
    if _libc.mount(b"tmpfs", where.encode(), b"tmpfs", 0, b"size=64k,mode=755") != 0:
        pytest.skip(f"cannot mount a tmpfs on {where}: {os.strerror(ctypes.get_errno())}")
    name = f"barge-secret-{uuid.uuid4().hex[:8]}"
    try:
        Path(where, name).write_text("host-only\n")
        yield where, name
    finally:
        _libc.umount2(where.encode(), 2)  # MNT_DETACH


PEEK = 'cat {dir}/{name} 2>/dev/null && echo SEEN; echo pwned > {dir}/from-container 2>/dev/null && echo WROTE; true'


def _peek(d, where: str, name: str, **body) -> str:
    res = run_once(d, ["sh", "-c", PEEK.format(dir=where, name=name)], **body)
    assert res.code == 0, str(res)
    return res.out


@pytest.fixture
def user_network(box):
    status, _, body = box.request("POST", "/networks/create", {"Name": f"sysfs-{uuid.uuid4().hex[:6]}"})
    assert status == 201, body
    net = __import__("json").loads(body)["Id"]
    yield net
    box.request("DELETE", f"/networks/{net}")


@pytest.mark.parametrize("mode", ["bridge", "user-network", "container", "host"])
def test_host_sysfs_submounts_are_out_of_reach(box, host_secret, user_network, mode):
    """Host sysfs sub-mounts: a file on a tmpfs mounted under the host's /sys is neither
    readable nor writable from a container with its own network namespace (bridge, user
    network, ``container:``) nor with the host's (a fresh read-only sysfs, as dockerd gives);
    the control: a recursive bind of the host's /sys shows it, read-write."""
    where, name = host_secret
    sleeper = None
    if mode == "user-network":
        host = {"NetworkMode": user_network}
    elif mode == "container":
        sleeper = run_detached(box, ["sleep", "600"])
        host = {"NetworkMode": f"container:{sleeper}"}
    else:
        host = {"NetworkMode": mode}
    try:
        out = _peek(box, where, name, HostConfig=host)
    finally:
        if sleeper:
            rm(box, sleeper)
    assert "SEEN" not in out and "WROTE" not in out, out
    assert not Path(where, "from-container").exists()
    control = _peek(box, "/hostsys" + where[len("/sys"):], name, HostConfig={"Binds": ["/sys:/hostsys"]})
    assert "SEEN" in control and "WROTE" in control, control  # what a bind of the host's /sys would leak
    os.unlink(Path(where, "from-container"))


@pytest.mark.parametrize("mode", ["bridge", "host"])
def test_sysfs_is_read_only(box, probe, mode):
    """Host sysfs: a default container's /sys refuses writes (EROFS), the host network's included:
    /sys/kernel/uevent_helper is the classic escape (the kernel runs it as root on the host)."""
    target = "/sys/kernel/uevent_helper" if os.path.exists("/sys/kernel/uevent_helper") else "/sys/kernel/profiling"
    if not os.path.exists(target):
        pytest.skip("this kernel has neither /sys/kernel/uevent_helper nor /sys/kernel/profiling")
    res = run_once(box, [PROBE, "open", target, "w"], probe=probe, HostConfig={"NetworkMode": mode})
    assert outcomes(res.out).get("open") == "EROFS", str(res)


def test_sys_class_net_lists_the_containers_interfaces_only(box):
    """Host sysfs: a bridge container's /sys/class/net is its own namespace's (lo, eth0), not the host's
    (the test daemon's bridge ``bt<tag>`` would show through a bind of the host's /sys)."""
    bridge = f"bt{network_tag(box.root)}"
    assert os.path.exists(f"/sys/class/net/{bridge}")
    res = run_once(box, ["ls", "/sys/class/net"])
    assert sorted(res.out.split()) == ["eth0", "lo"], str(res)
