"""A container record (Config + HostConfig) -> the exec driver's ContainerSpec (pure).

Called at every start: the root file system's mount descriptions, the
resolved user and the container's files are inputs, so this module reads
nothing itself. Docker's defaults come from moby's ``oci/defaults.go`` and
``daemon/oci_linux.go``: the default mounts, masked and read-only paths,
capabilities (``TweakCapabilities``), the process environment
(``CreateDaemonEnvironment``), cgroup resources.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any, Callable

from barge.containers.logs import log_spec
from barge.containers.propagation import root_propagation
from barge.containers.request import ALL_CAPABILITIES, DEFAULT_PATH, command_of, normalize_capability
from barge.containers.sysinfo import block_device
from barge.containers.users import ExecUser
from barge.errors import InvalidParameter
from barge.execdriver import (
    DEFAULT_CAPABILITIES,
    MASKED_PATHS,
    READONLY_PATHS,
    ContainerSpec,
    DeviceNode,
    MountSpec,
    ProcessSpec,
    Resources,
    Rlimit,
    ThrottleDevice,
    User,
    WeightDevice,
)
from barge.security.default_seccomp import default_profile
from barge.security.options import parse_security_opt
from barge.security.seccomp import container_filter

CPU_PERIOD = 100_000


@dataclass
class StartInputs:
    """Everything :func:`build_spec` needs besides the record."""

    rootfs: list[dict[str, Any]]
    user: ExecUser
    hostname_path: str
    hosts_path: str
    resolv_path: str
    log_path: str
    #: The container's name and image id, for its log driver's tag (:func:`barge.containers.logs.log_spec`).
    log_facts: dict[str, str] = field(default_factory=dict)
    #: Host directory of each volume mount point, by destination.
    volume_sources: dict[str, str] = field(default_factory=dict)
    #: Namespaces joined from other containers (``container:<id>`` modes): kind -> path.
    joined: dict[str, str] = field(default_factory=dict)
    #: Highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap).
    cap_last: int = len(ALL_CAPABILITIES) - 1
    #: The daemon's seccomp profile (its ``seccomp_profile`` setting); None: unconfined.
    daemon_seccomp: dict[str, Any] | None = field(default_factory=default_profile)
    #: ``--device`` nodes and the cgroup rules beyond Docker's defaults (:func:`barge.containers.devices.gather`).
    devices: list[DeviceNode] = field(default_factory=list)
    device_rules: list[str] = field(default_factory=list)
    #: The legacy links' ``<ALIAS>_PORT...`` variables (:func:`barge.containers.links.for_start`).
    link_env: list[str] = field(default_factory=list)
    #: The host directory bound at /dev/shm: a shareable IPC's tmpfs, or its donor's (:mod:`.sharing`).
    shm_source: str = ""


def capabilities(host: dict[str, Any], cap_last: int) -> list[str]:
    """moby's ``TweakCapabilities``."""
    known = list(ALL_CAPABILITIES[: cap_last + 1])
    if host.get("Privileged"):
        return known
    adds = [normalize_capability(c) for c in host.get("CapAdd") or []]
    drops = [normalize_capability(c) for c in host.get("CapDrop") or []]
    if not adds and not drops:
        return list(DEFAULT_CAPABILITIES)
    if "ALL" in adds:
        return [c for c in known if c not in drops]
    if "ALL" in drops:
        return [c for c in adds if c != "ALL"]
    caps = [c for c in DEFAULT_CAPABILITIES if c not in drops]
    caps += [c for c in adds if c not in caps]
    return caps


def process_env(config: dict[str, Any], home: str, linked: list[str] | None = None) -> list[str]:
    """PATH, HOSTNAME, TERM (with a TTY), the links' variables, then the container's Env replacing
    or adding (moby's ``CreateDaemonEnvironment``); HOME from passwd."""
    env = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={config.get('Hostname', '')}"]
    if config.get("Tty"):
        env.append("TERM=xterm")
    env += linked or []
    index = {e.partition("=")[0]: i for i, e in enumerate(env)}
    for entry in config.get("Env") or []:
        key, sep, _ = entry.partition("=")
        if not sep:
            if key in index:  # "KEY" alone unsets (moby ReplaceOrAppendEnvValues)
                env[index[key]] = None  # type: ignore[call-overload]
            continue
        if key in index and env[index[key]] is not None:
            env[index[key]] = entry
        else:
            index[key] = len(env)
            env.append(entry)
    out = [e for e in env if e is not None]
    if not any(e.startswith("HOME=") for e in out):
        out.append(f"HOME={home or '/'}")
    return out


