"""Seccomp, ``--security-opt`` and refused mount destinations, through the API on real containers.

Busybox's own applets are the probes: ``unshare -U`` needs ``unshare(2)``,
which Docker's default profile allows only with CAP_SYS_ADMIN, so it fails
with EPERM in a default container and works (as root in a new user
namespace) once the filter is off; ``mkdir`` shows a custom profile.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.helpers import busybox_daemon, create, inspect, rm, run
from tests.security.helpers import exec_run, run_once

UNSHARE = ["unshare", "-U", "-r", "sh", "-c", "echo inside; grep CapEff /proc/self/status"]
NO_MKDIR = {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}


def seccomp_mode(box, **body) -> str:
    r = run_once(box, ["grep", "^Seccomp:", "/proc/self/status"], **body)
    assert r.code == 0, r
    return r.out.split()[1]


def test_a_default_container_runs_under_dockers_profile(box):
    assert seccomp_mode(box) == "2"
    r = run_once(box, UNSHARE)
    assert r.code != 0 and "Operation not permitted" in r.err, r
    info = box.json("GET", "/info")
    assert "name=seccomp,profile=builtin" in info["SecurityOptions"]


def test_unconfined_lifts_the_filter(box):
    opts = {"HostConfig": {"SecurityOpt": ["seccomp=unconfined"]}}
    assert seccomp_mode(box, **opts) == "0"
    r = run_once(box, UNSHARE, **opts)
    assert r.code == 0 and "inside" in r.out, r


def test_privileged_is_unconfined_unless_it_names_a_profile(box):
    assert seccomp_mode(box, HostConfig={"Privileged": True}) == "0"
    r = run_once(box, ["mkdir", "/made"], HostConfig={"Privileged": True,
                                                       "SecurityOpt": ["seccomp=" + json.dumps(NO_MKDIR)]})
    assert r.code != 0 and "Permission denied" in r.err, r


def test_a_custom_profile_denying_mkdir(box):
    profile = "seccomp=" + json.dumps(NO_MKDIR)
    r = run_once(box, ["sh", "-c", "mkdir /made; echo status=$?; touch /file && echo touched"],
                 HostConfig={"SecurityOpt": [profile]})
    assert "Permission denied" in r.err and "status=1" in r.out and "touched" in r.out, r
    cid = create(box, Cmd=["true"], HostConfig={"SecurityOpt": [profile]})
    try:
        assert inspect(box, cid)["HostConfig"]["SecurityOpt"] == [profile]
    finally:
        rm(box, cid)


def test_capabilities_decide_the_rules(box):
    """``includes caps``: with CAP_SYS_ADMIN, unshare and mount are allowed again (as Docker)."""
    r = run_once(box, UNSHARE, HostConfig={"CapAdd": ["SYS_ADMIN"]})
    assert r.code == 0 and "inside" in r.out, r


def test_exec_processes_get_the_containers_filter(box):
    cid = run(box, ["sleep", "60"])
    try:
        assert exec_run(box, cid, ["grep", "^Seccomp:", "/proc/self/status"]).out.split()[1] == "2"
        r = exec_run(box, cid, ["unshare", "-U", "true"])
        assert r.code != 0 and "Operation not permitted" in r.err, r
        # --privileged gives the exec every capability but not another filter (runc's exec)
        r = exec_run(box, cid, ["unshare", "-U", "true"], Privileged=True)
        assert r.code != 0 and "Operation not permitted" in r.err, r
    finally:
        rm(box, cid)
    cid = run(box, ["sleep", "60"], HostConfig={"SecurityOpt": ["seccomp=unconfined"]})
    try:
        assert exec_run(box, cid, ["grep", "^Seccomp:", "/proc/self/status"]).out.split()[1] == "0"
    finally:
        rm(box, cid)


def test_no_new_privileges(box):
    for opt, want in (("no-new-privileges", "1"), ("no-new-privileges=true", "1"), ("no-new-privileges=false", "0")):
        r = run_once(box, ["grep", "^NoNewPrivs:", "/proc/self/status"], HostConfig={"SecurityOpt": [opt]})
        assert r.out.split()[1] == want, (opt, r)
    # with no_new_privs the filter still goes on (last, after the capabilities are gone)
    assert seccomp_mode(box, HostConfig={"SecurityOpt": ["no-new-privileges"]}) == "2"


@pytest.mark.parametrize("opt, message", [
    ("totally-bogus=1", 'invalid --security-opt 2: "totally-bogus=1"'),
    ("nonsense", 'invalid --security-opt 1: "nonsense"'),
    ("no-new-privileges=maybe", 'invalid --security-opt 2: "no-new-privileges=maybe"'),
    ("seccomp=/etc/profile.json", "Decoding seccomp profile failed"),
    ("seccomp={\"defaultAction\": \"SCMP_ACT_NOTIFY\"}", "SCMP_ACT_NOTIFY"),
    ("seccomp={\"syscalls\": [{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": "
     "[{\"index\": 9, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}", "syscalls[0].args[0].index"),
])
def test_refused_security_options(box, opt, message):
    assert message in create(box, expect=400, Cmd=["true"], HostConfig={"SecurityOpt": [opt]})


@pytest.mark.parametrize("opt", ["apparmor=docker-default", "label=disable", "label:user:USER", "seccomp=builtin"])
def test_security_options_dockerd_accepts_here(box, opt):
    """No AppArmor and no SELinux on this kernel: dockerd takes these and has nothing to apply."""
    r = run_once(box, ["true"], HostConfig={"SecurityOpt": [opt]})
    assert r.code == 0, r


@pytest.mark.parametrize("host, message", [
    ({"Binds": ["/tmp:/"]}, "destination can't be '/'"),
    ({"Binds": ["/tmp:/proc"]}, '"/tmp" cannot be mounted because it is not of type proc'),
    ({"Binds": ["/tmp:/proc/sys"]}, '"/proc/sys" cannot be mounted because it is inside /proc'),
    ({"Mounts": [{"Type": "tmpfs", "Target": "/proc/self"}]}, "cannot be mounted because it is inside /proc"),
    ({"Mounts": [{"Type": "bind", "Source": "/tmp", "Target": "/"}]}, "destination can't be '/'"),
    ({"Tmpfs": {"/proc": ""}}, "cannot be mounted because it is not of type proc"),
    ({"Binds": ["vol:/proc/kcore"]}, "cannot be mounted because it is inside /proc"),
])
def test_refused_mount_destinations(box, host, message):
    assert message in create(box, expect=400, Cmd=["true"], HostConfig=host)


def test_lxcfs_files_may_cover_their_proc_twin(box, tmp_path):
    fake = tmp_path / "uptime"
    fake.write_text("12345.67 0.00\n")
    r = run_once(box, ["cat", "/proc/uptime"], HostConfig={"Binds": [f"{fake}:/proc/uptime:ro"]})
    assert r.out.startswith("12345.67"), r


def test_a_symlink_in_the_image_cannot_lead_a_mount_onto_proc(box, tmp_path):
    """runc checks the destination where it resolves: an image's ``/mnt/p -> /proc``
    must not carry a bind over the container's procfs (and its masks)."""
    cid = run(box, ["sh", "-c", "ln -s /proc /p && ln -s /proc/sys /q"])
    try:
        assert box.request("POST", f"/containers/{cid}/wait")[0] == 200
        status, _, body = box.request("POST", f"/commit?container={cid}&repo=linkedproc&tag=latest")
        assert status == 201, body
    finally:
        rm(box, cid)
    for dest, message in (("/p", "cannot be mounted because it is not of type proc"),
                          ("/q", "cannot be mounted because it is inside /proc")):
        cid = create(box, Image="linkedproc", Cmd=["true"], HostConfig={"Binds": [f"{tmp_path}:{dest}"]})
        try:
            status, _, body = box.request("POST", f"/containers/{cid}/start")
            assert status >= 400 and message.encode() in body, body
        finally:
            rm(box, cid)


