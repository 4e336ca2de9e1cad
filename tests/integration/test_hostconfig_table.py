"""docs/hostconfig.md, row by row, against a real daemon and real containers.

Every HostConfig field has cases here (a field without any fails): each
creates a container with an example value and sees what the row says —
*applied*: the container shows it (its cgroup files, ``/proc/<pid>/...``,
its mounts and files, inspect); *refused*: a 400 whose message the row
quotes; *warned*: the warning, quoted by the row, in the create answer.
What depends on the machine is decided from the daemon's own
:func:`barge.containers.sysinfo.detect`, so the walk holds on v1, hybrid
and v2 hosts alike. Then ``update`` is walked the same way.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from barge.containers import sysinfo
from barge.containers.request import HOST_CONFIG_FIELDS
from barge.testing.wait import wait_for
from tests.hostconfig_doc import by_field
from tests.integration.helpers import inspect, joined, rm

SI = sysinfo.detect()
GiB = 1 << 30


@dataclass
class Seen:
    """What a started container shows: its record, its init's pid (0 once it exited), its output."""

    box: object
    cid: str
    info: dict
    pid: int
    out: str

    def proc(self, name: str) -> str:
        return Path(f"/proc/{self.pid}/{name}").read_text()

    def file(self, path: str) -> str:
        return Path(f"/proc/{self.pid}/root{path}").read_text()

    def cgroup(self, controller: str, v1: str, v2: str | None = None) -> str:
        parent = (self.info["HostConfig"].get("CgroupParent") or "barge").strip("/")
        if SI.cgroup_v2:
            return Path(f"/sys/fs/cgroup/{parent}/{self.cid}/{v2 or v1}").read_text().strip()
        return Path(f"/sys/fs/cgroup/{controller}/{parent}/{self.cid}/{v1}").read_text().strip()

    def mount(self, target: str) -> list[str]:
        """The file system type and options of ``target`` in the container (its last mount there), or []."""
        found: list[str] = []
        for line in self.proc("mountinfo").splitlines():
            parts = line.split()
            if parts[4] == target:
                fstype, _source, superopts = line.partition(" - ")[2].split()[:3]
                found = [fstype, *parts[5].split(","), *superopts.split(",")]
        return found

    def same_ns(self, kind: str) -> bool:
        return os.readlink(f"/proc/{self.pid}/ns/{kind}") == os.readlink(f"/proc/self/ns/{kind}")

    def status(self, key: str) -> str:
        return next(line.split(":", 1)[1].strip() for line in self.proc("status").splitlines()
                    if line.startswith(key + ":"))

    def cap(self, bit: int) -> bool:
        return bool(int(self.status("CapEff"), 16) >> bit & 1)


@dataclass
class Case:
    """One example: ``host`` (and ``config`` at the top level) sent to create, and what follows."""

    expect: str  # applied | refused | warned | client-only
    host: dict
    message: str = ""  # refused: the 400's message; warned (or applied with a warning): the warning
    check: Callable[[Seen], object] | None = None  # applied: raises or returns false when not so
    cmd: list[str] | None = None  # run to completion; check sees its output
    config: dict = field(default_factory=dict)


def _block_device() -> tuple[str, int, int] | None:
    """A whole disk of this machine, by a /dev path (partitions take no throttle)."""
    for name in sorted(os.listdir("/sys/block")):
        if name.startswith(("loop", "ram", "zram", "dm-")) or not os.path.exists(f"/dev/{name}"):
            continue
        major, minor = Path(f"/sys/block/{name}/dev").read_text().strip().split(":")
        return f"/dev/{name}", int(major), int(minor)
    return None


DEV = _block_device()
RT_PARENT = f"barge-hc-rt-{uuid.uuid4().hex[:6]}"


def _throttle(key: str, v1_file: str, v2_key: str, what: str, discarded: str) -> list[Case]:
    if DEV is None:
        return [Case("refused", {key: [{"Path": "/etc/passwd", "Rate": 1}]},
                     f"invalid {key}: /etc/passwd is not a block device")]
    path, major, minor = DEV
    host = {key: [{"Path": path, "Rate": 4096}]}
    if not SI.blkio_throttle:
        return [Case("warned", host, f"Your kernel does not support {what} or the cgroup is not mounted. "
                                     f"{discarded} discarded.")]
    line = f"{major}:{minor} {4096}" if not SI.cgroup_v2 else f"{major}:{minor} {v2_key}=4096"
    return [Case("applied", host, check=lambda s: line in s.cgroup("blkio", v1_file, "io.max"))]


