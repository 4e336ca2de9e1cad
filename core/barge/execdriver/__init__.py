"""The exec driver contract: what a container is, as plain data, and its runtime state.

Core turns an image config and a create request into a :class:`ContainerSpec`
(like runc's ``libcontainer/configs``: data, no behaviour). The exec driver
(``barge.exec_drivers`` entry point, e.g. ``native``) makes it a running,
isolated process under a per-container *monitor* that outlives the daemon,
and answers for its state. Everything here is JSON-serialisable with
:func:`to_json` / :func:`spec_from_json`, so a monitor process can be handed a
spec through a file.

Runtime files of one container live in its *state dir*,
``<exec_root>/containers/<id>/`` (given to the driver as ``state_dir``):

* ``spec.json``     - the spec the container was created with;
* ``monitor.pid``   - the monitor's pid and start time (``"<pid> <starttime>"``);
* ``attach.sock``   - the monitor's attach socket (see ATTACH PROTOCOL below);
* ``exit.json``     - written atomically by the monitor when init exits:
  ``{"exit_code": int, "oom_killed": bool, "finished_at": RFC3339Nano,
  "error": str}``.

ATTACH PROTOCOL (monitor side; the daemon's ``/attach`` and ``/exec/start``
routes proxy it to hijacked HTTP connections). A client connects to
``attach.sock`` and writes one JSON line::

    {"stdin": bool, "stdout": bool, "stderr": bool, "exec_id": str|null,
     "detach_keys": str|null}

The monitor answers one JSON line ``{"ok": true}`` (or ``{"ok": false,
"error": "..."}``), then sends frames ``<u8 stream><u32 big-endian length>
<payload>``: stream 1 = stdout, 2 = stderr (with a TTY everything is stream
1), stream 3 = the process exited, payload JSON ``{"exit_code": int}``, after
which the monitor closes the connection. Bytes the client writes after its
JSON line are the process's stdin. The client's EOF (its half-close,
``shutdown SHUT_WR``, or its hang-up) closes the process's stdin when the
process was started with ``stdin_once`` and has no terminal (moby's rule);
with a terminal it only ends that client's stdin (a detach or a dropped
``-it`` client leaves the shell running), and without ``stdin_once`` too.
An attach naming an ``exec_id`` not started yet waits for that process (so
attach first, then exec, to see all its output); one naming a process that
has exited gets its exit frame at once.
A control client instead writes one of these, gets one JSON line back and
the connection closes:
``{"control": "resize", "exec_id": str|null, "height": int, "width": int}``
-> ``{"ok": true}``; ``{"control": "start"}`` (the created init execs its
command) -> ``{"ok": true}`` or ``{"ok": false, "type": "ExecFailed",
"exit_code": 126|127, "error": Docker's message}``; ``{"control": "exec",
"exec_id": str, "process": ProcessSpec as a dict}`` -> ``{"ok": true, "pid":
int}`` (same errors); ``{"control": "state"}`` -> ``{"ok": true, "status":
"created"|"running"|"stopped", "pid": int, ...}``. Errors carry ``"type"``,
the name of the ``barge.errors`` class they stand for (``Conflict``...).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

#: Version of this contract; an exec driver built for another is refused.
API_VERSION = 1

#: Docker's default capability set (moby oci/caps/defaults.go).
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

#: Docker's masked and read-only paths (moby oci/defaults.go).
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
#: sysctls a container may set: the ones its IPC (exact names and ``fs.mqueue.*``), UTS and
#: network (``net.*``) namespaces own; any other would change the host.
_IPC_SYSCTLS = frozenset({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                          "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"})
_UTS_SYSCTLS = frozenset({"kernel.domainname", "kernel.hostname"})


def sysctl_namespace(key: str) -> str | None:
    """The namespace kind (``ipc``, ``uts``, ``net``) that owns sysctl ``key``, or None."""
    if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
        return "ipc"
    if key in _UTS_SYSCTLS:
        return "uts"
    if key.startswith("net."):
        return "net"
    return None


#: The only places under /proc a mount may cover (runc's ``checkProcMount``: files lxcfs and CRIU emulate).
PROC_MOUNTABLE = frozenset({
    "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps", "/proc/uptime",
    "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
})


@dataclass
class MountSpec:
    """One mount inside the container, in order after the root file system.

    ``type`` is ``bind``, ``tmpfs``, ``proc``, ``sysfs``, ``devpts``,
    ``mqueue``, ``cgroup``...; ``options`` mount(8) words (``ro``, ``rbind``,
    ``nosuid``, ``size=65536k``). Bind sources are host paths.
    """

    destination: str
    type: str
    source: str
    options: list[str] = field(default_factory=list)


@dataclass
class User:
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)


@dataclass
class Rlimit:
    type: str  # "RLIMIT_NOFILE", ...
    soft: int
    hard: int


@dataclass
class ProcessSpec:
    """The user's process: the container's init, or an exec'd one."""

    args: list[str]
    env: list[str] = field(default_factory=list)
    cwd: str = "/"
    user: User = field(default_factory=User)
    terminal: bool = False
    console_height: int = 0
    console_width: int = 0
    stdin: bool = False  # keep a stdin open (OpenStdin / exec AttachStdin)
    stdin_once: bool = False  # close it when the first attached client half-closes
    capabilities: list[str] = field(default_factory=lambda: list(DEFAULT_CAPABILITIES))
    no_new_privileges: bool = False
    rlimits: list[Rlimit] = field(default_factory=list)
    #: Written to the process's ``/proc/self/oom_score_adj`` before it drops its
    #: capabilities; None leaves the monitor's. An exec'd process without one
    #: takes the container init's (as dockerd's execs take the container's).
    oom_score_adj: int | None = None


