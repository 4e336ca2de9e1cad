"""Containers, the pure parts: names, states, the create request, the spec builder, users, filters."""

from __future__ import annotations

import random
import signal

import pytest

from barge.api import bodies
from barge.containers import filters, names
from barge.containers.files import embedded_resolv_conf, resolv_conf
from barge.containers.limits import parse_cpuset
from barge.containers.request import DEFAULT_PATH, mount_points, normalize_config, normalize_create, ram_in_bytes
from barge.containers.signals import parse_signal
from barge.containers.spec import StartInputs, build_spec, capabilities, process_env, tmpfs_options
from barge.containers.start import exit_code_for_start_error
from barge.containers.state import State, human_duration, status_string
from barge.containers.store import Container
from barge.containers.supervisor import should_restart
from barge.containers.users import ExecUser, UserNotFound, make_dirs_in_root, read_file_in_root, resolve_user
from barge.containers.views import command_string, inspect, summary
from barge.contracts.attach import DetachScanner, parse_detach_keys
from barge.errors import InvalidParameter
from barge.execdriver import DEFAULT_CAPABILITIES, MASKED_PATHS
from barge.gojson import decode
from barge.timefmt import rfc3339_nano

BUSYBOX = {"Cmd": ["sh"], "Env": [f"PATH={DEFAULT_PATH}"]}
CID = "a" * 64


def create(body, image=BUSYBOX, exists=lambda p: True, ncpu=2, **kw):
    """``body`` as the create route hands it on: decoded."""
    return normalize_create(decode(bodies.CONTAINER_CREATE, body), image, ncpu=ncpu, exists=exists, **kw)


# ---------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["web", "/web", "a1", "my_app.v2-x", "00"])
def test_valid_names_get_their_slash(name):
    assert names.validate_name(name) == "/" + name.lstrip("/")


@pytest.mark.parametrize("name", ["a", "-x", "_x", "a b", "a/b", "", "/", "ü"])
def test_invalid_names_get_dockers_message(name):
    with pytest.raises(InvalidParameter, match=r"Invalid container name .* only \[a-zA-Z0-9\]\[a-zA-Z0-9_.-\] are allowed"):
        names.validate_name(name)


def test_generated_names_are_adjective_surname_and_free():
    taken = set()
    rng = random.Random(7)
    for _ in range(200):
        name = names.generate_name(lambda n: n in taken, rng)
        assert name not in taken and names.VALID_NAME.match(name)
        left, _, right = name[1:].partition("_")
        assert left in names.ADJECTIVES and right.rstrip("0123456789") in names.SURNAMES
        taken.add(name)


def test_generated_name_appends_digit_after_collisions():
    rng = random.Random(1)
    name = names.generate_name(lambda n: not n[-1].isdigit(), rng)  # every plain name is taken
    assert name[-1].isdigit()


# ---------------------------------------------------------------------------
# state strings
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seconds,text", [
    (0.5, "Less than a second"), (1, "1 second"), (3, "3 seconds"), (59, "59 seconds"), (60, "About a minute"),
    (150, "2 minutes"), (3600, "About an hour"), (3 * 3600, "3 hours"), (50 * 3600, "2 days"),
    (15 * 86400, "2 weeks"), (70 * 86400, "2 months"), (800 * 86400, "2 years"),
])
def test_human_duration_matches_go_units(seconds, text):
    assert human_duration(seconds) == text


def test_status_strings_and_state_names():
    now = 1_700_000_100.0
    s = State()
    assert (s.status, status_string(s, now)) == ("created", "Created")
    s.set_running(42, rfc3339_nano(int((now - 3) * 1e9)))
    assert (s.status, status_string(s, now)) == ("running", "Up 3 seconds")
    s.Paused = True
    assert (s.status, status_string(s, now)) == ("paused", "Up 3 seconds (Paused)")
    s.Paused = False
    s.set_stopped(137, rfc3339_nano(int((now - 2) * 1e9)))
    assert (s.status, status_string(s, now)) == ("exited", "Exited (137) 2 seconds ago")
    assert s.Pid == 0 and not s.Running
    s.set_restarting(1, rfc3339_nano(int((now - 5) * 1e9)))
    assert (s.status, status_string(s, now)) == ("restarting", "Restarting (1) 5 seconds ago")
    s.set_stopped(1)
    s.RemovalInProgress = True
    assert (s.status, status_string(s, now)) == ("removing", "Removal In Progress")
    assert set(s.to_inspect()) == {"Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid",
                                   "ExitCode", "Error", "StartedAt", "FinishedAt"}
    assert State.from_record(s.to_record()) == s