def _weight_device() -> list[Case]:
    if DEV is None:
        return [Case("refused", {"BlkioWeightDevice": [{"Path": "/etc/passwd", "Weight": 500}]},
                     "invalid BlkioWeightDevice: /etc/passwd is not a block device")]
    path, major, minor = DEV
    host = {"BlkioWeightDevice": [{"Path": path, "Weight": 500}]}
    if not SI.blkio_weight_device:
        return [Case("warned", host, "Your kernel does not support Block I/O weight_device or the cgroup is not "
                                     "mounted. Weight-device discarded.")]
    return [Case("applied", host,
                 check=lambda s: f"{major}:{minor}" in s.cgroup("blkio", "blkio.weight_device", "io.bfq.weight"))]


def _v1_or_warned(key: str, value, controller: str, v1_file: str, expected: str, warning: str,
                  supported: bool) -> list[Case]:
    if supported:
        return [Case("applied", {key: value}, check=lambda s: s.cgroup(controller, v1_file) == expected)]
    return [Case("warned", {key: value}, warning)]


CASES: dict[str, Callable[[], list[Case]]] = {
    "Binds": lambda: [Case("applied", {"Binds": ["/etc:/host-etc:ro"]},
                           check=lambda s: "ro" in s.mount("/host-etc") and s.file("/host-etc/passwd"))],
    "ContainerIDFile": lambda: [Case("client-only", {"ContainerIDFile": "/tmp/barge-hc.cid"},
                                     check=lambda s: s.info["HostConfig"]["ContainerIDFile"] == "/tmp/barge-hc.cid"
                                     and not os.path.exists("/tmp/barge-hc.cid"))],
    "LogConfig": lambda: [
        Case("applied", {"LogConfig": {"Type": "none"}}, cmd=["echo", "unseen"],
             check=lambda s: not os.path.exists(s.info["LogPath"]) or os.path.getsize(s.info["LogPath"]) == 0),
        Case("applied", {"LogConfig": {"Type": "json-file", "Config": {"max-size": "1k"}}}, cmd=["echo", "seen"],
             check=lambda s: s.out == "seen\n"),
        Case("refused", {"LogConfig": {"Type": "bogus"}},
             'error looking up logging plugin bogus: plugin "bogus" not found')],
    "NetworkMode": lambda: [Case("applied", {"NetworkMode": "none"},
                                 check=lambda s: [ln.split(":")[0].strip() for ln in s.proc("net/dev").splitlines()[2:]]
                                 == ["lo"])],
    "PortBindings": lambda: [
        Case("applied", {"PortBindings": {"80/tcp": [{"HostPort": ""}]}}, config={"ExposedPorts": {"80/tcp": {}}},
             check=lambda s: int(s.info["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]) > 0),
        Case("warned", {"NetworkMode": "host", "PortBindings": {"80/tcp": [{"HostPort": "8080"}]}},
             "Published ports are discarded when using host network mode")],
    "RestartPolicy": lambda: [Case("applied", {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 1}},
                                   cmd=["false"], check=lambda s: wait_for(
                                       lambda: inspect(s.box, s.cid)["RestartCount"] == 1, what="one restart"))],
    "AutoRemove": lambda: [Case("applied", {"AutoRemove": True}, cmd=["true"], check=lambda s: wait_for(
        lambda: s.box.request("GET", f"/containers/{s.cid}/json")[0] == 404, what="the container removed"))],
    "VolumeDriver": lambda: [
        Case("applied", {"VolumeDriver": "local", "Binds": [f"hc-{uuid.uuid4().hex[:8]}:/v"]},
             check=lambda s: s.info["Mounts"][0]["Driver"] == "local" and s.mount("/v"))],
    "VolumesFrom": lambda: [Case("refused", {"VolumesFrom": ["nosuch"]}, "No such container: nosuch"),
                            Case("refused", {"VolumesFrom": ["x:shared"]}, "invalid mode: shared")],
    "ConsoleSize": lambda: [Case("applied", {"ConsoleSize": [30, 100]}, config={"Tty": True}, cmd=["stty", "size"],
                                 check=lambda s: s.out.strip() == "30 100")],
    "Annotations": lambda: [
        Case("applied", {"Annotations": {"com.example.hc": "yes"}},
             check=lambda s: s.info["HostConfig"]["Annotations"] == {"com.example.hc": "yes"} and json.loads(
                 (s.box.exec_root / "containers" / s.cid / "spec.json").read_text())["annotations"]
             == {"com.example.hc": "yes"}),
        Case("refused", {"Annotations": {"": "x"}},
             "invalid Annotations: the empty string is not permitted as an annotation key")],
    "CapAdd": lambda: [Case("applied", {"CapAdd": ["SYS_TIME"]}, check=lambda s: s.cap(25))],
    "CapDrop": lambda: [Case("applied", {"CapDrop": ["CHOWN"]}, check=lambda s: not s.cap(0) and s.cap(1))],
    "CgroupnsMode": lambda: [Case("applied", {"CgroupnsMode": "private"}, check=lambda s: not s.same_ns("cgroup"))],
    "Dns": lambda: [Case("applied", {"Dns": ["192.0.2.53"]},
                         check=lambda s: "nameserver 192.0.2.53" in s.file("/etc/resolv.conf"))],
    "DnsOptions": lambda: [Case("applied", {"DnsOptions": ["ndots:3"]},
                                check=lambda s: "options ndots:3" in s.file("/etc/resolv.conf"))],
    "DnsSearch": lambda: [Case("applied", {"DnsSearch": ["hc.example"]},
                               check=lambda s: "search hc.example" in s.file("/etc/resolv.conf"))],
    "ExtraHosts": lambda: [Case("applied", {"ExtraHosts": ["hc-host:192.0.2.7"]},
                                check=lambda s: "192.0.2.7\thc-host" in s.file("/etc/hosts"))],
    "GroupAdd": lambda: [Case("applied", {"GroupAdd": ["4321"]}, check=lambda s: "4321" in s.status("Groups").split())],
    "IpcMode": lambda: [Case("applied", {"IpcMode": "host"}, check=lambda s: s.same_ns("ipc")),
                        Case("applied", {"IpcMode": "none"}, check=lambda s: s.mount("/dev/shm") == []),
                        Case("refused", {"IpcMode": "container:nosuch"}, "No such container: nosuch")],
    "Cgroup": lambda: [Case("refused", {"Cgroup": "foo"},
                            "invalid Cgroup foo: running in another container's cgroup is not supported by barge "
                            "(CgroupParent is)")],
    "Links": lambda: [
        Case("refused", {"Links": ["nosuch"]}, "could not get container for nosuch: No such container: nosuch"),
        Case("refused", {"NetworkMode": "host", "Links": ["x"]},
             "conflicting options: host type networking can't be used with links. This would result in undefined "
             "behavior")],
    "OomScoreAdj": lambda: [
        Case("applied", {"OomScoreAdj": 500}, check=lambda s: s.proc("oom_score_adj").strip() == "500"),
        Case("refused", {"OomScoreAdj": 5000}, "Invalid value 5000, range for oom score adj is [-1000, 1000]"),
        Case("applied", {"OomScoreAdj": -500}, check=lambda s: s.proc("oom_score_adj").strip() == "-500")
        if SI.sys_resource else
        Case("refused", {"OomScoreAdj": -500}, "Invalid value -500 for OomScoreAdj: going below 0 needs "
                                               "CAP_SYS_RESOURCE, which this daemon does not have")],
    "PidMode": lambda: [Case("applied", {"PidMode": "host"}, check=lambda s: s.same_ns("pid")),
                        Case("refused", {"PidMode": "container:nosuch"}, "No such container: nosuch")],
    "Privileged": lambda: [Case("applied", {"Privileged": True}, check=lambda s: s.cap(21) and "rw" in s.mount("/sys"))],
    "PublishAllPorts": lambda: [
        Case("applied", {"PublishAllPorts": True}, config={"ExposedPorts": {"81/tcp": {}}},
             check=lambda s: int(s.info["NetworkSettings"]["Ports"]["81/tcp"][0]["HostPort"]) > 0),
        Case("warned", {"NetworkMode": "host", "PublishAllPorts": True},
             "Published ports are discarded when using host network mode")],
    "ReadonlyRootfs": lambda: [Case("applied", {"ReadonlyRootfs": True}, check=lambda s: "ro" in s.mount("/"))],
    "SecurityOpt": lambda: [
        Case("applied", {"SecurityOpt": ["no-new-privileges"]}, check=lambda s: s.status("NoNewPrivs") == "1"),
        Case("refused", {"SecurityOpt": ["totally-bogus=1"]}, 'invalid --security-opt 2: "totally-bogus=1"')],
    "StorageOpt": lambda: [Case("refused", {"StorageOpt": {"size": "1G"}},
                                "--storage-opt (StorageOpt) is not supported by the {graph_driver} graph driver")],
    "Tmpfs": lambda: [Case("applied", {"Tmpfs": {"/hc-tmp": "size=1m"}}, check=lambda s: "tmpfs" in s.mount("/hc-tmp"))],
    "UTSMode": lambda: [Case("applied", {"UTSMode": "host"}, check=lambda s: s.same_ns("uts"))],
    "UsernsMode": lambda: [
        Case("applied", {"UsernsMode": "host"}, check=lambda s: s.same_ns("user")),
        Case("refused", {"UsernsMode": "private"}, "user namespaces (UsernsMode) are not supported by barge")],
    "ShmSize": lambda: [Case("applied", {"ShmSize": 1 << 20}, check=lambda s: "size=1024k" in s.mount("/dev/shm"))],
    "Sysctls": lambda: [Case("applied", {"Sysctls": {"kernel.msgmax": "65537"}}, cmd=["cat", "/proc/sys/kernel/msgmax"],
                             check=lambda s: s.out.strip() == "65537"),
                        Case("applied", {"Sysctls": {"net.ipv4.ip_unprivileged_port_start": "99"}},
                             cmd=["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"],
                             check=lambda s: s.out.strip() == "99"),
                        Case("refused", {"Sysctls": {"kernel.panic": "1"}},
                             "sysctl 'kernel.panic' is not allowed: it is not namespaced"),
                        Case("refused", {"NetworkMode": "host", "Sysctls": {"net.ipv4.ip_forward": "1"}},
                             "sysctl 'net.ipv4.ip_forward' is not allowed in host net namespace")],
    "Runtime": lambda: [Case("applied", {"Runtime": "native"}, check=lambda s: s.info["HostConfig"]["Runtime"] == "native"),
                        Case("refused", {"Runtime": "foo"}, "Unknown runtime specified foo")],
    "Isolation": lambda: [Case("applied", {"Isolation": "default"}, check=lambda s: s.pid > 0),
                          Case("refused", {"Isolation": "hyperv"},
                               "Invalid isolation: \"hyperv\" - linux only supports 'default'")],
    # -- Resources --
    "CpuShares": lambda: [Case("applied", {"CpuShares": 512},
                               check=lambda s: s.cgroup("cpu", "cpu.shares", "cpu.weight") in ("512", "20"))],
    "Memory": lambda: [Case("applied", {"Memory": 64 << 20},
                            check=lambda s: s.cgroup("memory", "memory.limit_in_bytes", "memory.max") == str(64 << 20))],
    "NanoCpus": lambda: [Case("applied", {"NanoCpus": 500_000_000},
                              check=lambda s: s.cgroup("cpu", "cpu.cfs_quota_us", "cpu.max").split()[0] == "50000")],
    "CgroupParent": lambda: [Case("applied", {"CgroupParent": "barge-hc-parent"},
                                  check=lambda s: f"/barge-hc-parent/{s.cid}" in s.proc("cgroup"))],
    "BlkioWeight": lambda: [
        Case("applied", {"BlkioWeight": 500}, check=lambda s: s.cgroup("blkio", "blkio.weight", "io.weight"))
        if SI.blkio_weight else
        Case("warned", {"BlkioWeight": 500},
             "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."),
        Case("refused", {"BlkioWeight": 5}, "Range of blkio weight is from 10 to 1000")],
    "BlkioWeightDevice": lambda: _weight_device(),
    "BlkioDeviceReadBps": lambda: _throttle("BlkioDeviceReadBps", "blkio.throttle.read_bps_device", "rbps",
                                            "BPS Block I/O read limit", "Block I/O BPS read limit"),
    "BlkioDeviceWriteBps": lambda: _throttle("BlkioDeviceWriteBps", "blkio.throttle.write_bps_device", "wbps",
                                             "BPS Block I/O write limit", "Block I/O BPS write limit"),
    "BlkioDeviceReadIOps": lambda: _throttle("BlkioDeviceReadIOps", "blkio.throttle.read_iops_device", "riops",
                                             "IOPS Block read limit", "Block I/O IOPS read limit"),
    "BlkioDeviceWriteIOps": lambda: _throttle("BlkioDeviceWriteIOps", "blkio.throttle.write_iops_device", "wiops",
                                              "IOPS Block write limit", "Block I/O IOPS write limit"),
    "CpuPeriod": lambda: [Case("applied", {"CpuPeriod": 50000},
                               check=lambda s: s.cgroup("cpu", "cpu.cfs_period_us", "cpu.max").split()[-1] == "50000")],
    "CpuQuota": lambda: [Case("applied", {"CpuQuota": 20000},
                              check=lambda s: s.cgroup("cpu", "cpu.cfs_quota_us", "cpu.max").split()[0] == "20000")],
    "CpuRealtimePeriod": lambda: [
        Case("applied", {"CpuRealtimePeriod": 500000}, check=lambda s: s.cgroup("cpu", "cpu.rt_period_us") == "500000")
        if SI.cpu_realtime else
        Case("refused", {"CpuRealtimePeriod": 500000}, "Your kernel does not support CPU real-time scheduler")],
    "CpuRealtimeRuntime": lambda: [
        Case("refused", {"CpuRealtimeRuntime": 1000},
             "CpuRealtimeRuntime 1000 exceeds the real-time budget of the parent cgroup barge (cpu.rt_runtime_us 0 "
             "per cpu.rt_period_us 1000000): give that cgroup a budget first, or set CgroupParent to one that has it"),
        Case("applied", {"CgroupParent": RT_PARENT, "CpuRealtimeRuntime": 1000},
             check=lambda s: s.cgroup("cpu", "cpu.rt_runtime_us") == "1000")]
        if SI.cpu_realtime else
        [Case("refused", {"CpuRealtimeRuntime": 1000}, "Your kernel does not support CPU real-time scheduler")],
    "CpusetCpus": lambda: [Case("applied", {"CpusetCpus": "0"}, check=lambda s: s.cgroup("cpuset", "cpuset.cpus") == "0"),
                           Case("refused", {"CpusetCpus": "0-7"},
                                f"Requested CPUs are not available - requested 0-7, available: {SI.available_cpus}")],
    "CpusetMems": lambda: [Case("applied", {"CpusetMems": "0"}, check=lambda s: s.cgroup("cpuset", "cpuset.mems") == "0"),
                           Case("refused", {"CpusetMems": "5"},
                                f"Requested memory nodes are not available - requested 5, available: {SI.mems}")],
    "Devices": lambda: [
        Case("applied", {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/hc-null",
                                      "CgroupPermissions": "rwm"}]},
             check=lambda s: os.stat(f"/proc/{s.pid}/root/dev/hc-null").st_rdev == os.makedev(1, 3)),
        Case("refused", {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n",
                                      "CgroupPermissions": "rwx"}]},
             "invalid device mode: rwx (for device /dev/null): use r, w and m")],
    "DeviceCgroupRules": lambda: [
        Case("applied", {"DeviceCgroupRules": ["c 1:11 r"]},  # v2: the eBPF program, seen by tests/security
             check=lambda s: SI.cgroup_v2 or "c 1:11 r" in s.cgroup("devices", "devices.list").splitlines()),
        Case("refused", {"DeviceCgroupRules": ["x 1:3 rwm"]}, "invalid device cgroup rule format: 'x 1:3 rwm'")],
    "DeviceRequests": lambda: [Case("refused", {"DeviceRequests": [{"Count": -1, "Capabilities": [["gpu"]]}]},
                                    'could not select device driver "" with capabilities: [[gpu]]')],
    "KernelMemory": lambda: [Case("warned", {"KernelMemory": 64 << 20},
                                  "Specifying a kernel memory limit is deprecated and will be removed in a future release."),
                             Case("warned" if not SI.kernel_memory else "applied", {"KernelMemory": 64 << 20},
                                  "Your kernel does not support kernel memory limit capabilities or the cgroup is "
                                  "not mounted. Limitation discarded." if not SI.kernel_memory else "",
                                  check=None if not SI.kernel_memory else
                                  lambda s: s.cgroup("memory", "memory.kmem.limit_in_bytes") == str(64 << 20))],
    "KernelMemoryTCP": lambda: _v1_or_warned(
        "KernelMemoryTCP", 64 << 20, "memory", "memory.kmem.tcp.limit_in_bytes", str(64 << 20),
        "Your kernel does not support kernel memory TCP limit capabilities or the cgroup is not mounted. "
        "Limitation discarded.", SI.kernel_memory_tcp),
    "MemoryReservation": lambda: [
        Case("applied", {"MemoryReservation": 32 << 20},
             check=lambda s: s.cgroup("memory", "memory.soft_limit_in_bytes", "memory.low") == str(32 << 20)),
        Case("refused", {"Memory": 16 << 20, "MemoryReservation": 32 << 20},
             "Minimum memory limit can not be less than memory reservation limit, see usage")],
    "MemorySwap": lambda: [
        Case("applied", {"Memory": 64 << 20, "MemorySwap": 128 << 20},
             check=lambda s: s.cgroup("memory", "memory.memsw.limit_in_bytes", "memory.swap.max")
             in (str(128 << 20), str(64 << 20)))
        if SI.swap_limit else
        Case("warned", {"Memory": 64 << 20, "MemorySwap": 128 << 20},
             "Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
             "Memory limited without swap.")],
    "MemorySwappiness": lambda: _v1_or_warned(
        "MemorySwappiness", 50, "memory", "memory.swappiness", "50",
        "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. "
        "Memory swappiness discarded.", SI.memory_swappiness) + [
        Case("refused", {"MemorySwappiness": 150}, "Invalid value: 150, valid memory swappiness range is 0-100")],
    "OomKillDisable": lambda: [
        Case("applied", {"OomKillDisable": True, "Memory": 64 << 20},
             check=lambda s: "oom_kill_disable 1" in s.cgroup("memory", "memory.oom_control")),
        Case("applied", {"OomKillDisable": True},
             "OOM killer is disabled for the container, but no memory limit is set, this can result in the system "
             "running out of resources.", check=lambda s: "oom_kill_disable 1" in s.cgroup("memory", "memory.oom_control"))]
        if SI.oom_kill_disable else
        [Case("warned", {"OomKillDisable": True, "Memory": 64 << 20},
              "Your kernel does not support OomKillDisable. OomKillDisable discarded.")],
    "PidsLimit": lambda: [Case("applied", {"PidsLimit": 50}, check=lambda s: s.cgroup("pids", "pids.max") == "50")],
    "Ulimits": lambda: [Case("applied", {"Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}]},
                             check=lambda s: any(ln.startswith("Max open files") and ln.split()[3:5] == ["100", "200"]
                                                 for ln in s.proc("limits").splitlines()))],
    "CpuCount": lambda: [Case("warned", {"CpuCount": 1}, "linux does not support CPU count. Count discarded.")],
    "CpuPercent": lambda: [Case("warned", {"CpuPercent": 50}, "linux does not support CPU percent. Percent discarded.")],
    "IOMaximumIOps": lambda: [Case("refused", {"IOMaximumIOps": 10},
                                   "Invalid QoS settings: linux does not support configuration of maximum IOPs")],
    "IOMaximumBandwidth": lambda: [Case("refused", {"IOMaximumBandwidth": 10},
                                        "Invalid QoS settings: linux does not support configuration of maximum bandwidth")],
    "Mounts": lambda: [Case("applied", {"Mounts": [{"Type": "tmpfs", "Target": "/hc-mnt"}]},
                            check=lambda s: "tmpfs" in s.mount("/hc-mnt")),
                       Case("refused", {"Mounts": [{"Type": "bind", "Source": "/nonexistent-barge", "Target": "/m"}]},
                            'invalid mount config for type "bind": bind source path does not exist: '
                            "/nonexistent-barge")],
    "MaskedPaths": lambda: [Case("applied", {"MaskedPaths": ["/etc/group"]},
                                 check=lambda s: s.mount("/etc/group") and s.file("/etc/group") == "")],
    "ReadonlyPaths": lambda: [Case("applied", {"ReadonlyPaths": ["/etc"]}, check=lambda s: "ro" in s.mount("/etc"))],
    "Init": lambda: [Case("applied", {"Init": True}, check=lambda s: any(
        Path(f"/proc/{child}/cmdline").read_bytes().startswith(b"sleep")
        for child in Path(f"/proc/{s.pid}/task/{s.pid}/children").read_text().split()))],
}