@dataclass
class ThrottleDevice:
    """A block device's I/O limit (bytes or operations per second; 0: none)."""

    major: int
    minor: int
    rate: int


@dataclass
class WeightDevice:
    """A block device's proportional I/O weight (10-1000)."""

    major: int
    minor: int
    weight: int


@dataclass
class Resources:
    """Cgroup limits; ``None`` means "not set" (unlimited / inherited).

    Core has already dropped (with dockerd's warning) what this machine's
    cgroups cannot apply; a driver given one anyway fails with the reason
    rather than ignore it. docs/hostconfig.md maps each to its v1 and v2 files.
    """

    memory: int | None = None  # bytes
    memory_swap: int | None = None  # bytes, memory+swap; -1 unlimited
    memory_reservation: int | None = None  # bytes: a soft limit (v1 soft_limit_in_bytes, v2 memory.low)
    memory_swappiness: int | None = None  # 0-100 (v1 only)
    oom_kill_disable: bool | None = None  # v1 only
    kernel_memory: int | None = None  # bytes (v1 kernels before 5.16)
    kernel_memory_tcp: int | None = None  # bytes (v1 only)
    cpu_shares: int | None = None
    cpu_quota: int | None = None  # microseconds per cpu_period
    cpu_period: int | None = None
    cpu_rt_period: int | None = None  # microseconds (v1 only)
    cpu_rt_runtime: int | None = None  # microseconds per cpu_rt_period (v1 only)
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    pids_limit: int | None = None
    blkio_weight: int | None = None  # 10-1000
    blkio_weight_device: list[WeightDevice] | None = None
    blkio_throttle_read_bps_device: list[ThrottleDevice] | None = None
    blkio_throttle_write_bps_device: list[ThrottleDevice] | None = None
    blkio_throttle_read_iops_device: list[ThrottleDevice] | None = None
    blkio_throttle_write_iops_device: list[ThrottleDevice] | None = None


