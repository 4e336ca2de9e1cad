"""Resources -> cgroup files (``cglimits``): v2 on a directory of plain files standing for the
kernel's (this machine's cgroup2 tree has none of the memory, cpu or io files), v1 on real
cgroups of this machine, and the refusals of what a version has no file for."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from barge.errors import InvalidParameter
from barge.execdriver import Resources, ThrottleDevice, WeightDevice
from barge_exec_native.libcontainer import Cgroup, ContainerError, cglimits

V2_FILES = ("memory.max", "memory.swap.max", "memory.low", "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems",
            "pids.max", "io.max", "io.weight")


def _fake(tmp_path: Path, names=V2_FILES) -> Path:
    for name in names:
        (tmp_path / name).write_text("")
    return tmp_path


def _read(d: Path, name: str) -> str:
    return (d / name).read_text().strip()


def test_v2_writes_runc_s_files(tmp_path):
    d = _fake(tmp_path)
    cglimits.apply_v2(str(d), Resources(
        memory=64 << 20, memory_swap=128 << 20, memory_reservation=32 << 20, cpu_shares=512, cpu_quota=50000,
        cpu_period=100000, cpuset_cpus="0", cpuset_mems="0", pids_limit=20, blkio_weight=500,
        blkio_throttle_write_iops_device=[ThrottleDevice(254, 0, 100)]))
    assert _read(d, "memory.max") == str(64 << 20) and _read(d, "memory.swap.max") == str(64 << 20)
    assert _read(d, "memory.low") == str(32 << 20)
    assert _read(d, "cpu.weight") == "20" and _read(d, "cpu.max") == "50000 100000"
    assert (_read(d, "cpuset.cpus"), _read(d, "cpuset.mems"), _read(d, "pids.max")) == ("0", "0", "20")
    assert _read(d, "io.weight") == str(1 + (500 - 10) * 9999 // 990)  # io.weight's scale, no BFQ here
    assert _read(d, "io.max") == "254:0 wiops=100"


@pytest.mark.parametrize("field,rate,line", [
    ("blkio_throttle_read_bps_device", 1 << 20, f"8:16 rbps={1 << 20}"),
    ("blkio_throttle_write_bps_device", 0, "8:16 wbps=max"),  # 0 lifts the limit, as on v1
    ("blkio_throttle_read_iops_device", 7, "8:16 riops=7"),
])
def test_v2_throttles_are_io_max_lines(tmp_path, field, rate, line):
    d = _fake(tmp_path)
    cglimits.apply_v2(str(d), Resources(**{field: [ThrottleDevice(8, 16, rate)]}))
    assert _read(d, "io.max") == line


def test_v2_weights_go_to_bfq_when_it_is_there(tmp_path):
    d = _fake(tmp_path, V2_FILES + ("io.bfq.weight",))
    cglimits.apply_v2(str(d), Resources(blkio_weight=300))
    assert _read(d, "io.bfq.weight") == "300" and _read(d, "io.weight") == ""
    cglimits.apply_v2(str(d), Resources(blkio_weight_device=[WeightDevice(8, 0, 200)]))
    assert _read(d, "io.bfq.weight") == "8:0 200"
    plain = tmp_path / "no-bfq"
    plain.mkdir()
    with pytest.raises(ContainerError, match="BFQ"):
        cglimits.apply_v2(str(_fake(plain)), Resources(blkio_weight_device=[WeightDevice(8, 0, 200)]))


@pytest.mark.parametrize("field,value,v1_file", [
    ("memory_swappiness", 10, "memory.swappiness"), ("oom_kill_disable", True, "memory.oom_control"),
    ("kernel_memory", 64 << 20, "memory.kmem.limit_in_bytes"),
    ("kernel_memory_tcp", 64 << 20, "memory.kmem.tcp.limit_in_bytes"),
    ("cpu_rt_period", 100000, "cpu.rt_period_us"), ("cpu_rt_runtime", 1000, "cpu.rt_runtime_us"),
])
def test_v2_refuses_what_only_v1_has(tmp_path, field, value, v1_file):
    with pytest.raises(ContainerError, match=f"cgroup v2 has no equivalent of {v1_file}"):
        cglimits.apply_v2(str(_fake(tmp_path)), Resources(**{field: value}))


def test_v1_blkio_weight_needs_a_weight_file(tmp_path):
    with pytest.raises(ContainerError, match="none of blkio.weight, blkio.bfq.weight"):
        cglimits.blkio_v1(str(tmp_path), Resources(blkio_weight=500))
    (tmp_path / "blkio.bfq.weight").write_text("")
    (tmp_path / "blkio.bfq.weight_device").write_text("")
    cglimits.blkio_v1(str(tmp_path), Resources(blkio_weight=500, blkio_weight_device=[WeightDevice(8, 0, 20)]))
    assert _read(tmp_path, "blkio.bfq.weight") == "500" and _read(tmp_path, "blkio.bfq.weight_device") == "8:0 20"


# -- real v1 cgroups -------------------------------------------------------------------------------


def _root_device() -> tuple[int, int] | None:
    """A whole block device of this machine (partitions refuse throttles)."""
    for name in sorted(os.listdir("/sys/block")):
        if name.startswith(("loop", "ram", "zram", "dm-")):
            continue
        major, minor = Path(f"/sys/block/{name}/dev").read_text().split(":")
        return int(major), int(minor)
    return None


@pytest.fixture
def v1_cgroups(need_root):
    if Cgroup.layout() == "v2":
        pytest.skip("a cgroup v1 (or hybrid) machine")
    made: list[Cgroup] = []
    parent = f"barge-test-cglimits-{uuid.uuid4().hex[:8]}"

    def make(resources: Resources, rt_budget: int = 0) -> Cgroup:
        if rt_budget:
            cpu = Path(Cgroup("x").dirs["cpu"]).parent / parent
            cpu.mkdir(exist_ok=True)
            (cpu / "cpu.rt_runtime_us").write_text(str(rt_budget))
        cg = Cgroup(f"{parent}/{uuid.uuid4().hex}")
        made.append(cg)
        cg.create(resources)
        return cg

    yield make
    for cg in made:
        cg.destroy()
    for root in {os.path.dirname(os.path.dirname(d)) for cg in made for d in cg.unique}:
        if os.path.isdir(os.path.join(root, parent)):
            os.rmdir(os.path.join(root, parent))


def test_v1_files_on_this_machine(v1_cgroups):
    dev = _root_device()
    throttle = [ThrottleDevice(*dev, 1 << 20)] if dev else None
    cg = v1_cgroups(Resources(memory=64 << 20, memory_reservation=32 << 20, memory_swappiness=10,
                              oom_kill_disable=True, kernel_memory_tcp=16 << 20, cpu_rt_period=500000,
                              cpuset_mems="0", pids_limit=9, blkio_throttle_read_bps_device=throttle,
                              blkio_throttle_write_iops_device=[ThrottleDevice(*dev, 50)] if dev else None))
    mem, cpu = Path(cg.dirs["memory"]), Path(cg.dirs["cpu"])
    assert _read(mem, "memory.soft_limit_in_bytes") == str(32 << 20)
    assert _read(mem, "memory.swappiness") == "10"
    assert "oom_kill_disable 1" in _read(mem, "memory.oom_control")
    assert _read(mem, "memory.kmem.tcp.limit_in_bytes") == str(16 << 20)
    assert _read(cpu, "cpu.rt_period_us") == "500000" and _read(cpu, "cpu.rt_runtime_us") == "0"
    assert _read(Path(cg.dirs["cpuset"]), "cpuset.mems") == "0"
    if dev:
        blkio = Path(cg.dirs["blkio"])
        assert _read(blkio, "blkio.throttle.read_bps_device") == f"{dev[0]}:{dev[1]} {1 << 20}"
        assert _read(blkio, "blkio.throttle.write_iops_device") == f"{dev[0]}:{dev[1]} 50"


def test_v1_realtime_runtime_needs_the_parents_budget(v1_cgroups):
    with pytest.raises(InvalidParameter, match="parent cgroup's budget"):
        v1_cgroups(Resources(cpu_rt_runtime=1000))
    cg = v1_cgroups(Resources(cpu_rt_runtime=1000), rt_budget=20000)  # 0.1% of the cpu; the parent has 2%
    assert _read(Path(cg.dirs["cpu"]), "cpu.rt_runtime_us") == "1000"
    cg.set(Resources(cpu_rt_runtime=5000))  # update: more of the parent's budget
    assert _read(Path(cg.dirs["cpu"]), "cpu.rt_runtime_us") == "5000"


def test_v1_cpuset_mems_off_the_machine_is_dockers_message(v1_cgroups):
    with pytest.raises(InvalidParameter, match="Requested memory nodes are not available - requested 7, available: 0"):
        v1_cgroups(Resources(cpuset_mems="7"))