def resources(host: dict[str, Any], block_device: Callable[[str], tuple[int, int]] = block_device) -> Resources:
    """The cgroup limits of a normalised HostConfig (:mod:`.limits` checked them and dropped
    what this machine cannot apply); block device paths are resolved to numbers now, at start."""
    nano = host.get("NanoCpus") or 0
    quota, period = host.get("CpuQuota") or None, host.get("CpuPeriod") or None
    if nano:
        period = CPU_PERIOD
        quota = nano * CPU_PERIOD // 1_000_000_000
    pids = host.get("PidsLimit")
    swappiness = host.get("MemorySwappiness")

    def number(key: str, path: str) -> tuple[int, int]:
        try:
            return block_device(path)
        except ValueError as exc:  # gone since create
            raise InvalidParameter(f"invalid {key}: {exc}") from None

    def throttles(key: str) -> list[ThrottleDevice] | None:
        return [ThrottleDevice(*number(key, d["Path"]), int(d["Rate"])) for d in host.get(key) or []] or None

    return Resources(
        memory=host.get("Memory") or None,
        memory_swap=host.get("MemorySwap") or None,
        memory_reservation=host.get("MemoryReservation") or None,
        memory_swappiness=swappiness if swappiness is not None and swappiness >= 0 else None,
        oom_kill_disable=True if host.get("OomKillDisable") else None,
        kernel_memory=host.get("KernelMemory") or None,
        kernel_memory_tcp=host.get("KernelMemoryTCP") or None,
        cpu_shares=host.get("CpuShares") or None,
        cpu_quota=quota,
        cpu_period=period,
        cpu_rt_period=host.get("CpuRealtimePeriod") or None,
        cpu_rt_runtime=host.get("CpuRealtimeRuntime") or None,
        cpuset_cpus=host.get("CpusetCpus") or None,
        cpuset_mems=host.get("CpusetMems") or None,
        pids_limit=pids if pids and pids > 0 else None,
        blkio_weight=host.get("BlkioWeight") or None,
        blkio_weight_device=[WeightDevice(*number("BlkioWeightDevice", d["Path"]), int(d["Weight"]))
                             for d in host.get("BlkioWeightDevice") or []] or None,
        blkio_throttle_read_bps_device=throttles("BlkioDeviceReadBps"),
        blkio_throttle_write_bps_device=throttles("BlkioDeviceWriteBps"),
        blkio_throttle_read_iops_device=throttles("BlkioDeviceReadIOps"),
        blkio_throttle_write_iops_device=throttles("BlkioDeviceWriteIOps"),
    )


def default_mounts(host: dict[str, Any], shm_source: str = "") -> list[MountSpec]:
    """moby's ``DefaultLinuxSpec`` mounts; /dev/shm sized by ShmSize (the host's with ``--ipc host``,
    ``shm_source`` bound for ``shareable`` and ``container:``, none with ``--ipc none``), /sys rw when
    privileged."""
    ro = [] if host.get("Privileged") else ["ro"]
    mounts = [
        MountSpec("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        MountSpec("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        MountSpec("/dev/pts", "devpts", "devpts",
                  ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        MountSpec("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", *ro]),
        MountSpec("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", *ro]),
        MountSpec("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
    ]
    ipc = host.get("IpcMode") or "private"
    if ipc == "host":
        mounts.append(MountSpec("/dev/shm", "bind", "/dev/shm", ["rbind", "rprivate"]))
    elif shm_source:
        mounts.append(MountSpec("/dev/shm", "bind", shm_source, ["rbind", "rprivate"]))
    elif ipc != "none":
        size = host.get("ShmSize") or (64 << 20)
        mounts.append(MountSpec("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", f"size={size}"]))
    return mounts


_TMPFS_DEFAULTS = ("noexec", "nosuid", "nodev")
_TMPFS_OPPOSITE = {"noexec": "exec", "nosuid": "suid", "nodev": "dev"}


def tmpfs_options(user: list[str]) -> list[str]:
    """Docker's tmpfs defaults (noexec,nosuid,nodev) unless the user's options say otherwise."""
    out = [d for d in _TMPFS_DEFAULTS if d not in user and _TMPFS_OPPOSITE[d] not in user]
    return out + [o for o in user if o not in out]


def user_mounts(points: list[dict[str, Any]], volume_sources: dict[str, str]) -> list[MountSpec]:
    out = []
    for p in points:
        dst = p["Destination"]
        if p["Type"] == "bind":
            opts = ["rbind", p.get("Propagation") or "rprivate"] + ([] if p.get("RW", True) else ["ro"])
            out.append(MountSpec(dst, "bind", p["Source"], opts))
        elif p["Type"] == "volume":
            opts = ["rbind", "rprivate"] + ([] if p.get("RW", True) else ["ro"])
            out.append(MountSpec(dst, "bind", volume_sources[dst], opts))
        elif p["Type"] == "tmpfs":
            out.append(MountSpec(dst, "tmpfs", "tmpfs", tmpfs_options(list(p.get("Options") or []))))
    return out