@pytest.fixture(scope="module")
def rt_parent():
    """A parent cgroup with a real-time budget (v1), for the applied CpuRealtimeRuntime case."""
    path = Path("/sys/fs/cgroup/cpu") / RT_PARENT
    if SI.cpu_realtime and not SI.cgroup_v2:
        path.mkdir()
        (path / "cpu.rt_runtime_us").write_text("10000")
    yield
    if path.exists():
        (path / "cpu.rt_runtime_us").write_text("0")
        path.rmdir()


def _create(box, case: Case) -> tuple[int, dict]:
    body = {"Image": "busybox", "Cmd": case.cmd or ["sleep", "60"], **case.config, "HostConfig": case.host}
    status, _, data = box.request("POST", "/v1.47/containers/create", body)
    return status, json.loads(data)


def _observe(box, case: Case) -> tuple[str, list[str]]:
    """Create (and start, for what is accepted) the case's container; (what happened, warnings or message)."""
    status, answer = _create(box, case)
    if status != 201:
        assert status == 400, answer
        return "refused", [answer["message"]]
    cid, warnings = answer["Id"], answer["Warnings"] or []
    try:
        status, _, data = box.request("POST", f"/containers/{cid}/start")
        assert status == 204, data
        out = ""
        if case.cmd:
            box.request("POST", f"/containers/{cid}/wait")
            status, _, logs = box.request("GET", f"/containers/{cid}/logs?stdout=1&stderr=1")
            out = (logs if case.config.get("Tty") else joined(logs, 1) + joined(logs, 2)).decode() if status == 200 else ""
        status, _, data = box.request("GET", f"/containers/{cid}/json")  # one look: AutoRemove may remove it
        info = json.loads(data) if status == 200 else {"HostConfig": {}}
        seen = Seen(box, cid, info, (info.get("State") or {}).get("Pid") or 0, out)
        if case.check is not None:
            assert case.check(seen), f"{case.host}: not applied as the table says"
    finally:
        rm(box, cid)
    return ("warned" if warnings and case.expect == "warned" else "applied"), warnings


