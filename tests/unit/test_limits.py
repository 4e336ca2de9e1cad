"""HostConfig fields checked against what a machine supports (pure: SysInfo is given)."""

from __future__ import annotations

import dataclasses

import pytest

from barge.api import bodies
from barge.containers import sysinfo
from barge.containers.limits import merge_update, normalize_resources
from barge.containers.request import normalize_create
from barge.containers.spec import resources
from barge.containers.sysinfo import SysInfo
from barge.errors import InvalidParameter
from barge.execdriver import ThrottleDevice, WeightDevice
from barge.gojson import decode

DEVICES = {"/dev/vda": (254, 0), "/dev/sdb": (8, 16)}


def fake_block_device(path: str) -> tuple[int, int]:
    if path not in DEVICES:
        raise ValueError(f"{path} is not a block device")
    return DEVICES[path]


V1 = SysInfo(ncpu=2, cpus="0-1", mems="0", block_device=fake_block_device)
#: this machine's kind: v1 without a blkio weight (mq-deadline), a kernel ignoring kmem limits
HERE = dataclasses.replace(V1, sys_resource=False)
V2 = dataclasses.replace(V1, cgroup_v2=True, memory_swappiness=False, oom_kill_disable=False, kernel_memory=False,
                         kernel_memory_tcp=False, cpu_realtime=False, blkio_weight=True, blkio_weight_device=False)


def host_of(host: dict, si: SysInfo = HERE):
    body = decode(bodies.CONTAINER_CREATE, {"Image": "busybox", "Cmd": ["true"], "HostConfig": host})  # as the route
    n = normalize_create(body, {}, exists=lambda p: True, sysinfo=si)
    return n.host_config, n.warnings


def refused(host: dict, si: SysInfo = HERE) -> str:
    with pytest.raises(InvalidParameter) as err:
        host_of(host, si)
    return str(err.value)


# -- memory ----------------------------------------------------------------------------------------


def test_memory_reservation_kept_and_checked_against_the_limit():
    h, w = host_of({"MemoryReservation": 10 << 20})
    assert h["MemoryReservation"] == 10 << 20 and w == []
    assert refused({"MemoryReservation": 1 << 20}) == "Minimum memory reservation allowed is 6MB"
    assert refused({"Memory": 10 << 20, "MemoryReservation": 20 << 20}) == \
        "Minimum memory limit can not be less than memory reservation limit, see usage"
    assert "invalid MemoryReservation: -5" in refused({"MemoryReservation": -5})


def test_swappiness_in_range_kept_on_v1_discarded_on_v2():
    assert host_of({"MemorySwappiness": 50})[0]["MemorySwappiness"] == 50
    assert host_of({"MemorySwappiness": -1})[0]["MemorySwappiness"] is None
    assert refused({"MemorySwappiness": 150}) == "Invalid value: 150, valid memory swappiness range is 0-100"
    h, w = host_of({"MemorySwappiness": 50}, V2)
    assert h["MemorySwappiness"] is None
    assert w == ["Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. "
                 "Memory swappiness discarded."]
    assert refused({"MemorySwappiness": 150}, V2).startswith("Invalid value: 150")  # bad input: 400 everywhere


def test_kernel_memory_is_deprecated_and_discarded_where_the_kernel_ignores_it():
    h, w = host_of({"KernelMemory": 10 << 20})
    assert h["KernelMemory"] == 0
    assert w == ["Specifying a kernel memory limit is deprecated and will be removed in a future release.",
                 "Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. "
                 "Limitation discarded."]
    old = dataclasses.replace(V1, kernel_memory=True)
    assert host_of({"KernelMemory": 10 << 20}, old)[0]["KernelMemory"] == 10 << 20
    assert refused({"KernelMemory": 1000}, old) == "Minimum kernel memory limit allowed is 6MB"