@dataclass
class DeviceNode:
    """A host device the container is given (``--device``): a node made at ``path`` inside the
    container with the host's numbers, owner and mode; its cgroup rule comes separately
    (``ContainerSpec.device_rules``), so a node alone opens nothing."""

    path: str  # absolute, inside the container
    type: str  # "c" or "b"
    major: int
    minor: int
    file_mode: int = 0o666  # permission bits
    uid: int = 0
    gid: int = 0


@dataclass
class LogSpec:
    """The log driver the monitor hands the container's output to (:mod:`barge.logdriver`).

    The monitor imports the driver from ``entry_point`` (the daemon read the
    ``barge.log_drivers`` entry points; :func:`barge.logdriver.copier.open_logger`); a driver that fails to
    start fails the container's set-up ("failed to initialize logging
    driver: ...").
    """

    path: str  # the driver's file ('' for drivers that write none)
    driver: str = "json-file"
    options: dict[str, str] = field(default_factory=dict)  # the LogConfig's Config
    #: The container's facts for tags and attributes (:class:`barge.logdriver.base.LogInfo` fields).
    info: dict[str, Any] = field(default_factory=dict)
    #: Dual logging: the local-format copy of a driver ``docker logs`` cannot read ('' for none).
    cache_path: str = ""
    #: The driver's ``barge.log_drivers`` entry point (``module:Class``), resolved by the daemon
    #: (the default is the default driver's).
    entry_point: str = "barge.logdriver.jsonfile:JsonFileDriver"


@dataclass
class SeccompArg:
    """One comparison of a system call argument (libseccomp's ``scmp_arg_cmp``).

    ``op`` is ``SCMP_CMP_NE``, ``_LT``, ``_LE``, ``_EQ``, ``_GE``, ``_GT`` or
    ``_MASKED_EQ`` (``arg & value == value_two``).
    """

    index: int
    value: int
    op: str
    value_two: int = 0


@dataclass
class SeccompRule:
    """``action`` for the calls ``names`` when every one of ``args`` holds.

    Actions are libseccomp's names: ``SCMP_ACT_ALLOW``, ``SCMP_ACT_ERRNO``
    (with ``errno_ret``), ``SCMP_ACT_KILL``, ``SCMP_ACT_KILL_PROCESS``,
    ``SCMP_ACT_KILL_THREAD``, ``SCMP_ACT_TRAP``, ``SCMP_ACT_TRACE`` (with
    ``errno_ret`` as the tracer's message), ``SCMP_ACT_LOG``.
    """

    names: list[str]
    action: str
    errno_ret: int | None = None
    args: list[SeccompArg] = field(default_factory=list)


@dataclass
class Seccomp:
    """A container's system call filter, already resolved for its capabilities,
    architecture and kernel (the OCI runtime spec's ``linux.seccomp``).

    ``architectures`` are libseccomp names (``SCMP_ARCH_X86_64``...); empty
    means the native one only. ``flags`` are ``SECCOMP_FILTER_FLAG_*`` names.
    The exec driver loads it as the last step before the user's command.
    """

    default_action: str
    default_errno_ret: int | None = None
    architectures: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    syscalls: list[SeccompRule] = field(default_factory=list)