# ---------------------------------------------------------------------------
# the create request
# ---------------------------------------------------------------------------


def test_cmd_replaces_image_cmd_and_env_merges():
    image = {"Cmd": ["sh"], "Env": ["PATH=/bin", "A=image", "B=image"], "WorkingDir": "/srv", "User": "daemon",
             "Labels": {"x": "image", "y": "image"}, "ExposedPorts": {"80/tcp": {}}}
    n = create({"Image": "busybox", "Cmd": ["echo", "hi"], "Env": ["A=mine", "C=mine"], "Labels": {"x": "mine"}},
               image)
    c = n.config
    assert c["Cmd"] == ["echo", "hi"] and c["Entrypoint"] is None
    assert c["Env"] == ["A=mine", "C=mine", "PATH=/bin", "B=image"]
    assert (c["WorkingDir"], c["User"]) == ("/srv", "daemon")
    assert c["Labels"] == {"x": "mine", "y": "image"}
    assert c["ExposedPorts"] == {"80/tcp": {}}


def test_entrypoint_given_resets_image_cmd():
    image = {"Entrypoint": ["/docker-entrypoint.sh"], "Cmd": ["nginx", "-g", "daemon off;"]}
    c = create({"Image": "x", "Entrypoint": ["sh", "-c"]}, image).config
    assert (c["Entrypoint"], c["Cmd"]) == (["sh", "-c"], None)
    c = create({"Image": "x", "Cmd": ["bash"]}, image).config
    assert (c["Entrypoint"], c["Cmd"]) == (["/docker-entrypoint.sh"], ["bash"])
    c = create({"Image": "x"}, image).config
    assert (c["Entrypoint"], c["Cmd"]) == (["/docker-entrypoint.sh"], ["nginx", "-g", "daemon off;"])
    c = create({"Image": "x", "Entrypoint": [""], "Cmd": ["echo", "hi"]}, image).config  # --entrypoint ""
    assert (c["Entrypoint"], c["Cmd"]) == (None, ["echo", "hi"])
    c = create({"Image": "x", "Cmd": "echo hi"}, {}).config  # older clients send a string
    assert c["Cmd"] == ["echo hi"]


def test_the_image_config_is_decoded_as_moby_decodes_it():
    """Images come from pulls, loads and imports, past every API schema: their config is checked at create."""
    assert create({"Image": "x"}, {"Cmd": "nginx", "Env": None, "Bogus": 5}).config["Cmd"] == ["nginx"]
    for image, message in [
        ({"Cmd": [5]}, "array into Go struct field Config.Cmd of type string"),  # StrSlice says array
        ({"Entrypoint": {}}, "object into Go struct field Config.Entrypoint of type string"),
        ({"Env": "A=1"}, "string into Go struct field Config.Env of type []string"),
        ({"Labels": ["a"]}, "array into Go struct field Config.Labels of type map[string]string"),
        ({"WorkingDir": 5}, "number into Go struct field Config.WorkingDir of type string"),
        ([], "array into Go value of type container.Config"),
    ]:
        with pytest.raises(InvalidParameter) as err:
            create({"Image": "x", "Cmd": ["true"]}, image)
        assert str(err.value) == "invalid image config: json: cannot unmarshal " + message


def test_no_command_and_bad_env_are_400():
    with pytest.raises(InvalidParameter, match="No command specified"):
        create({"Image": "x"}, {})
    with pytest.raises(InvalidParameter, match="invalid environment variable: =x"):
        create({"Image": "x", "Env": ["=x"]})
    with pytest.raises(InvalidParameter, match="working directory 'rel' is invalid"):
        create({"Image": "x", "WorkingDir": "rel"})


def test_default_path_added_when_image_has_none():
    assert create({"Image": "x", "Cmd": ["true"]}, {}).config["Env"] == [f"PATH={DEFAULT_PATH}"]


