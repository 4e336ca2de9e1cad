"""The cgroup v1 ``release_agent`` escape, CVE-2022-0492.

A process that can mount a cgroup v1 hierarchy and write its root's
``release_agent`` makes the host's kernel run any program as root when the
cgroup empties. A default container has no CAP_SYS_ADMIN (no mount), no
``unshare`` of a user namespace (seccomp; the CVE's route to a mount
capability), and its ``/sys/fs/cgroup`` is its own cgroups, read-only, with
no ``release_agent`` in sight. ``--privileged`` is the control: it can,
which is what makes the rest matter. ``--cap-add SYS_ADMIN`` is compared
with the reference dockerd (which, without AppArmor, allows the mount too).
"""

from __future__ import annotations

import os

import pytest

from tests.security.helpers import PROBE, outcomes, ref_run_probe, run_once

#: A v1 controller this host has mounted (pids exists on every Docker-capable v1 host).
CONTROLLER = "pids"


@pytest.fixture(autouse=True)
def _v1_hierarchy():
    if not os.path.exists(f"/sys/fs/cgroup/{CONTROLLER}/release_agent"):
        pytest.skip(f"no cgroup v1 {CONTROLLER} hierarchy with a release_agent on this host")


def test_default_container_cannot_mount_a_cgroup_hierarchy(box, probe):
    """CVE-2022-0492, direct: mounting a cgroup v1 hierarchy fails with EPERM."""
    res = run_once(box, [PROBE, "cgroup-agent", "/cg", CONTROLLER], probe=probe)
    got = outcomes(res.out)
    assert got.get("mount") == "EPERM" and "write-release_agent" not in got, str(res)


def test_default_container_cannot_take_the_user_namespace_route(box, probe):
    """CVE-2022-0492 as published: ``unshare -UrmC`` then mount; unshare is refused (EPERM,
    Docker's seccomp profile), so is the mount, and release_agent is never written."""
    res = run_once(box, [PROBE, "cgroup-agent", "/cg", CONTROLLER, "userns"], probe=probe)
    got = outcomes(res.out)
    assert got.get("unshare") == "EPERM" and got.get("mount") == "EPERM", str(res)
    assert got.get("write-release_agent") != "ok", str(res)


def test_without_seccomp_the_kernel_still_refuses_release_agent(box, probe):
    """CVE-2022-0492 without the filter: the same route with ``seccomp=unconfined``: the new user
    namespace may mount the hierarchy, but rooted at the container's own cgroup (no release_agent
    there), and writing one needs CAP_SYS_ADMIN in the host's namespace anyway (the kernel's fix,
    5.17+)."""
    res = run_once(box, [PROBE, "cgroup-agent", "/cg", CONTROLLER, "userns"], probe=probe,
                   HostConfig={"SecurityOpt": ["seccomp=unconfined"]})
    assert outcomes(res.out).get("unshare") == "ok", str(res)  # the filter really is off
    assert outcomes(res.out).get("write-release_agent") != "ok", str(res)


def test_sys_fs_cgroup_is_the_containers_own_and_read_only(box):
    """CVE-2022-0492: /sys/fs/cgroup holds the container's own cgroups (no hierarchy root, so no
    release_agent), each mounted read-only: notify_on_release and cgroup.procs refuse writes."""
    script = (f"ls /sys/fs/cgroup/*/release_agent 2>/dev/null && echo AGENT; "
              f"echo 1 > /sys/fs/cgroup/{CONTROLLER}/notify_on_release && echo NOTIFY; "
              f"mkdir /sys/fs/cgroup/{CONTROLLER}/sub 2>/dev/null && echo MKDIR; "
              "awk '$5 ~ \"^/sys/fs/cgroup/\" {print $5, $6}' /proc/self/mountinfo")
    res = run_once(box, ["sh", "-c", script])
    assert "AGENT" not in res.out and "NOTIFY" not in res.out and "MKDIR" not in res.out, str(res)
    mounts = [line.split() for line in res.out.splitlines() if line.startswith("/sys/fs/cgroup/")]
    assert mounts and all(opts.split(",")[0] == "ro" for _, opts in mounts), str(res)
    assert "Read-only file system" in res.err, str(res)


def test_privileged_control_can_write_release_agent(box, probe):
    """CVE-2022-0492, the control: a ``--privileged`` container mounts the hierarchy and may write its
    release_agent (the probe writes back the value the host has), so the refusals above are
    what protects the host."""
    res = run_once(box, [PROBE, "cgroup-agent", "/cg", CONTROLLER], probe=probe, HostConfig={"Privileged": True})
    got = outcomes(res.out)
    assert got.get("mount") == "ok" and got.get("write-release_agent") == "ok", str(res)


def test_cap_sys_admin_is_no_wider_than_dockerd(box, probe, reference):
    """CVE-2022-0492 with ``--cap-add SYS_ADMIN``: barge allows the mount and the write only where
    the reference dockerd 20.10 (seccomp, no AppArmor on this kernel) allows them."""
    ours = outcomes(run_once(box, [PROBE, "cgroup-agent", "/cg", CONTROLLER], probe=probe,
                             HostConfig={"CapAdd": ["SYS_ADMIN"]}).out)
    theirs = outcomes(ref_run_probe(reference, probe, ["cgroup-agent", "/cg", CONTROLLER], "--cap-add", "SYS_ADMIN"))
    for step in ("mount", "write-release_agent"):
        if ours.get(step) == "ok":
            assert theirs.get(step) == "ok", (step, ours, theirs)