@dataclass
class ContainerSpec:
    id: str
    #: Mount descriptions of the root file system (``barge_graph_get`` output),
    #: as ``{"Type","Source","Options"}`` dicts, applied in order on one target.
    rootfs: list[dict[str, Any]]
    process: ProcessSpec
    hostname: str = ""
    readonly_rootfs: bool = False
    mounts: list[MountSpec] = field(default_factory=list)
    #: Namespaces to create (``"new"``), join (a path like
    #: ``/proc/<pid>/ns/net``) or share with the host (``"host"``), by kind:
    #: ``mount, pid, net, ipc, uts, cgroup``.
    namespaces: dict[str, str] = field(
        default_factory=lambda: {k: "new" for k in ("mount", "pid", "net", "ipc", "uts")}
    )
    masked_paths: list[str] = field(default_factory=lambda: list(MASKED_PATHS))
    readonly_paths: list[str] = field(default_factory=lambda: list(READONLY_PATHS))
    privileged: bool = False
    shm_size: int = 64 << 20
    sysctls: dict[str, str] = field(default_factory=dict)
    resources: Resources = field(default_factory=Resources)
    #: Cgroup path relative to each hierarchy's root, e.g. ``barge/<id>``.
    cgroup_path: str = ""
    log: LogSpec | None = None
    #: Run a minimal reaper as PID 1 that execs nothing but forwards signals
    #: to the user's process and reaps zombies (``--init``).
    init: bool = False
    #: HostConfig.Annotations: metadata for the runtime, which barge's drivers keep in the spec.
    annotations: dict[str, str] = field(default_factory=dict)
    #: The system call filter of the init and of every exec'd process; None: unconfined.
    seccomp: Seccomp | None = None
    #: Device nodes made besides the default ones (``--device``).
    devices: list[DeviceNode] = field(default_factory=list)
    #: Device cgroup rules allowed besides Docker's default list, in ``devices.allow``'s
    #: words (``"c 1:3 rwm"``, ``"b *:* r"``): ``--device`` permissions and ``--device-cgroup-rule``.
    #: A privileged container is allowed every device anyway.
    device_rules: list[str] = field(default_factory=list)
    #: Propagation of the container's root (runc's ``rootfsPropagation``): ``rslave`` keeps
    #: every mount made inside from the host; ``rshared`` when a bind asks for shared
    #: propagation, so mounts under that bind reach the host.
    root_propagation: str = "rslave"


@dataclass
class ExecState:
    """What the exec driver knows of a container's processes."""

    status: str  # "created" | "running" | "paused" | "stopped" | "unknown"
    pid: int = 0
    exit_code: int | None = None
    oom_killed: bool = False
    started_at: str = ""  # RFC3339Nano
    finished_at: str = ""
    error: str = ""


def to_json(obj: Any) -> str:
    return json.dumps(dataclasses.asdict(obj), sort_keys=True)


def _build(cls, data: dict):
    kwargs = {}
    hints = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in data.items():
        if key not in hints:
            continue
        kwargs[key] = value
    return cls(**kwargs)


def resources_from_dict(data: dict) -> Resources:
    data = dict(data)
    for f in dataclasses.fields(Resources):
        value = data.get(f.name)
        if f.name == "blkio_weight_device" and value is not None:
            data[f.name] = [_build(WeightDevice, d) for d in value]
        elif f.name.startswith("blkio_throttle_") and value is not None:
            data[f.name] = [_build(ThrottleDevice, d) for d in value]
    return _build(Resources, data)


def process_from_dict(data: dict) -> ProcessSpec:
    data = dict(data)
    data["user"] = _build(User, data.get("user") or {})
    data["rlimits"] = [_build(Rlimit, r) for r in data.get("rlimits") or []]
    return _build(ProcessSpec, data)


def spec_from_json(text: str) -> ContainerSpec:
    data = json.loads(text)
    data["process"] = process_from_dict(data["process"])
    data["mounts"] = [_build(MountSpec, m) for m in data.get("mounts") or []]
    data["resources"] = resources_from_dict(data.get("resources") or {})
    if data.get("log"):
        data["log"] = _build(LogSpec, data["log"])
    if data.get("seccomp"):
        data["seccomp"] = seccomp_from_dict(data["seccomp"])
    data["devices"] = [_build(DeviceNode, d) for d in data.get("devices") or []]
    return _build(ContainerSpec, data)


def seccomp_from_dict(data: dict) -> Seccomp:
    data = dict(data)
    data["syscalls"] = [
        _build(SeccompRule, dict(rule, args=[_build(SeccompArg, a) for a in rule.get("args") or []]))
        for rule in data.get("syscalls") or []
    ]
    return _build(Seccomp, data)