def test_kernel_memory_tcp_applied_on_v1_warned_on_v2():
    assert host_of({"KernelMemoryTCP": 10 << 20}) == ({**host_of({})[0], "KernelMemoryTCP": 10 << 20}, [])
    h, w = host_of({"KernelMemoryTCP": 10 << 20}, V2)
    assert h["KernelMemoryTCP"] == 0 and "kernel memory TCP limit" in w[0]


def test_oom_kill_disable_warns_without_memory_and_is_discarded_on_v2():
    h, w = host_of({"OomKillDisable": True})
    assert h["OomKillDisable"] is True and w == [
        "OOM killer is disabled for the container, but no memory limit is set, this can result in the system "
        "running out of resources."]
    assert host_of({"OomKillDisable": True, "Memory": 64 << 20})[1] == []
    assert host_of({})[0]["OomKillDisable"] is False  # dockerd's inspect shows false, not null
    h, w = host_of({"OomKillDisable": True, "Memory": 64 << 20}, V2)
    assert h["OomKillDisable"] is False and w == ["Your kernel does not support OomKillDisable. OomKillDisable discarded."]


# -- cpu -----------------------------------------------------------------------------------------------


def test_realtime_needs_the_scheduler_and_the_parent_s_budget(tmp_path):
    assert refused({"CpuRealtimeRuntime": 1000}, V2) == "Your kernel does not support CPU real-time scheduler"
    assert refused({"CpuRealtimePeriod": 1000, "CpuRealtimeRuntime": 2000}) == \
        "cpu real-time runtime cannot be higher than cpu real-time period"
    assert refused({"CpuRealtimeRuntime": 1000}).startswith(
        "CpuRealtimeRuntime 1000 exceeds the real-time budget of the parent cgroup barge "
        "(cpu.rt_runtime_us 0 per cpu.rt_period_us 1000000)")
    assert host_of({"CpuRealtimePeriod": 500000})[0]["CpuRealtimePeriod"] == 500000  # a period alone needs no budget
    (tmp_path / "rt").mkdir()
    (tmp_path / "rt" / "cpu.rt_runtime_us").write_text("10000\n")
    (tmp_path / "rt" / "cpu.rt_period_us").write_text("1000000\n")
    si = dataclasses.replace(HERE, cpu_root=str(tmp_path))
    h, _ = host_of({"CgroupParent": "/rt", "CpuRealtimeRuntime": 1000}, si)
    assert h["CpuRealtimeRuntime"] == 1000
    assert "exceeds" in refused({"CgroupParent": "rt", "CpuRealtimeRuntime": 20000}, si)
    assert "exceeds" in refused({"CgroupParent": "rt", "CpuRealtimeRuntime": 1000, "CpuRealtimePeriod": 10000}, si)


def test_cpusets_must_be_on_the_machine():
    assert refused({"CpusetMems": "5"}) == "Requested memory nodes are not available - requested 5, available: 0"
    assert refused({"CpusetCpus": "0-7"}) == "Requested CPUs are not available - requested 0-7, available: 0-1"
    assert refused({"CpusetMems": "x"}) == "Invalid value x for cpuset mems"
    assert host_of({"CpusetMems": "0", "CpusetCpus": "1"})[0]["CpusetMems"] == "0"


def test_windows_fields_are_discarded_with_a_word_or_refused():
    h, w = host_of({"CpuCount": 1, "CpuPercent": 50})
    assert (h["CpuCount"], h["CpuPercent"]) == (0, 0)
    assert w == ["linux does not support CPU count. Count discarded.",
                 "linux does not support CPU percent. Percent discarded."]
    assert refused({"IOMaximumIOps": 10}) == \
        "Invalid QoS settings: linux does not support configuration of maximum IOPs"
    assert refused({"IOMaximumBandwidth": 10}) == \
        "Invalid QoS settings: linux does not support configuration of maximum bandwidth"


# -- block I/O -------------------------------------------------------------------------------------