def test_host_config_defaults_inspect_shows():
    h = create({"Image": "busybox"}).host_config
    assert h["NetworkMode"] == "bridge" and h["IpcMode"] == "private"
    assert h["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert h["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert h["ShmSize"] == 64 << 20 and h["CgroupnsMode"] == "host"
    assert h["PidsLimit"] is None and h["Memory"] == 0 and h["ConsoleSize"] == [0, 0]
    assert create({"Image": "busybox"}, cgroup_v2=True).host_config["CgroupnsMode"] == "private"


@pytest.mark.parametrize("host,message", [
    ({"Memory": 4 << 20}, "Minimum memory limit allowed is 6MB"),
    ({"MemorySwap": 100 << 20}, "You should always set the Memory limit when using Memoryswap limit"),
    ({"Memory": 100 << 20, "MemorySwap": 50 << 20}, "Minimum memoryswap limit should be larger than memory limit"),
    ({"NanoCpus": 3_000_000_000}, r"Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"),
    ({"NanoCpus": 1_000_000_000, "CpuPeriod": 100000}, "Nano CPUs and CPU Period cannot both be set"),
    ({"CpusetCpus": "0-3"}, "Requested CPUs are not available - requested 0-3, available: 0-1"),
    ({"CpusetCpus": "x"}, "Invalid value x for cpuset cpus"),
    ({"RestartPolicy": {"Name": "sometimes"}}, "invalid restart policy 'sometimes'"),
    ({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}}, "maximum retry count can only be used with 'on-failure'"),
    ({"AutoRemove": True, "RestartPolicy": {"Name": "always"}}, "can't create 'AutoRemove' container with restart policy"),
    ({"LogConfig": {"Type": "bogus"}}, 'error looking up logging plugin bogus: plugin "bogus" not found'),
    ({"LogConfig": {"Type": "json-file", "Config": {"bogus": "1"}}}, "unknown log opt 'bogus' for json-file log driver"),
    ({"CapAdd": ["NOPE"]}, 'unknown capability: "CAP_NOPE"'),
    ({"Ulimits": [{"Name": "nofiles", "Soft": 1, "Hard": 1}]}, "invalid ulimit type: nofiles"),
    ({"ShmSize": -1}, "SHM size can not be less than 0"),
    ({"Links": ["a:b:c"]}, "bad format for links: a:b:c"),
    ({"NetworkMode": "host", "Links": ["a"]}, "host type networking can't be used with links"),
    ({"VolumesFrom": ["a:shared"]}, "invalid mode: shared"),
    ({"DeviceCgroupRules": ["c 1:3 rwx"]}, "invalid device cgroup rule format: 'c 1:3 rwx'"),
    ({"Binds": ["/x:/y:bogus"]}, "invalid mode: bogus"),
    ({"Binds": ["/x:rel"]}, "mount path must be absolute"),
    ({"Binds": ["/x:/y", "/z:/y"]}, "Duplicate mount point: /y"),
    ({"Mounts": [{"Type": "tmpfs", "Source": "/x", "Target": "/t"}]}, 'field Source must not be specified'),
    ({"Mounts": [{"Type": "weird", "Target": "/t"}]}, 'mount type unknown'),
])
def test_bad_host_config_is_400_with_dockers_words(host, message):
    with pytest.raises(InvalidParameter, match=message):
        create({"Image": "busybox", "HostConfig": host})


def test_user_network_names_pass_through_to_the_network_service():
    body = create({"Image": "busybox", "HostConfig": {"NetworkMode": "mynet"}})
    assert body.host_config["NetworkMode"] == "mynet"
    with pytest.raises(InvalidParameter, match="container:<name|id>"):
        create({"Image": "busybox", "HostConfig": {"NetworkMode": "container:"}})


def test_bind_source_must_exist():
    with pytest.raises(InvalidParameter) as err:
        create({"Image": "busybox", "HostConfig": {"Binds": ["/x:/data"]}}, exists=lambda p: False)
    assert str(err.value) == 'invalid mount config for type "bind": bind source path does not exist: /x'
    with pytest.raises(InvalidParameter, match="bind source path does not exist: /nope"):
        create({"Image": "busybox", "HostConfig": {"Mounts": [{"Type": "bind", "Source": "/nope", "Target": "/d"}]}},
               exists=lambda p: False)


def test_memory_swap_defaults_to_twice_memory_and_cpus_kept():
    h = create({"Image": "busybox", "HostConfig": {"Memory": 64 << 20, "NanoCpus": 1_500_000_000,
                                                   "PidsLimit": -1, "CpuShares": 1}}).host_config
    assert (h["Memory"], h["MemorySwap"]) == (64 << 20, 128 << 20)
    assert h["NanoCpus"] == 1_500_000_000 and h["PidsLimit"] is None and h["CpuShares"] == 2
    n = create({"Image": "busybox", "HostConfig": {"Memory": 64 << 20}}, swap_limit=False)
    assert n.host_config["MemorySwap"] == -1 and "swap limit" in n.warnings[0]


