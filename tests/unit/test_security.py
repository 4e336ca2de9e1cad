"""Seccomp profiles (Docker's format, moby's resolution) and ``SecurityOpt`` parsing, pure."""

from __future__ import annotations

import json

import pytest

from barge.containers.request import check_destination
from barge.errors import InvalidParameter
from barge.execdriver import DEFAULT_CAPABILITIES, spec_from_json, to_json
from barge.security.default_seccomp import ALLOWED, default_profile
from barge.security.options import parse_security_opt
from barge.security.seccomp import container_filter, daemon_profile, load_profile, resolve


def names(seccomp, action="SCMP_ACT_ALLOW", with_args=False) -> set[str]:
    return {n for r in seccomp.syscalls if r.action == action and bool(r.args) == with_args for n in r.names}


def test_default_profile_shape():
    p = default_profile()
    assert p["defaultAction"] == "SCMP_ACT_ERRNO" and p["defaultErrnoRet"] == 1
    every = {n for r in p["syscalls"] for n in r["names"]}
    assert not every & {"keyctl", "add_key", "request_key", "io_uring_setup", "userfaultfd", "kexec_load"}
    assert {"read", "execve", "clone3", "mount", "ptrace"} <= every
    assert len(ALLOWED) == len(set(ALLOWED)) > 350
    assert default_profile() is not default_profile()  # callers may change their copy


def test_default_container_on_x86_64():
    s = resolve(default_profile(), DEFAULT_CAPABILITIES, machine="x86_64", kernel="6.1.0")
    assert s.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = names(s)
    assert {"read", "arch_prctl", "modify_ldt", "ptrace", "chroot"} <= allowed  # ptrace: kernel >= 4.8
    assert not allowed & {"mount", "unshare", "setns", "bpf", "perf_event_open", "reboot", "set_tls"}
    clone = [r for r in s.syscalls if r.names == ["clone"]]
    assert len(clone) == 1 and clone[0].args[0].op == "SCMP_CMP_MASKED_EQ"
    assert clone[0].args[0].value == 0x7E020000 and clone[0].args[0].value_two == 0
    clone3 = [r for r in s.syscalls if r.names == ["clone3"]]
    assert clone3[0].action == "SCMP_ACT_ERRNO" and clone3[0].errno_ret == 38
    personality = sorted(r.args[0].value for r in s.syscalls if r.names == ["personality"])
    assert personality == [0, 8, 0x20000, 0x20008, 0xFFFFFFFF]
    sockets = sorted((r.args[0].op, r.args[0].value) for r in s.syscalls if r.names == ["socket"])
    assert sockets == [("SCMP_CMP_EQ", 39), ("SCMP_CMP_GT", 40), ("SCMP_CMP_LT", 38)]


def test_capabilities_and_kernels_change_the_rules():
    admin = resolve(default_profile(), [*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"], machine="x86_64", kernel="6.1")
    assert {"mount", "unshare", "setns", "clone", "clone3"} <= names(admin)
    assert not [r for r in admin.syscalls if r.names == ["clone3"] and r.action == "SCMP_ACT_ERRNO"]
    old = resolve(default_profile(), DEFAULT_CAPABILITIES, machine="x86_64", kernel="4.4.0-200-generic")
    assert "ptrace" not in names(old)
    arm = resolve(default_profile(), DEFAULT_CAPABILITIES, machine="aarch64", kernel="6.1")
    assert arm.architectures == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert "set_tls" in names(arm) and "arch_prctl" not in names(arm)


def test_which_filter_a_container_gets():
    daemon = default_profile()
    caps = list(DEFAULT_CAPABILITIES)
    assert container_filter(None, False, caps, daemon).default_action == "SCMP_ACT_ERRNO"
    assert container_filter("unconfined", False, caps, daemon) is None
    assert container_filter(None, True, caps, daemon) is None  # --privileged
    assert container_filter(None, False, caps, None) is None  # the daemon runs unconfined
    assert container_filter("builtin", False, caps, None).default_action == "SCMP_ACT_ERRNO"
    own = json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "mkdir", "action": "SCMP_ACT_ERRNO"}]})
    mine = container_filter(own, True, caps, daemon)  # a privileged container that names a profile gets it
    assert mine.default_action == "SCMP_ACT_ALLOW" and mine.syscalls[0].names == ["mkdir"]
    assert container_filter(json.dumps({}), False, caps, daemon) is None  # no action, no rules: none