def test_blkio_weights_range_checked_then_discarded_without_the_files():
    assert refused({"BlkioWeight": 5}) == "Range of blkio weight is from 10 to 1000"
    h, w = host_of({"BlkioWeight": 500, "BlkioWeightDevice": [{"Path": "/dev/vda", "Weight": 300}]})
    assert h["BlkioWeight"] == 0 and h["BlkioWeightDevice"] == []
    assert w == ["Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
                 "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. "
                 "Weight-device discarded."]
    h, w = host_of({"BlkioWeight": 500}, V2)
    assert h["BlkioWeight"] == 500 and w == []
    assert "weight 5 for /dev/vda" in refused({"BlkioWeightDevice": [{"Path": "/dev/vda", "Weight": 5}]})


def test_throttles_need_block_devices_and_are_kept():
    throttle = {"BlkioDeviceReadBps": [{"Path": "/dev/vda", "Rate": 1 << 20}],
                "BlkioDeviceWriteIOps": [{"Path": "/dev/sdb", "Rate": 100}]}
    h, w = host_of(throttle)
    assert h["BlkioDeviceReadBps"] == throttle["BlkioDeviceReadBps"] and w == []
    assert refused({"BlkioDeviceReadBps": [{"Path": "/etc/passwd", "Rate": 1}]}) == \
        "invalid BlkioDeviceReadBps: /etc/passwd is not a block device"
    assert refused({"BlkioDeviceWriteBps": [{"Rate": 1}]}) == "invalid BlkioDeviceWriteBps: a device needs a Path"
    h, w = host_of(throttle, dataclasses.replace(V1, blkio_throttle=False))
    assert h["BlkioDeviceReadBps"] == [] and w == [
        "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. "
        "Block I/O BPS read limit discarded.",
        "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. "
        "Block I/O IOPS write limit discarded."]


def test_spec_resources_carry_every_applied_limit_with_device_numbers():
    h, _ = host_of({"Memory": 64 << 20, "MemoryReservation": 32 << 20, "MemorySwappiness": 0, "OomKillDisable": True,
                    "KernelMemoryTCP": 8 << 20, "CpuRealtimePeriod": 100000, "CpusetMems": "0",
                    "BlkioDeviceReadBps": [{"Path": "/dev/vda", "Rate": 4096}],
                    "BlkioDeviceWriteIOps": [{"Path": "/dev/sdb", "Rate": 9}]}, V1)
    r = resources(h, fake_block_device)
    assert (r.memory_reservation, r.memory_swappiness, r.oom_kill_disable) == (32 << 20, 0, True)
    assert (r.kernel_memory_tcp, r.cpu_rt_period, r.cpu_rt_runtime, r.cpuset_mems) == (8 << 20, 100000, None, "0")
    assert r.blkio_throttle_read_bps_device == [ThrottleDevice(254, 0, 4096)]
    assert r.blkio_throttle_write_iops_device == [ThrottleDevice(8, 16, 9)]
    assert r.blkio_throttle_write_bps_device is None and r.blkio_weight is None
    empty = resources(host_of({}, V1)[0], fake_block_device)
    assert (empty.oom_kill_disable, empty.memory_swappiness, empty.blkio_weight_device) == (None, None, None)
    h, _ = host_of({"BlkioWeight": 300, "BlkioWeightDevice": [{"Path": "/dev/vda", "Weight": 30}]},
                   dataclasses.replace(V1, blkio_weight=True, blkio_weight_device=True))
    r = resources(h, fake_block_device)
    assert r.blkio_weight == 300 and r.blkio_weight_device == [WeightDevice(254, 0, 30)]


# -- fields outside Resources ----------------------------------------------------------------------


def test_oom_score_adj_range_and_the_floor_without_cap_sys_resource():
    assert host_of({"OomScoreAdj": 500})[0]["OomScoreAdj"] == 500
    assert refused({"OomScoreAdj": 5000}) == "Invalid value 5000, range for oom score adj is [-1000, 1000]"
    assert refused({"OomScoreAdj": -500}) == \
        "Invalid value -500 for OomScoreAdj: going below 0 needs CAP_SYS_RESOURCE, which this daemon does not have"
    assert host_of({"OomScoreAdj": -500}, V1)[0]["OomScoreAdj"] == -500  # with CAP_SYS_RESOURCE
    lowered = dataclasses.replace(HERE, oom_score_adj=-300)  # a daemon started lower keeps that floor
    assert host_of({"OomScoreAdj": -300}, lowered)[0]["OomScoreAdj"] == -300