def test_mount_points_from_binds_mounts_tmpfs_and_volumes():
    host = {"Binds": ["/src:/data:ro", "vol1:/v"], "Tmpfs": {"/run": "size=1m,exec"},
            "Mounts": [{"Type": "tmpfs", "Target": "/scratch", "TmpfsOptions": {"SizeBytes": 1024, "Mode": 0o700}}]}
    points = mount_points(host, {"Volumes": {"/anon": {}, "/data": {}}}, lambda p: True)
    by = {p["Destination"]: p for p in points}
    assert by["/data"] == {"Type": "bind", "Source": "/src", "Destination": "/data", "RW": False, "Mode": "ro",
                           "Propagation": "rprivate"}
    assert by["/v"]["Type"] == "volume" and by["/v"]["Name"] == "vol1"
    assert by["/run"]["Options"] == ["size=1m", "exec"]
    assert by["/scratch"]["Options"] == ["size=1024", "mode=700"]
    assert by["/anon"].get("Anonymous") is True  # image volume not covered by a bind


def test_units_and_cpusets():
    assert ram_in_bytes("10m") == 10 << 20 and ram_in_bytes("1k") == 1024 and ram_in_bytes("2GiB") == 2 << 30
    assert ram_in_bytes("100") == 100
    with pytest.raises(InvalidParameter):
        ram_in_bytes("ten")
    assert parse_cpuset("0-2,4") == {0, 1, 2, 4}


# ---------------------------------------------------------------------------
# the spec builder
# ---------------------------------------------------------------------------


def inputs(**kw):
    base = dict(rootfs=[{"Type": "bind", "Source": "/l", "Options": ["rbind"]}], user=ExecUser(0, 0, [], "/root"),
                hostname_path="/c/hostname", hosts_path="/c/hosts", resolv_path="/c/resolv.conf",
                log_path="/c/c-json.log")
    base.update(kw)
    return StartInputs(**base)


def spec_for(body, image=BUSYBOX, **kw):
    n = create(body, image)
    n.config.setdefault("Hostname", "")
    if not n.config["Hostname"]:
        n.config["Hostname"] = CID[:12]
    points = mount_points(n.host_config, n.config, lambda p: True)
    sources = {p["Destination"]: f"/vols/{p.get('Name') or 'anon'}/_data" for p in points if p["Type"] == "volume"}
    return build_spec(CID, n.config, n.host_config, points, inputs(volume_sources=sources, **kw))


def test_spec_defaults_follow_docker():
    spec = spec_for({"Image": "busybox", "Cmd": ["echo", "hi"]})
    p = spec.process
    assert p.args == ["echo", "hi"] and p.cwd == "/" and not p.terminal
    assert p.env == [f"PATH={DEFAULT_PATH}", f"HOSTNAME={CID[:12]}", "HOME=/root"]
    assert p.capabilities == list(DEFAULT_CAPABILITIES)
    assert spec.hostname == CID[:12] and spec.cgroup_path == f"barge/{CID}"
    assert spec.masked_paths == list(MASKED_PATHS) and not spec.privileged
    assert spec.namespaces == {"mount": "new", "pid": "new", "net": "new", "ipc": "new", "uts": "new", "cgroup": "host"}
    dests = [m.destination for m in spec.mounts]
    assert dests[:7] == ["/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"]
    assert dests[7:] == ["/etc/resolv.conf", "/etc/hostname", "/etc/hosts"]
    shm = spec.mounts[6]
    assert f"size={64 << 20}" in shm.options and "mode=1777" in shm.options
    assert "ro" in spec.mounts[3].options  # /sys read-only
    assert (spec.log.path, spec.log.driver, spec.log.options, spec.log.cache_path) == (f"/c/{CID}-json.log", "json-file",
                                                                                         {}, "")
    assert spec.resources.memory is None and spec.resources.pids_limit is None


def test_spec_tty_env_user_and_workdir():
    spec = spec_for({"Image": "busybox", "Cmd": ["sh"], "Tty": True, "OpenStdin": True, "StdinOnce": True,
                     "Env": ["HOME=/home/me", "PATH=/mine"], "WorkingDir": "/w",
                     "HostConfig": {"ConsoleSize": [24, 80]}},
                    user=ExecUser(1000, 100, [5, 6], "/home/u"))
    p = spec.process
    assert p.terminal and p.stdin and p.stdin_once and (p.console_height, p.console_width) == (24, 80)
    assert p.env == ["PATH=/mine", f"HOSTNAME={CID[:12]}", "TERM=xterm", "HOME=/home/me"]
    assert (p.user.uid, p.user.gid, p.user.additional_gids) == (1000, 100, [5, 6]) and p.cwd == "/w"


