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
from typing import Any

from barge.containers.request import ALL_CAPABILITIES, DEFAULT_PATH, command_of, normalize_capability, ram_in_bytes
from barge.containers.users import ExecUser
from barge.execdriver import (
    DEFAULT_CAPABILITIES, MASKED_PATHS, READONLY_PATHS, ContainerSpec, LogSpec, MountSpec, ProcessSpec,
    Resources, Rlimit, User,
)

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
    #: Host directory of each volume mount point, by destination.
    volume_sources: dict[str, str] = field(default_factory=dict)
    #: Namespaces joined from other containers (``container:<id>`` modes): kind -> path.
    joined: dict[str, str] = field(default_factory=dict)
    #: Highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap).
    cap_last: int = len(ALL_CAPABILITIES) - 1


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


def process_env(config: dict[str, Any], home: str) -> list[str]:
    """PATH, HOSTNAME, TERM (with a TTY), then the container's Env replacing or adding; HOME from passwd."""
    env = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={config.get('Hostname', '')}"]
    if config.get("Tty"):
        env.append("TERM=xterm")
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


def resources(host: dict[str, Any]) -> Resources:
    nano = host.get("NanoCpus") or 0
    quota, period = host.get("CpuQuota") or None, host.get("CpuPeriod") or None
    if nano:
        period = CPU_PERIOD
        quota = nano * CPU_PERIOD // 1_000_000_000
    pids = host.get("PidsLimit")
    return Resources(
        memory=host.get("Memory") or None,
        memory_swap=host.get("MemorySwap") or None,
        cpu_shares=host.get("CpuShares") or None,
        cpu_quota=quota,
        cpu_period=period,
        cpuset_cpus=host.get("CpusetCpus") or None,
        pids_limit=pids if pids and pids > 0 else None,
    )


def log_spec(host: dict[str, Any], log_path: str) -> LogSpec | None:
    log = host.get("LogConfig") or {}
    if log.get("Type", "json-file") != "json-file":
        return None
    opts = log.get("Config") or {}
    max_size = None
    if opts.get("max-size") and opts["max-size"] != "-1":
        max_size = ram_in_bytes(opts["max-size"])
    max_file = int(opts.get("max-file") or 1)
    return LogSpec(path=log_path, max_size=max_size, max_file=max_file)


def default_mounts(host: dict[str, Any]) -> list[MountSpec]:
    """moby's ``DefaultLinuxSpec`` mounts; /dev/shm sized by ShmSize, /sys rw when privileged."""
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


def no_new_privileges(host: dict[str, Any]) -> bool:
    for opt in host.get("SecurityOpt") or []:
        key, sep, value = opt.replace("=", ":", 1).partition(":")
        if key == "no-new-privileges" and (not sep or value == "true"):
            return True
    return False


def build_spec(container_id: str, config: dict[str, Any], host: dict[str, Any], points: list[dict[str, Any]],
               inputs: StartInputs) -> ContainerSpec:
    """The ContainerSpec of one start of the container."""
    path, args = command_of(config)
    tty = bool(config.get("Tty"))
    console = host.get("ConsoleSize") or [0, 0]
    process = ProcessSpec(
        args=[path, *args],
        env=process_env(config, inputs.user.home),
        cwd=config.get("WorkingDir") or "/",
        user=User(uid=inputs.user.uid, gid=inputs.user.gid, additional_gids=list(inputs.user.sgids)),
        terminal=tty,
        console_height=int(console[0] or 0),
        console_width=int(console[1] or 0),
        stdin=bool(config.get("OpenStdin")),
        stdin_once=bool(config.get("StdinOnce")),
        capabilities=capabilities(host, inputs.cap_last),
        no_new_privileges=no_new_privileges(host),
        rlimits=[Rlimit("RLIMIT_" + u["Name"].upper(), int(u.get("Soft", 0)), int(u.get("Hard", 0)))
                 for u in host.get("Ulimits") or []],
    )
    users = user_mounts(points, inputs.volume_sources)
    taken = {m.destination for m in users}
    mounts = [m for m in default_mounts(host) if m.destination not in taken]
    for dst, src in (("/etc/resolv.conf", inputs.resolv_path), ("/etc/hostname", inputs.hostname_path),
                     ("/etc/hosts", inputs.hosts_path)):
        if dst not in taken:
            mounts.append(MountSpec(dst, "bind", src, ["rbind", "rprivate"]))
    # parents before children, as moby sorts mounts by path depth
    users.sort(key=lambda m: len([p for p in posixpath.normpath(m.destination).split("/") if p]))
    mounts += users
    privileged = bool(host.get("Privileged"))
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
        masked_paths=[] if privileged else list(masked if masked is not None else MASKED_PATHS),
        readonly_paths=[] if privileged else list(readonly if readonly is not None else READONLY_PATHS),
        privileged=privileged,
        shm_size=int(host.get("ShmSize") or (64 << 20)),
        sysctls=dict(host.get("Sysctls") or {}),
        resources=resources(host),
        cgroup_path=f"{parent}/{container_id}",
        log=log_spec(host, inputs.log_path),
        init=bool(host.get("Init")),
    )