@pytest.mark.parametrize("key", HOST_CONFIG_FIELDS)
def test_each_field_does_what_its_row_says(box, rt_parent, key):
    assert key in CASES, f"{key}: no case walks this row of docs/hostconfig.md"
    row = by_field()[key]
    for case in CASES[key]():
        assert case.expect in row.treatments, f"{key}: the row does not list {case.expect}"
        happened, messages = _observe(box, case)
        expected = "applied" if case.expect == "client-only" else case.expect
        assert happened == expected, f"{key} {case.host}: {happened} {messages}, the table says {case.expect}"
        if case.message:
            assert case.message.replace("{graph_driver}", box.driver) in messages, (key, messages)
            assert row.quotes(case.message), f"{key}: the row does not quote {case.message!r}"
            if happened == "applied":
                assert "warned" in row.treatments, f"{key}: applied with a warning, the row says no warning"
        elif happened == "applied":
            assert messages == [], f"{key} {case.host}: unexpected warnings {messages}"


# -- update ----------------------------------------------------------------------------------------


def test_update_applies_warns_and_refuses_like_create(box):
    status, answer = _create(box, Case("applied", {"Memory": 64 << 20, "OomKillDisable": True}))
    cid = answer["Id"]
    try:
        assert box.request("POST", f"/containers/{cid}/start")[0] == 204
        info = inspect(box, cid)
        seen = Seen(box, cid, info, info["State"]["Pid"], "")
        # the docker CLI sends every field; zero values change nothing, the rest is written at once
        zeros = {"BlkioWeight": 0, "CpuShares": 0, "Memory": 0, "MemorySwap": 0, "KernelMemory": 0, "CpusetCpus": "",
                 "CpusetMems": "", "Ulimits": None, "MemorySwappiness": None, "OomKillDisable": None,
                 "PidsLimit": None, "CpuCount": 0, "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}}
        upd = box.json("POST", f"/containers/{cid}/update", {**zeros, "MemoryReservation": 16 << 20,
                                                             "CpusetMems": "0", "PidsLimit": 30})
        assert not upd["Warnings"]  # OomKillDisable's no-memory warning belongs to create, and it has memory
        assert seen.cgroup("memory", "memory.soft_limit_in_bytes", "memory.low") == str(16 << 20)
        assert seen.cgroup("cpuset", "cpuset.mems") == "0" and seen.cgroup("pids", "pids.max") == "30"
        assert box.json("POST", f"/containers/{cid}/update", {**zeros, "PidsLimit": -1})["Warnings"] is None
        assert seen.cgroup("pids", "pids.max") == "max"
        hc = inspect(box, cid)["HostConfig"]
        assert (hc["MemoryReservation"], hc["CpusetMems"], hc["PidsLimit"], hc["Memory"]) == (16 << 20, "0", None, 64 << 20)
        upd = box.json("POST", f"/containers/{cid}/update", {**zeros, "KernelMemory": 64 << 20, "CpuCount": 1})
        assert "linux does not support CPU count. Count discarded." in upd["Warnings"]
        assert "Specifying a kernel memory limit is deprecated and will be removed in a future release." in upd["Warnings"]
        for body, message in (({"Ulimits": [{"Name": "nofile", "Soft": 1, "Hard": 1}]},
                               "Ulimits cannot be updated on an existing container"),
                              ({"IOMaximumIOps": 5}, "Invalid QoS settings: linux does not support configuration of maximum IOPs"),
                              ({"MemorySwappiness": 150}, "Invalid value: 150, valid memory swappiness range is 0-100"),
                              ({"CpusetMems": "5"}, "Requested memory nodes are not available - requested 5")):
            status, _, data = box.request("POST", f"/containers/{cid}/update", {**zeros, **body})
            assert status == 400 and message in json.loads(data)["message"], data
        if SI.blkio_weight:
            return
        upd = box.json("POST", f"/containers/{cid}/update", {**zeros, "BlkioWeight": 300})
        assert upd["Warnings"] == ["Your kernel does not support Block I/O weight or the cgroup is not mounted. "
                                   "Weight discarded."]
        assert inspect(box, cid)["HostConfig"]["BlkioWeight"] == 0
    finally:
        rm(box, cid)


def test_ipc_container_mode_shares_the_namespace_and_dev_shm(box):
    """The row's ``container:`` case needs a second container: its IPC namespace and its /dev/shm."""
    owner = box.json("POST", "/v1.47/containers/create", {
        "Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": {"IpcMode": "shareable"}}, expect=201)["Id"]
    joiner = None
    try:
        assert box.request("POST", f"/containers/{owner}/start")[0] == 204
        answer = box.json("POST", "/v1.47/containers/create", {
            "Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": {"IpcMode": f"container:{owner}"}}, expect=201)
        joiner = answer["Id"]
        assert answer["Warnings"] == []
        assert box.request("POST", f"/containers/{joiner}/start")[0] == 204
        pids = [inspect(box, c)["State"]["Pid"] for c in (owner, joiner)]
        assert len({os.readlink(f"/proc/{pid}/ns/ipc") for pid in pids}) == 1
        assert len({os.stat(f"/proc/{pid}/root/dev/shm").st_dev for pid in pids}) == 1
    finally:
        if joiner:
            rm(box, joiner)
        rm(box, owner)