def test_spec_resources_limits_and_logs():
    spec = spec_for({"Image": "busybox", "Cmd": ["true"], "HostConfig": {
        "Memory": 64 << 20, "NanoCpus": 500_000_000, "CpuShares": 512, "CpusetCpus": "1", "PidsLimit": 100,
        "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}], "ShmSize": 1 << 20,
        "LogConfig": {"Type": "json-file", "Config": {"max-size": "1k", "max-file": "3"}},
        "ReadonlyRootfs": True, "Init": True, "SecurityOpt": ["no-new-privileges"], "Sysctls": {"net.ipv4.ip_forward": "1"},
    }})
    r = spec.resources
    assert (r.memory, r.memory_swap, r.cpu_quota, r.cpu_period) == (64 << 20, 128 << 20, 50000, 100000)
    assert (r.cpu_shares, r.cpuset_cpus, r.pids_limit) == (512, "1", 100)
    assert [(x.type, x.soft, x.hard) for x in spec.process.rlimits] == [("RLIMIT_NOFILE", 1024, 2048)]
    assert f"size={1 << 20}" in spec.mounts[6].options
    assert (spec.log.driver, spec.log.options) == ("json-file", {"max-size": "1k", "max-file": "3"})
    assert spec.log.info["container_id"] == CID and spec.log.info["image_name"] == "busybox"
    assert spec.readonly_rootfs and spec.init and spec.process.no_new_privileges
    assert spec.sysctls == {"net.ipv4.ip_forward": "1"}
    assert spec_for({"Image": "busybox", "HostConfig": {"LogConfig": {"Type": "none"}}}).log is None


def test_spec_mounts_binds_tmpfs_volumes_sorted_by_depth():
    spec = spec_for({"Image": "busybox", "HostConfig": {
        "Binds": ["/h/a:/data/sub:ro", "/h/b:/data"], "Tmpfs": {"/tmp": ""},
        "Mounts": [{"Type": "volume", "Source": "named", "Target": "/v"}],
    }})
    user = [(m.destination, m.type, m.source, m.options) for m in spec.mounts[10:]]
    assert user[0][0] in ("/data", "/tmp", "/v") and user[-1][0] == "/data/sub"
    by = {d: (t, s, o) for d, t, s, o in user}
    assert by["/data/sub"] == ("bind", "/h/a", ["rbind", "rprivate", "ro"])
    assert by["/tmp"] == ("tmpfs", "tmpfs", ["noexec", "nosuid", "nodev"])
    assert by["/v"] == ("bind", "/vols/named/_data", ["rbind", "rprivate"])


def test_spec_user_mount_replaces_default_and_etc_files():
    spec = spec_for({"Image": "busybox", "HostConfig": {"Tmpfs": {"/dev/shm": "size=1m"}, "Binds": ["/h:/etc/hosts"]}})
    shm = [m for m in spec.mounts if m.destination == "/dev/shm"]
    hosts = [m for m in spec.mounts if m.destination == "/etc/hosts"]
    assert len(shm) == 1 and shm[0].options[-1] == "size=1m"
    assert len(hosts) == 1 and hosts[0].source == "/h"


def test_spec_privileged_and_network_modes():
    spec = spec_for({"Image": "busybox", "HostConfig": {"Privileged": True, "NetworkMode": "host", "IpcMode": "host"}},
                    cap_last=40)
    assert spec.privileged and len(spec.process.capabilities) == 41
    assert spec.masked_paths == [] and spec.readonly_paths == []
    assert "ro" not in [m for m in spec.mounts if m.destination == "/sys"][0].options
    assert spec.namespaces["net"] == "host" and spec.namespaces["uts"] == "host" and spec.namespaces["ipc"] == "host"
    assert [m for m in spec.mounts if m.destination == "/dev/shm"][0].source == "/dev/shm"
    none = spec_for({"Image": "busybox", "HostConfig": {"NetworkMode": "none"}})
    assert none.namespaces["net"] == "new"
    joined = spec_for({"Image": "busybox"}, joined={"net": "/proc/9/ns/net"})
    assert joined.namespaces["net"] == "/proc/9/ns/net"