def test_net_sysctls_for_a_bridge_container(box):
    r = run_once(box, ["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"],
                 HostConfig={"Sysctls": {"net.ipv4.ip_unprivileged_port_start": "99"}})
    assert r.code == 0 and r.out.strip() == "99", r
    for host, message in (({"NetworkMode": "host", "Sysctls": {"net.ipv4.ip_forward": "1"}},
                           "not allowed in host net namespace"),
                          ({"Sysctls": {"kernel.panic": "1"}}, "it is not namespaced"),
                          ({"IpcMode": "host", "Sysctls": {"kernel.shmmax": "1"}}, "not allowed in host ipc")):
        assert message in create(box, expect=400, Cmd=["true"], HostConfig=host)


# ---------------------------------------------------------------------------
# the daemon's profile, and the barge CLI
# ---------------------------------------------------------------------------


@pytest.fixture()
def daemon_with_profile(request, tmp_path):
    """A daemon whose ``seccomp_profile`` is the test's parameter (``file``: a profile denying mkdir)."""
    setting = request.param
    if setting == "file":
        setting = str(tmp_path / "profile.json")
        Path(setting).write_text(json.dumps(NO_MKDIR))
    with busybox_daemon("barge-secp-", config=f'seccomp_profile = "{setting}"\n') as d:
        yield d