def namespaces(host: dict[str, Any], joined: dict[str, str]) -> dict[str, str]:
    ns = {"mount": "new", "pid": "new", "net": "new", "ipc": "new", "uts": "new"}
    if host.get("NetworkMode") == "host":
        ns["net"] = "host"
        ns["uts"] = "host"  # Docker gives --network host the host's name
    if host.get("IpcMode") == "host":
        ns["ipc"] = "host"
    if host.get("PidMode") == "host":
        ns["pid"] = "host"
    if host.get("UTSMode") == "host":
        ns["uts"] = "host"
    ns["cgroup"] = "new" if host.get("CgroupnsMode") == "private" else "host"
    ns.update(joined)
    return ns


def build_spec(container_id: str, config: dict[str, Any], host: dict[str, Any], points: list[dict[str, Any]],
               inputs: StartInputs) -> ContainerSpec:
    """The ContainerSpec of one start of the container. Long on purpose: the spec's fields, one a line."""
    path, args = command_of(config)
    security = parse_security_opt(host.get("SecurityOpt"))
    caps = capabilities(host, inputs.cap_last)
    tty = bool(config.get("Tty"))
    console = host.get("ConsoleSize") or [0, 0]
    process = ProcessSpec(
        args=[path, *args],
        env=process_env(config, inputs.user.home, inputs.link_env),
        cwd=config.get("WorkingDir") or "/",
        user=User(uid=inputs.user.uid, gid=inputs.user.gid, additional_gids=list(inputs.user.sgids)),
        terminal=tty,
        console_height=int(console[0] or 0),
        console_width=int(console[1] or 0),
        stdin=bool(config.get("OpenStdin")),
        stdin_once=bool(config.get("StdinOnce")),
        capabilities=caps,
        no_new_privileges=security.no_new_privileges,
        rlimits=[Rlimit("RLIMIT_" + u["Name"].upper(), int(u.get("Soft", 0)), int(u.get("Hard", 0)))
                 for u in host.get("Ulimits") or []],
        oom_score_adj=int(host.get("OomScoreAdj") or 0),  # always written, as dockerd does: not the daemon's
    )
    users = user_mounts(points, inputs.volume_sources)
    taken = {m.destination for m in users}
    mounts = [m for m in default_mounts(host, inputs.shm_source) if m.destination not in taken]
    for dst, src in (("/etc/resolv.conf", inputs.resolv_path), ("/etc/hostname", inputs.hostname_path),
                     ("/etc/hosts", inputs.hosts_path)):
        if dst not in taken:
            mounts.append(MountSpec(dst, "bind", src, ["rbind", "rprivate"]))
    # parents before children, as moby sorts mounts by path depth
    users.sort(key=lambda m: len([p for p in posixpath.normpath(m.destination).split("/") if p]))
    mounts += users
    privileged = bool(host.get("Privileged"))
    unmasked = privileged or security.unmasked
    masked = host.get("MaskedPaths")
    readonly = host.get("ReadonlyPaths")
    parent = (host.get("CgroupParent") or "barge").strip("/")
    return ContainerSpec(
        id=container_id,
        rootfs=inputs.rootfs,
        process=process,
        hostname=config.get("Hostname") or container_id[:12],
        readonly_rootfs=bool(host.get("ReadonlyRootfs")),
        mounts=mounts,
        namespaces=namespaces(host, inputs.joined),
        masked_paths=[] if unmasked else list(masked if masked is not None else MASKED_PATHS),
        readonly_paths=[] if unmasked else list(readonly if readonly is not None else READONLY_PATHS),
        privileged=privileged,
        shm_size=0 if host.get("IpcMode") == "none" else int(host.get("ShmSize") or (64 << 20)),  # 0: no /dev/shm
        sysctls=dict(host.get("Sysctls") or {}),
        resources=resources(host),
        cgroup_path=f"{parent}/{container_id}",
        log=log_spec(container_id, config, host, inputs.log_path, inputs.log_facts),
        init=bool(host.get("Init")),
        annotations=dict(host.get("Annotations") or {}),
        seccomp=container_filter(security.seccomp, privileged, caps, inputs.daemon_seccomp),
        root_propagation=root_propagation(points),
        devices=list(inputs.devices),
        device_rules=list(inputs.device_rules),
    )