def test_capabilities_follow_tweak_capabilities():
    assert capabilities({"CapAdd": ["net_admin"]}, 40) == list(DEFAULT_CAPABILITIES) + ["CAP_NET_ADMIN"]
    assert "CAP_CHOWN" not in capabilities({"CapDrop": ["CHOWN"]}, 40)
    assert capabilities({"CapDrop": ["ALL"], "CapAdd": ["KILL"]}, 40) == ["CAP_KILL"]
    every = capabilities({"CapAdd": ["ALL"], "CapDrop": ["SYS_ADMIN"]}, 40)
    assert "CAP_SYS_ADMIN" not in every and "CAP_BPF" in every and len(every) == 40
    assert len(capabilities({"Privileged": True}, 37)) == 38  # the kernel's cap_last_cap bounds it


def test_process_env_unset_and_home():
    env = process_env({"Hostname": "h", "Env": ["PATH=/p", "HOSTNAME", "X=1"]}, "/root")
    assert env == ["PATH=/p", "X=1", "HOME=/root"]


def test_tmpfs_options_let_user_words_win():
    assert tmpfs_options(["exec", "size=1m"]) == ["nosuid", "nodev", "exec", "size=1m"]


# ---------------------------------------------------------------------------
# users
# ---------------------------------------------------------------------------

PASSWD = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n"
GROUP = "root:x:0:\ndaemon:x:1:\nstaff:x:50:alice,bob\nalice:x:1000:\nwheel:x:10:root\n"


@pytest.mark.parametrize("spec,expected", [  # the primary group is among the groups, as dockerd's `id` shows
    ("", (0, 0, [0, 10], "/root")),
    ("root", (0, 0, [0, 10], "/root")),
    ("alice", (1000, 1000, [1000, 50], "/home/alice")),
    ("1000", (1000, 1000, [1000, 50], "/home/alice")),
    ("4242", (4242, 0, [0], "/")),
    ("alice:staff", (1000, 50, [50], "/home/alice")),
    ("alice:77", (1000, 77, [77], "/home/alice")),
    ("4242:4343", (4242, 4343, [4343], "/")),
])
def test_user_resolution_follows_moby(spec, expected):
    u = resolve_user(spec, PASSWD, GROUP)
    assert (u.uid, u.gid, u.sgids, u.home) == expected


def test_bad_user_and_group_messages():
    with pytest.raises(UserNotFound) as err:
        resolve_user("nosuch", PASSWD, GROUP)
    assert str(err.value) == "unable to find user nosuch: no matching entries in passwd file"
    with pytest.raises(UserNotFound, match="unable to find group nogroup: no matching entries in group file"):
        resolve_user("alice:nogroup", PASSWD, GROUP)
    with pytest.raises(UserNotFound, match="unable to find user x"):
        resolve_user("x", None, None)  # no passwd file at all
    assert resolve_user("5", None, None).uid == 5
    assert resolve_user("alice", PASSWD, GROUP, ["wheel", "99"]).sgids == [1000, 50, 10, 99]


def test_files_are_read_inside_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (tmp_path / "secret").write_text("host secret")
    (root / "etc" / "passwd").symlink_to("/../../../secret")  # absolute escape: stays in the root
    assert read_file_in_root(str(root), "/etc/passwd") is None
    (root / "secret").write_text("in root")
    assert read_file_in_root(str(root), "/etc/passwd") == "in root"
    (root / "etc" / "group").write_text(GROUP)
    assert read_file_in_root(str(root), "/etc/group") == GROUP
    (root / "lnk").symlink_to("/etc")
    assert read_file_in_root(str(root), "/lnk/group") == GROUP
    assert read_file_in_root(str(root), "/etc/nothing") is None
    (root / "out").symlink_to(str(tmp_path))
    make_dirs_in_root(str(root), "/out/made/deeper")
    assert (root / str(tmp_path).lstrip("/") / "made" / "deeper").is_dir() and not (tmp_path / "made").exists()
    make_dirs_in_root(str(root), "/plain/../w/x")
    assert (root / "w" / "x").is_dir()