@pytest.mark.parametrize("profile, fragment", [
    ("[1]", "a profile is a JSON object"),
    ("{", "Decoding seccomp profile failed: Expecting"),
    ('{"defaultAction": "SCMP_ACT_NOTIFY"}', "SCMP_ACT_NOTIFY needs a seccomp agent"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"}', "listenerPath"),
    ('{"architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}',
     "both 'architectures' and 'archMap'"),
    ('{"syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}', "both 'name' and 'names'"),
    ('{"syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "op": "SCMP_CMP_EQ"}]}]}',
     "syscalls[0].args[0].index: 0 to 5"),
    ('{"syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "op": "EQ"}]}]}',
     "syscalls[0].args[0].op: unknown operator"),
    ('{"syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": -1, '
     '"op": "SCMP_CMP_EQ"}]}]}', "syscalls[0].args[0].value: an unsigned integer"),
    ('{"syscalls": [{"names": [1], "action": "SCMP_ACT_ALLOW"}]}', "syscalls[0].names: a list of strings"),
    ('{"flags": ["SECCOMP_FILTER_FLAG_NOPE"]}', "unknown flag"),
    ('{"syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "four"}}]}',
     "includes.minKernel: invalid kernel version"),
])
def test_bad_profiles_name_the_field(profile, fragment):
    with pytest.raises(InvalidParameter) as err:
        load_profile(profile)
    assert fragment in str(err.value)
    assert str(err.value).startswith("Decoding seccomp profile failed: ")


def test_daemon_profile_setting(tmp_path):
    assert daemon_profile(None) == default_profile() == daemon_profile("builtin")
    assert daemon_profile("unconfined") is None
    path = tmp_path / "p.json"
    path.write_text('{"defaultAction": "SCMP_ACT_LOG"}')
    assert daemon_profile(str(path)) == {"defaultAction": "SCMP_ACT_LOG"}
    with pytest.raises(InvalidParameter, match="opening seccomp profile"):
        daemon_profile(str(tmp_path / "missing.json"))


def test_the_filter_survives_the_spec_file():
    from barge.execdriver import ContainerSpec, ProcessSpec

    seccomp = resolve(default_profile(), DEFAULT_CAPABILITIES, machine="x86_64", kernel="6.1")
    spec = ContainerSpec(id="c" * 64, rootfs=[], process=ProcessSpec(args=["true"]), seccomp=seccomp)
    assert spec_from_json(to_json(spec)).seccomp == seccomp
    assert spec_from_json(to_json(ContainerSpec(id="c", rootfs=[], process=ProcessSpec(args=["x"])))).seccomp is None


# ---------------------------------------------------------------------------
# SecurityOpt
# ---------------------------------------------------------------------------


def test_security_opt_accepted():
    o = parse_security_opt(["no-new-privileges", "apparmor=unconfined", "label=disable", "label:user:u",
                            "seccomp=unconfined", "systempaths=unconfined"])
    assert o.no_new_privileges and o.apparmor == "unconfined" and o.labels == ["disable", "user:u"]
    assert o.seccomp == "unconfined" and o.unmasked
    assert parse_security_opt(["no-new-privileges=false"]).no_new_privileges is False
    assert parse_security_opt(["no-new-privileges:true"]).no_new_privileges is True
    assert parse_security_opt(None) == parse_security_opt([])


@pytest.mark.parametrize("opt, message", [
    ("totally-bogus=1", 'invalid --security-opt 2: "totally-bogus=1"'),
    ("bogus", 'invalid --security-opt 1: "bogus"'),
    ("no-new-privileges=maybe", 'invalid --security-opt 2: "no-new-privileges=maybe"'),
    ("systempaths=confined", 'invalid --security-opt 2: "systempaths=confined"'),
    ("seccomp=/path/profile.json", "Decoding seccomp profile failed"),
])
def test_security_opt_refused(opt, message):
    with pytest.raises(InvalidParameter) as err:
        parse_security_opt([opt])
    assert message in str(err.value)


@pytest.mark.parametrize("dest, fails", [
    ("/proc", "not of type proc"), ("/proc/sys", "inside /proc"), ("/proc/1/root", "inside /proc"),
    ("/proc/uptime", None), ("/proc/net/dev", None), ("/procx", None), ("/data/proc", None), ("/sys", None),
])
def test_mount_destinations(dest, fails):
    if fails is None:
        check_destination(dest, "/src")
    else:
        with pytest.raises(InvalidParameter, match=fails):
            check_destination(dest, "/src")