@pytest.mark.parametrize("host,message", [
    ({"Runtime": "foo"}, "Unknown runtime specified foo"),
    ({"Runtime": "runc"}, "Unknown runtime specified runc"),
    ({"Isolation": "hyperv"}, "Invalid isolation: \"hyperv\" - linux only supports 'default'"),
    ({"Cgroup": "container:abc"}, "invalid Cgroup container:abc: running in another container's cgroup is not "
                                  "supported by barge (CgroupParent is)"),
    ({"StorageOpt": {"size": "1G"}}, "--storage-opt (StorageOpt) is not supported by the vfs graph driver"),
    ({"Annotations": {"": "x"}}, "invalid Annotations: the empty string is not permitted as an annotation key"),
    ({"UsernsMode": "private"}, "user namespaces (UsernsMode) are not supported by barge"),
])
def test_fields_dockerd_would_drop_are_refused_naming_them(host, message):
    assert refused(host, dataclasses.replace(HERE, graph_driver="vfs")) == message


def test_accepted_values_of_those_fields():
    h, w = host_of({"Isolation": "Default", "VolumeDriver": "local", "UsernsMode": "host",
                    "Annotations": {"com.example": "1"}})
    assert (h["Runtime"], h["Isolation"], w) == ("native", "Default", [])
    assert host_of({"Runtime": "native"})[0]["Runtime"] == "native"