def test_a_looping_passwd_link_is_no_passwd(tmp_path):
    """An image's /etc/passwd -> ../../etc/passwd loops inside the root (on the host it would
    be the host's passwd): no passwd, as runc treats one it cannot open, not an error."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").symlink_to("../" * 20 + "etc/passwd")
    (root / "loop").symlink_to("loop")
    assert read_file_in_root(str(root), "/etc/passwd") is None
    assert read_file_in_root(str(root), "/loop/passwd") is None
    assert resolve_user("1000", read_file_in_root(str(root), "/etc/passwd"), None).uid == 1000


# ---------------------------------------------------------------------------
# ps filters and views
# ---------------------------------------------------------------------------


def container(cid: str, name: str, created: float, running: bool = False, exit_code: int = 0,
              labels=None, image="sha256:" + "1" * 64) -> Container:
    state = State()
    if running:
        state.set_running(1, rfc3339_nano(int(created * 1e9)))
    elif exit_code is not None and exit_code >= 0:
        state.set_running(1, rfc3339_nano(int(created * 1e9)))
        state.set_stopped(exit_code, rfc3339_nano(int((created + 1) * 1e9)))
    return Container(
        id=cid, name=name, image_id=image, top_layer=None, rw_layer=cid,
        config={"Image": "busybox", "Labels": labels or {}, "Cmd": ["sh", "-c", "echo a b"]},
        host_config={"NetworkMode": "bridge"}, network_config={}, mounts=[], created=rfc3339_nano(int(created * 1e9)),
        created_unix=created, state=state, path="sh", args=["-c", "echo a b"], log_path="/l", graph_driver="vfs",
    )


@pytest.fixture
def fleet():
    cs = [
        container("c" * 64, "/web", 400, running=True, labels={"app": "web", "tier": "front"}),
        container("b" * 64, "/db", 300, exit_code=0, labels={"app": "db"}),
        container("ab" + "0" * 62, "/worker", 200, exit_code=3, image="sha256:" + "2" * 64),
        container("a" * 64, "/old", 100, exit_code=-1),  # never started
    ]
    by = {c.name.lstrip("/"): c for c in cs}

    def resolve(ref):
        return by[ref]

    return cs, resolve


def names_of(cs):
    return [c.name for c in cs]


def test_ps_filters(fleet):
    cs, resolve = fleet

    def sel(all=False, limit=-1, **f):
        return names_of(filters.select(cs, filters.ListQuery(all, limit, {k: v for k, v in f.items()}), resolve,
                                       lambda ref: {"sha256:" + "2" * 64} if ref == "img2" else set()))

    assert sel() == ["/web"]
    assert sel(all=True) == ["/web", "/db", "/worker", "/old"]
    assert sel(limit=2) == ["/web", "/db"]
    assert sel(status=["exited"]) == ["/db", "/worker"]
    assert sel(status=["created"]) == ["/old"]
    assert sel(all=True, name=["o"]) == ["/worker", "/old"]
    assert sel(all=True, name=["^/w"]) == ["/web", "/worker"]
    assert sel(all=True, id=["^ab"]) == ["/worker"]
    assert sel(all=True, label=["app"]) == ["/web", "/db"]
    assert sel(all=True, label=["app=db"]) == ["/db"]
    assert sel(all=True, exited=["3"]) == ["/worker"]
    assert sel(before=["db"]) == ["/worker", "/old"]
    assert sel(since=["worker"]) == ["/web", "/db"]
    assert sel(all=True, ancestor=["img2"]) == ["/worker"]
    with pytest.raises(InvalidParameter, match="status=bogus"):
        sel(status=["bogus"])
    with pytest.raises(InvalidParameter):
        filters.parse('{"nosuchkey": {"x": true}}')
    assert filters.parse('{"status": {"running": true}}') == {"status": ["running"]}


def test_summary_and_inspect_shapes(fleet):
    cs, _ = fleet
    row = summary(cs[0], now=403.5)
    assert row["Names"] == ["/web"] and row["State"] == "running" and row["Status"] == "Up 3 seconds"
    assert row["Command"] == "sh -c 'echo a b'" and row["Ports"] == [] and row["Created"] == 400
    assert row["HostConfig"] == {"NetworkMode": "bridge"} and "bridge" in row["NetworkSettings"]["Networks"]
    doc = inspect(cs[1], paths={"resolv": "/r", "hostname": "/h", "hosts": "/hs"}, graph_data={}, runtime="native")
    for key in ("Id", "Created", "Path", "Args", "State", "Image", "ResolvConfPath", "HostnamePath", "HostsPath",
                "LogPath", "Name", "RestartCount", "Driver", "Platform", "MountLabel", "AppArmorProfile", "ExecIDs",
                "HostConfig", "GraphDriver", "Mounts", "Config", "NetworkSettings"):
        assert key in doc
    assert doc["HostConfig"]["Runtime"] == "native" and doc["Name"] == "/db"
    assert "BargeNote" not in doc["NetworkSettings"] and doc["NetworkSettings"]["Ports"] == {}
    assert command_string("echo", []) == "echo"


# ---------------------------------------------------------------------------
# small rules
# ---------------------------------------------------------------------------


def test_detach_keys():
    keys = parse_detach_keys("ctrl-p,ctrl-q")
    assert keys == b"\x10\x11" and parse_detach_keys("a,ctrl-@") == b"a\x00"
    with pytest.raises(InvalidParameter):
        parse_detach_keys("ctrl-1")
    s = DetachScanner(keys)
    assert s.feed(b"ab\x10") == (b"ab", False)
    assert s.feed(b"x") == (b"\x10x", False)  # a broken sequence passes unchanged
    assert s.feed(b"\x10") == (b"", False)
    assert s.feed(b"\x11rest") == (b"", True)


def test_signals():
    assert parse_signal("TERM") == parse_signal("SIGTERM") == parse_signal("15") == signal.SIGTERM
    assert parse_signal("kill") == 9 and parse_signal("WINCH") == signal.SIGWINCH
    for bad in ("NOPE", "0", "999"):
        with pytest.raises(InvalidParameter, match="Invalid signal"):
            parse_signal(bad)


def test_start_error_exit_codes_and_restart_rules():
    assert exit_code_for_start_error('exec: "x": executable file not found in $PATH') == 127
    assert exit_code_for_start_error("exec: /etc: permission denied") == 126
    assert exit_code_for_start_error("something else") == 128
    assert should_restart({"Name": "always"}, 0, False, 5)
    assert not should_restart({"Name": "always"}, 0, True, 0)
    assert not should_restart({"Name": "unless-stopped"}, 1, True, 0)
    assert should_restart({"Name": "on-failure"}, 1, False, 100)
    assert not should_restart({"Name": "on-failure"}, 0, False, 0)
    assert not should_restart({"Name": "on-failure", "MaximumRetryCount": 2}, 1, False, 2)
    assert not should_restart({"Name": "no"}, 1, False, 0)


def test_resolv_conf_drops_loopback_servers():
    host = "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch example.org\noptions edns0\n"
    assert resolv_conf(host, {}) == "nameserver 10.0.0.2\nsearch example.org\noptions edns0\n"
    assert resolv_conf("nameserver 127.0.0.1\n", {}) == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    assert resolv_conf("nameserver 127.0.0.1\n", {"NetworkMode": "host"}) == "nameserver 127.0.0.1\n"
    assert resolv_conf(host, {"Dns": ["1.1.1.1"], "DnsSearch": ["a"]}).startswith("nameserver 1.1.1.1\nsearch a\n")


def test_embedded_resolv_conf_points_at_the_dns_server():
    host = "nameserver 10.0.0.2\nsearch example.org\noptions edns0 ndots:5\n"
    assert embedded_resolv_conf(host, {}) == "nameserver 127.0.0.11\nsearch example.org\noptions edns0 ndots:0\n"
    assert embedded_resolv_conf(host, {"DnsOptions": ["ndots:2", "rotate"], "DnsSearch": ["a"]}) == \
        "nameserver 127.0.0.11\nsearch a\noptions rotate ndots:2\n"


def test_normalize_config_keeps_image_stop_signal():
    c = normalize_config({"Image": "x"}, {"Cmd": ["sh"], "StopSignal": "SIGQUIT"})
    assert c["StopSignal"] == "SIGQUIT" and "StopTimeout" not in c


def test_network_stats_read_a_namespaces_net_dev(tmp_path):
    """dockerd's ``networks`` counters per interface, from /proc/<pid>/net/dev; loopback left out."""
    from barge.containers.metrics import network_stats

    dev = tmp_path / "dev"
    dev.write_text(
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
        "carrier compressed\n"
        "    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0 "
        "      0          0\n"
        "  eth0:    1296      16    1    2    0     0          0         0      656       8    3    4    0     0 "
        "      0          0\n")
    assert network_stats(1, str(dev)) == {"eth0": {
        "rx_bytes": 1296, "rx_packets": 16, "rx_errors": 1, "rx_dropped": 2,
        "tx_bytes": 656, "tx_packets": 8, "tx_errors": 3, "tx_dropped": 4}}
    assert network_stats(1, str(tmp_path / "missing")) == {}