@pytest.mark.parametrize("daemon_with_profile", ["unconfined"], indirect=True)
def test_daemon_wide_unconfined(daemon_with_profile):
    d = daemon_with_profile
    assert seccomp_mode(d) == "0"
    assert not any("seccomp" in o for o in d.json("GET", "/info")["SecurityOptions"])
    assert seccomp_mode(d, HostConfig={"SecurityOpt": ["seccomp=builtin"]}) == "2"


@pytest.mark.parametrize("daemon_with_profile", ["file"], indirect=True)
def test_daemon_wide_custom_profile(daemon_with_profile):
    d = daemon_with_profile
    r = run_once(d, ["mkdir", "/made"])
    assert r.code != 0 and "Permission denied" in r.err, r
    assert "name=seccomp,profile=custom" in d.json("GET", "/info")["SecurityOptions"]


def test_a_daemon_with_a_bad_profile_refuses_to_start(tmp_path):
    (tmp_path / "bad.json").write_text('{"defaultAction": "SCMP_ACT_SOMETIMES"}')
    (tmp_path / "daemon.toml").write_text(f'seccomp_profile = "{tmp_path / "bad.json"}"\n')
    proc = subprocess.run([sys.executable, "-m", "barge.daemon.main", "--config-file", str(tmp_path / "daemon.toml"),
                           "--data-root", str(tmp_path / "data"), "--exec-root", str(tmp_path / "exec"),
                           "-H", f"unix://{tmp_path}/s.sock"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "Decoding seccomp profile failed: defaultAction: unknown action 'SCMP_ACT_SOMETIMES'" in proc.stderr


def test_barge_cli_sends_the_profile_file(box, tmp_path):
    """As the docker CLI: the file is read by the client and its JSON sent; the daemon reads no client file."""
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps(NO_MKDIR, indent=2))

    def barge(*args):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "BARGE_HOST": box.url}
        return subprocess.run([sys.executable, "-m", "barge", *args], capture_output=True, text=True, env=env,
                              timeout=60)

    proc = barge("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox", "mkdir", "/x")
    assert proc.returncode == 1 and "Permission denied" in proc.stderr, proc
    proc = barge("run", "--rm", "--security-opt", f"seccomp={tmp_path}/missing.json", "busybox", "true")
    assert proc.returncode == 125 and "opening seccomp profile" in proc.stderr, proc