def test_published_ports_on_the_host_network_are_warned():
    w = host_of({"NetworkMode": "host", "PortBindings": {"80/tcp": [{"HostPort": "8080"}]}})[1]
    assert w == ["Published ports are discarded when using host network mode"]
    assert host_of({"NetworkMode": "host", "PublishAllPorts": True})[1] == w
    assert host_of({"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}})[1] == []


# -- update ----------------------------------------------------------------------------------------


def test_update_merges_only_given_values_and_refuses_what_cannot_change():
    host, _ = host_of({"Memory": 64 << 20, "CpuShares": 512, "PidsLimit": 10})
    zeros = {"Memory": 0, "MemorySwap": 0, "CpuShares": 0, "CpusetCpus": "", "BlkioWeightDevice": None,
             "Ulimits": None, "MemorySwappiness": None, "OomKillDisable": None, "PidsLimit": None, "CgroupParent": ""}
    assert merge_update(host, zeros) == host  # the docker CLI's zero values change nothing
    merged = merge_update(host, {**zeros, "CpusetMems": "0", "MemoryReservation": 16 << 20, "BlkioWeight": 300,
                                 "CpuRealtimePeriod": 500000, "MemorySwappiness": 0})
    assert (merged["CpusetMems"], merged["MemoryReservation"], merged["CpuRealtimePeriod"]) == ("0", 16 << 20, 500000)
    assert merged["MemorySwappiness"] == 0 and merged["BlkioWeight"] == 300
    assert merge_update(host, {"PidsLimit": -1})["PidsLimit"] == -1
    for key, value in (("Ulimits", [{"Name": "nofile", "Soft": 1, "Hard": 1}]), ("CgroupParent", "x"),
                       ("Devices", [{"PathOnHost": "/dev/null"}])):
        with pytest.raises(InvalidParameter, match=f"{key} cannot be updated on an existing container"):
            merge_update(host, {key: value})
    with pytest.raises(InvalidParameter, match="Memory limit should be smaller than already set memoryswap limit"):
        merge_update(host, {"Memory": 256 << 20, "MemorySwap": 0})
    assert merge_update(host, {"Memory": 256 << 20})["MemorySwap"] == 0  # recomputed as twice the memory


def test_update_warns_and_refuses_as_create_does():
    host, _ = host_of({"Memory": 64 << 20})
    warnings: list[str] = []
    merged = merge_update(host, {"KernelMemory": 10 << 20, "CpuPercent": 5})
    normalize_resources(merged, HERE, warnings, update=True)
    assert merged["KernelMemory"] == merged["CpuPercent"] == 0 and len(warnings) == 3
    with pytest.raises(InvalidParameter, match="Unknown|exceeds the real-time budget"):
        normalize_resources(merge_update(host, {"CpuRealtimeRuntime": 1000}), HERE, [], update=True)


# -- sysinfo ---------------------------------------------------------------------------------------


def test_sysinfo_reads_a_v2_root(tmp_path, monkeypatch):
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (tmp_path / "cpuset.cpus.effective").write_text("0-3\n")
    (tmp_path / "cpuset.mems.effective").write_text("0-1\n")
    monkeypatch.setattr(sysinfo, "_bfq", lambda: False)
    found = sysinfo._v2(str(tmp_path))
    assert found["cgroup_v2"] and found["memory_reservation"] and found["blkio_throttle"]
    assert not (found["memory_swappiness"] or found["oom_kill_disable"] or found["cpu_realtime"])
    assert not found["blkio_weight"] and (found["cpus"], found["mems"]) == ("0-3", "0-1")
    (tmp_path / "io.cost.qos").write_text("")
    assert sysinfo._v2(str(tmp_path))["blkio_weight"]


def test_sysinfo_of_this_machine_is_consistent():
    si = sysinfo.detect(graph_driver="vfs")
    assert si.ncpu >= 1 and si.graph_driver == "vfs" and si.runtime == "native"
    if not si.cgroup_v2 and si.cpu_root:
        assert si.cpu_realtime and si.rt_budget("/")[1] > 0
    with pytest.raises(ValueError, match="not a block device"):
        sysinfo.block_device("/etc/passwd")


# -- the spec a start gets -------------------------------------------------------------------------


def _spec(host: dict, shm_source: str = ""):
    from barge.containers.spec import StartInputs, build_spec
    from barge.containers.users import ExecUser

    h, _ = host_of(host, V1)
    config = {"Cmd": ["true"], "Hostname": "h", "Env": []}
    return build_spec("c" * 64, config, h, [], StartInputs(rootfs=[], user=ExecUser(0, 0, [], "/root"),
                                                          hostname_path="/h", hosts_path="/hs", resolv_path="/r",
                                                          log_path="/l", shm_source=shm_source))


def test_spec_carries_oom_score_annotations_and_no_shm_for_ipc_none():
    spec = _spec({"OomScoreAdj": 300, "Annotations": {"a": "b"}, "IpcMode": "none"})
    assert spec.process.oom_score_adj == 300 and spec.annotations == {"a": "b"}
    assert spec.shm_size == 0 and "/dev/shm" not in [m.destination for m in spec.mounts]
    assert _spec({}).process.oom_score_adj == 0  # written even when unset: not the daemon's own score


def test_shared_ipc_binds_the_shared_dev_shm_without_a_warning():
    """``shareable`` and ``container:`` bind the host directory the start gives (:mod:`barge.containers.sharing`)."""
    assert host_of({"IpcMode": "container:abc"})[1] == [] and host_of({"IpcMode": "shareable"})[1] == []
    for mode in ("shareable", "container:" + "a" * 64):
        shm = [m for m in _spec({"IpcMode": mode}, "/data/containers/x/mounts/shm").mounts
               if m.destination == "/dev/shm"]
        assert [(m.type, m.source, m.options) for m in shm] == [("bind", "/data/containers/x/mounts/shm",
                                                                 ["rbind", "rprivate"])]
    assert [m.type for m in _spec({"IpcMode": "shareable"}).mounts if m.destination == "/dev/shm"] == ["tmpfs"]
