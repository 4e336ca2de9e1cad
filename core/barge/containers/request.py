"""The create request -> the Config and HostConfig a container keeps (pure).

``POST /containers/create`` carries Docker's ``CreateRequest``: the
container ``Config`` fields flattened at the top level, plus ``HostConfig``
and ``NetworkingConfig``. :func:`normalize_create` checks it the way moby's
``verifyContainerSettings`` / ``verifyPlatformContainerResources`` do (same
messages), merges the image's config in (moby's ``merge``: user values win,
the image fills the gaps), and fills the HostConfig defaults inspect shows.
Nothing here touches the machine except through the ``exists`` callback for
bind sources and the :class:`~barge.containers.sysinfo.SysInfo` it is given
(block devices, real-time budgets).

The request arrives decoded (:data:`barge.api.bodies.CONTAINER_CREATE`):
every field has Go's type and range, so what is checked here is meaning.
The image's config has been through no API schema: :func:`decode_image_config`
decodes it, in one place.
"""

from __future__ import annotations

import copy
import dataclasses
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from barge import units
from barge.containers import volumes_from
from barge.containers.devices import check_devices
from barge.containers.health import check_healthcheck, merge_healthcheck
from barge.containers.limits import int_field, normalize_resources
from barge.containers.links import check_links
from barge.containers.signals import parse_signal
from barge.containers.sysinfo import SysInfo
from barge.errors import InvalidParameter
from barge.execdriver import PROC_MOUNTABLE, sysctl_namespace
from barge.gojson import INT, INT64, STRING, STRSLICE, List, Map, Obj, decode
from barge.logdriver import DEFAULT_DRIVER as DEFAULT_LOG_DRIVER
from barge.logdriver import LogDriverError
from barge.logdriver import validate as validate_log_config
from barge.security.options import parse_security_opt

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHM_SIZE = 64 << 20
DEFAULT_STOP_TIMEOUT = 10

#: Capabilities by number (linux/capability.h); the kernel may know fewer.
ALL_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

ULIMIT_NAMES = frozenset({
    "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
    "rtprio", "rttime", "sigpending", "stack",
})

RESTART_POLICIES = ("", "no", "always", "unless-stopped", "on-failure")

#: Config keys of the create request (moby ``container.Config``).
CONFIG_KEYS = (
    "Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "ExposedPorts", "Tty",
    "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck", "ArgsEscaped", "Image", "Volumes", "WorkingDir",
    "Entrypoint", "NetworkDisabled", "MacAddress", "OnBuild", "Labels", "StopSignal", "StopTimeout", "Shell",
)


def check_device_requests(host: dict[str, Any]) -> None:
    """``--gpus``: this machine has no device driver (no GPUs); dockerd's words, at create."""
    for request in host.get("DeviceRequests") or []:
        request = request or {}
        caps = "[" + " ".join("[" + " ".join(c or []) + "]" for c in request.get("Capabilities") or []) + "]"
        raise InvalidParameter(f'could not select device driver "{request.get("Driver") or ""}" '
                               f"with capabilities: {caps}")


@dataclass
class Normalized:
    config: dict[str, Any]
    host_config: dict[str, Any]
    networking_config: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------
# small parsers
# ---------------------------------------------------------------------------

def ram_in_bytes(text: str) -> int:
    """go-units ``RAMInBytes`` (:func:`barge.units.ram_in_bytes`): ``10m`` is 10 MiB; 400 for a bad size."""
    try:
        return units.ram_in_bytes(text)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None


#: The fields of an image's config a container inherits (:func:`normalize_config`), typed as in
#: moby's ``container.Config``. Images come from pulls, loads, imports and commits: untrusted, and
#: never through the API's schemas.
IMAGE_CONFIG = Obj("container.Config", {
    "User": STRING, "ExposedPorts": Map(Obj("struct {}", {})), "Env": List(STRING), "Cmd": STRSLICE,
    "Entrypoint": STRSLICE, "WorkingDir": STRING, "Volumes": Map(Obj("struct {}", {})), "StopSignal": STRING,
    "OnBuild": List(STRING), "Labels": Map(STRING),
    "Healthcheck": Obj("container.HealthConfig", {
        "Test": List(STRING), "Interval": INT64, "Timeout": INT64, "StartPeriod": INT64, "StartInterval": INT64,
        "Retries": INT,
    }),
})


def decode_image_config(config: Any) -> dict[str, Any]:
    """An image's config decoded as moby decodes it (``Cmd`` may be one string); a misfit is a 400 naming it."""
    try:
        return decode(IMAGE_CONFIG, config)
    except InvalidParameter as exc:
        raise InvalidParameter(f"invalid image config: {exc}") from None


def env_key(entry: str) -> str:
    return entry.partition("=")[0]


def normalize_capability(name: str, known: tuple[str, ...] = ALL_CAPABILITIES) -> str:
    if name.upper() == "ALL":
        return "ALL"
    cap = name.upper()
    if not cap.startswith("CAP_"):
        cap = "CAP_" + cap
    if cap not in known:
        raise InvalidParameter(f'unknown capability: "{cap}"')
    return cap


# ---------------------------------------------------------------------------
# mounts
# ---------------------------------------------------------------------------

_BIND_MODES = {"ro", "rw", "z", "Z", "nocopy", "shared", "rshared", "slave", "rslave", "private", "rprivate"}


def check_sysctls(host: dict[str, Any]) -> None:
    """runc's rule, at create rather than at start: a container may set only the sysctls
    of a namespace of its own (IPC, UTS, network), never one it shares with the host."""
    shared = {"ipc": host.get("IpcMode") == "host", "net": host.get("NetworkMode") == "host",
              "uts": host.get("UTSMode") == "host" or host.get("NetworkMode") == "host"}
    for key in host.get("Sysctls") or {}:
        kind = sysctl_namespace(key)
        if kind is None:
            raise InvalidParameter(f"sysctl {key!r} is not allowed: it is not namespaced")
        if shared[kind]:
            raise InvalidParameter(f"sysctl {key!r} is not allowed in host {kind} namespace")


def check_destination(destination: str, source: str) -> None:
    """runc's ``checkProcMount``, at create: nothing may cover the container's /proc or
    anything in it (its masked and read-only paths would go with it) but the few
    files lxcfs emulates. The exec driver checks again where the path resolves."""
    if destination == "/proc":
        raise InvalidParameter(f'"{source}" cannot be mounted because it is not of type proc')
    if destination.startswith("/proc/") and destination not in PROC_MOUNTABLE:
        raise InvalidParameter(f'"{destination}" cannot be mounted because it is inside /proc')


def _check_target(kind: str, target: str, source: str = "") -> str:
    if not target:
        raise InvalidParameter(f'invalid mount config for type "{kind}": field Target must not be empty')
    if not target.startswith("/"):
        raise InvalidParameter(
            f"invalid mount config for type \"{kind}\": invalid mount path: '{target}' mount path must be absolute"
        )
    clean = posixpath.normpath(target)
    if clean == "/":
        raise InvalidParameter(f"invalid mount config for type \"{kind}\": invalid specification: destination can't be '/'")
    check_destination(clean, source or kind)
    return clean


def parse_bind(spec: str, exists: Callable[[str], bool], volume_driver: str = "") -> dict[str, Any]:
    """``src:dst[:opts]`` -> a mount point dict (Type bind, or volume of ``volume_driver``)."""
    parts = spec.split(":")
    if len(parts) < 2 or len(parts) > 3 or not parts[0] or not parts[1]:
        raise InvalidParameter(f"invalid volume specification: '{spec}'")
    src, dst = parts[0], parts[1]
    modes = parts[2].split(",") if len(parts) == 3 and parts[2] else []
    for mode in modes:
        if mode not in _BIND_MODES:
            raise InvalidParameter(f"invalid mode: {parts[2]}")
    if not dst.startswith("/"):
        raise InvalidParameter(f"invalid volume specification: '{spec}': invalid mount config for type \"bind\": "
                               f"invalid mount path: '{dst}' mount path must be absolute")
    if posixpath.normpath(dst) == "/":
        raise InvalidParameter(f"invalid volume specification: '{spec}': invalid mount config for type \"bind\": "
                               "invalid specification: destination can't be '/'")
    check_destination(posixpath.normpath(dst), src)
    rw = "ro" not in modes
    propagation = next((m for m in modes if m in ("shared", "rshared", "slave", "rslave", "private", "rprivate")), "")
    if src.startswith("/"):
        src = posixpath.normpath(src)
        if not exists(src):
            raise InvalidParameter(f'invalid mount config for type "bind": bind source path does not exist: {src}')
        return {"Type": "bind", "Source": src, "Destination": posixpath.normpath(dst), "RW": rw,
                "Mode": ",".join(modes), "Propagation": propagation or "rprivate"}
    _check_volume_name(src)
    return {"Type": "volume", "Name": src, "Destination": posixpath.normpath(dst), "RW": rw,
            "Mode": ",".join(modes), "Propagation": "", "Driver": volume_driver or "local"}


_VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def _check_volume_name(name: str) -> None:
    if not _VOLUME_NAME.match(name):
        raise InvalidParameter(
            f'create {name}: "{name}" includes invalid characters for a local volume name, '
            "only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )


def parse_mount(m: dict[str, Any], exists: Callable[[str], bool]) -> dict[str, Any]:
    """One entry of ``HostConfig.Mounts`` -> a mount point dict."""
    kind = m.get("Type") or ""
    source = m.get("Source") or ""
    target = _check_target(kind, m.get("Target") or "", source)
    rw = not m.get("ReadOnly", False)
    if kind == "bind":
        if not source:
            raise InvalidParameter('invalid mount config for type "bind": field Source must not be empty')
        if not source.startswith("/"):
            raise InvalidParameter(f"invalid mount config for type \"bind\": invalid mount path: '{source}' mount path must be absolute")
        source = posixpath.normpath(source)
        bind = m.get("BindOptions") or {}
        if (not bind.get("CreateMountpoint") or "\x00" in source) and not exists(source):
            raise InvalidParameter(f'invalid mount config for type "bind": bind source path does not exist: {source}')
        point = {"Type": "bind", "Source": source, "Destination": target, "RW": rw, "Mode": "",
                 "Propagation": bind.get("Propagation") or "rprivate"}
        if bind.get("CreateMountpoint"):
            point["CreateMountpoint"] = True  # the source directory is made at each start when missing
        return point
    if kind == "tmpfs":
        if source:
            raise InvalidParameter('invalid mount config for type "tmpfs": field Source must not be specified')
        opts = m.get("TmpfsOptions") or {}
        words = []
        if opts.get("SizeBytes"):
            if opts["SizeBytes"] < 0:
                raise InvalidParameter('invalid mount config for type "tmpfs": invalid tmpfs size')
            words.append(f"size={opts['SizeBytes']}")
        if opts.get("Mode"):
            words.append(f"mode={opts['Mode']:o}")
        return {"Type": "tmpfs", "Source": "", "Destination": target, "RW": rw, "Mode": "",
                "Propagation": "", "Options": words}
    if kind == "volume":
        if source:
            _check_volume_name(source)
        volume = m.get("VolumeOptions") or {}
        driver = volume.get("DriverConfig") or {}
        point = {"Type": "volume", "Name": source, "Destination": target, "RW": rw,
                 "Mode": "nocopy" if volume.get("NoCopy") else "", "Propagation": "",
                 "Driver": driver.get("Name") or "local"}
        if driver.get("Options"):
            point["DriverOpts"] = dict(driver["Options"])
        return point
    raise InvalidParameter(f'invalid mount config for type "{kind}": mount type unknown')


def mount_points(host: dict[str, Any], config: dict[str, Any], exists: Callable[[str], bool]) -> list[dict[str, Any]]:
    """Every user mount (Binds, Mounts, Tmpfs, anonymous Volumes), each destination once."""
    points: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(point: dict[str, Any]) -> None:
        if point["Destination"] in seen:
            raise InvalidParameter(f"Duplicate mount point: {point['Destination']}")
        seen.add(point["Destination"])
        points.append(point)

    volume_driver = host.get("VolumeDriver") or ""
    for spec in host.get("Binds") or []:
        add(parse_bind(spec, exists, volume_driver))
    for m in host.get("Mounts") or []:
        add(parse_mount(m, exists))
    for dst, opts in (host.get("Tmpfs") or {}).items():
        target = _check_target("tmpfs", dst)
        add({"Type": "tmpfs", "Source": "", "Destination": target, "RW": "ro" not in (opts or "").split(","),
             "Mode": "", "Propagation": "", "Options": [o for o in (opts or "").split(",") if o]})
    for dst in (config.get("Volumes") or {}):
        clean = posixpath.normpath(dst) if dst.startswith("/") else None
        if clean is None or clean == "/":
            raise InvalidParameter(f"invalid volume specification: '{dst}'")
        check_destination(clean, "volume")
        if clean in seen:
            continue  # a bind or mount over an image volume replaces it
        add({"Type": "volume", "Name": "", "Destination": clean, "RW": True, "Mode": "", "Propagation": "",
             "Driver": volume_driver or "local", "Anonymous": True})
    return points


# ---------------------------------------------------------------------------
# HostConfig
# ---------------------------------------------------------------------------


def _log_config(host: dict[str, Any]) -> dict[str, Any]:
    """The LogConfig with dockerd's create-time checks (:func:`barge.logdriver.validate`); the rest at start."""
    log = host.get("LogConfig") or {}
    kind = log.get("Type") or DEFAULT_LOG_DRIVER
    opts = dict(log.get("Config") or {})
    try:
        validate_log_config(kind, opts)
    except LogDriverError as exc:
        raise InvalidParameter(str(exc)) from None
    return {"Type": kind, "Config": opts}


def restart_policy(host: dict[str, Any]) -> dict[str, Any]:
    policy = host.get("RestartPolicy") or {}
    name = policy.get("Name") or "no"
    count = policy.get("MaximumRetryCount") or 0
    if name not in RESTART_POLICIES:
        raise InvalidParameter(f"invalid restart policy '{name}'")
    if count < 0:
        raise InvalidParameter("invalid restart policy: maximum retry count cannot be negative")
    if count and name != "on-failure":
        raise InvalidParameter("invalid restart policy: maximum retry count can only be used with 'on-failure'")
    return {"Name": name, "MaximumRetryCount": count}


def _mode(host: dict[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = host.get(key) or default
    if value in allowed or value.startswith("container:"):
        if value.startswith("container:") and not value[len("container:"):]:
            raise InvalidParameter(f"invalid {key}: {value}")
        return value
    raise InvalidParameter(f"invalid {key[:-4] if key.endswith('Mode') else key} mode: {value}")


def check_host_fields(host: dict[str, Any], si: SysInfo, warnings: list[str]) -> None:
    """The HostConfig fields outside Resources that dockerd may take and ignore: each is applied
    (checked here), refused naming it, or discarded with a warning."""
    adj = int_field(host, "OomScoreAdj")
    if not -1000 <= adj <= 1000:
        raise InvalidParameter(f"Invalid value {adj}, range for oom score adj is [-1000, 1000]")
    floor = min(si.oom_score_adj, 0)
    if adj < floor and not si.sys_resource:
        raise InvalidParameter(f"Invalid value {adj} for OomScoreAdj: going below {floor} needs CAP_SYS_RESOURCE, "
                               "which this daemon does not have")
    host["OomScoreAdj"] = adj
    runtime = host.get("Runtime") or si.runtime
    if runtime != si.runtime:
        raise InvalidParameter(f"Unknown runtime specified {runtime}")
    host["Runtime"] = runtime
    isolation = host.get("Isolation") or ""
    if isolation.lower() not in ("", "default"):
        raise InvalidParameter(f"Invalid isolation: \"{isolation}\" - linux only supports 'default'")
    if host.get("Cgroup"):
        raise InvalidParameter(f"invalid Cgroup {host['Cgroup']}: running in another container's cgroup is not "
                               "supported by barge (CgroupParent is)")
    if ".." in (host.get("CgroupParent") or "").split("/"):
        raise InvalidParameter(f"invalid CgroupParent {host['CgroupParent']}: it must stay inside the cgroup "
                               "hierarchies (no '..')")
    if host.get("StorageOpt"):
        raise InvalidParameter(f"--storage-opt (StorageOpt) is not supported by the {si.graph_driver or 'current'} "
                               "graph driver")
    if "" in (host.get("Annotations") or {}):
        raise InvalidParameter("invalid Annotations: the empty string is not permitted as an annotation key")
    if host.get("NetworkMode") == "host" and (host.get("PortBindings") or host.get("PublishAllPorts")):
        warnings.append("Published ports are discarded when using host network mode")


def machine(sysinfo: SysInfo | None = None, *, ncpu: int | None = None, cgroup_v2: bool | None = None,
            swap_limit: bool | None = None) -> SysInfo:
    """``sysinfo`` (default: a full cgroup v1 machine) with the given facts replaced (tests use these)."""
    si = sysinfo or SysInfo()
    given = {"ncpu": ncpu, "cgroup_v2": cgroup_v2, "swap_limit": swap_limit}
    return dataclasses.replace(si, **{k: v for k, v in given.items() if v is not None})


def normalize_host_config(host: dict[str, Any] | None, config: dict[str, Any], *,
                          exists: Callable[[str], bool], sysinfo: SysInfo | None = None, ncpu: int | None = None,
                          cgroup_v2: bool | None = None, swap_limit: bool | None = None,
                          warnings: list[str] | None = None) -> dict[str, Any]:
    """Check and complete a HostConfig: every field applied, refused or discarded with a warning
    (docs/hostconfig.md is the table). Long on purpose: the table's rows, one check each,
    in the order dockerd reports them."""
    host = copy.deepcopy(host or {})
    si = machine(sysinfo, ncpu=ncpu, cgroup_v2=cgroup_v2, swap_limit=swap_limit)
    warnings = warnings if warnings is not None else []
    check_device_requests(host)
    check_devices(host)
    volumes_from.check(host.get("VolumesFrom"))
    network = host.get("NetworkMode") or "default"
    if network == "default":
        network = "bridge"
    if network.startswith("container:") and len(network) == len("container:"):
        raise InvalidParameter("--network: invalid container format container:<name|id>")
    host["NetworkMode"] = network  # user-defined networks are resolved by the network service
    check_links(host)
    host["IpcMode"] = _mode(host, "IpcMode", ("private", "shareable", "host", "none"), "private")
    host["PidMode"] = _mode(host, "PidMode", ("", "host"), "")
    host["UTSMode"] = _mode(host, "UTSMode", ("", "host"), "")
    cgroupns = host.get("CgroupnsMode") or ("private" if si.cgroup_v2 else "host")
    if cgroupns not in ("private", "host"):
        raise InvalidParameter(f"invalid cgroup namespace mode: {cgroupns}")
    host["CgroupnsMode"] = cgroupns
    if host.get("UsernsMode") not in (None, "", "host"):
        raise InvalidParameter("user namespaces (UsernsMode) are not supported by barge")
    parse_security_opt(host.get("SecurityOpt"))  # dockerd's refusals, and a seccomp profile that cannot work
    check_sysctls(host)
    host["LogConfig"] = _log_config(host)
    host["RestartPolicy"] = restart_policy(host)
    host["AutoRemove"] = bool(host.get("AutoRemove"))
    if host["AutoRemove"] and host["RestartPolicy"]["Name"] != "no":
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    shm = int_field(host, "ShmSize")
    if shm < 0:
        raise InvalidParameter("SHM size can not be less than 0")
    host["ShmSize"] = shm or DEFAULT_SHM_SIZE
    normalize_resources(host, si, warnings)
    check_host_fields(host, si, warnings)
    for key in ("CapAdd", "CapDrop"):
        caps = host.get(key)
        if caps:
            for cap in caps:
                normalize_capability(cap)
    for ulimit in host.get("Ulimits") or []:
        name = ulimit.get("Name", "")
        if name not in ULIMIT_NAMES:
            raise InvalidParameter(f"invalid ulimit type: {name}")
        soft, hard = ulimit.get("Soft", 0), ulimit.get("Hard", 0)
        if soft > hard:
            raise InvalidParameter(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    for entry in host.get("ExtraHosts") or []:
        name, sep, ip = entry.partition(":")
        if not sep or not name or not ip:
            raise InvalidParameter(f"invalid IP address in add-host: \"{ip}\"" if sep else f"bad format for add-host: \"{entry}\"")
    host["ConsoleSize"] = host.get("ConsoleSize") or [0, 0]
    mount_points(host, config, exists)  # validates binds, mounts, tmpfs
    for key, default in HOST_DEFAULTS.items():
        if host.get(key) is None and default is not None:
            host[key] = copy.deepcopy(default)
        host.setdefault(key, None)
    return host


#: Every field of moby's HostConfig, its Resources included, in moby's order (API 1.47);
#: docs/hostconfig.md gives each one's treatment, and a test holds the two together.
HOST_CONFIG_FIELDS = (
    "Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy", "AutoRemove",
    "VolumeDriver", "VolumesFrom", "ConsoleSize", "Annotations", "CapAdd", "CapDrop", "CgroupnsMode", "Dns",
    "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd", "IpcMode", "Cgroup", "Links", "OomScoreAdj", "PidMode",
    "Privileged", "PublishAllPorts", "ReadonlyRootfs", "SecurityOpt", "StorageOpt", "Tmpfs", "UTSMode",
    "UsernsMode", "ShmSize", "Sysctls", "Runtime", "Isolation",
    # Resources
    "CpuShares", "Memory", "NanoCpus", "CgroupParent", "BlkioWeight", "BlkioWeightDevice", "BlkioDeviceReadBps",
    "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps", "CpuPeriod", "CpuQuota",
    "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems", "Devices", "DeviceCgroupRules",
    "DeviceRequests", "KernelMemory", "KernelMemoryTCP", "MemoryReservation", "MemorySwap", "MemorySwappiness",
    "OomKillDisable", "PidsLimit", "Ulimits", "CpuCount", "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth",
    # after Resources
    "Mounts", "MaskedPaths", "ReadonlyPaths", "Init",
)


#: What inspect shows for HostConfig fields nobody set (moby's zero values).
HOST_DEFAULTS: dict[str, Any] = {
    "Binds": None, "ContainerIDFile": "", "PortBindings": None, "VolumeDriver": "", "VolumesFrom": None,
    "CapAdd": None, "CapDrop": None, "Dns": None, "DnsOptions": None, "DnsSearch": None, "ExtraHosts": None,
    "GroupAdd": None, "Cgroup": "", "Links": None, "OomScoreAdj": 0, "Privileged": False,
    "PublishAllPorts": False, "ReadonlyRootfs": False, "SecurityOpt": None, "UsernsMode": "",
    "Runtime": "", "Isolation": "", "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": None,
    "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None, "BlkioDeviceReadIOps": None,
    "BlkioDeviceWriteIOps": None, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetMems": "",
    "Devices": None, "DeviceCgroupRules": None, "DeviceRequests": None, "MemorySwappiness": None,
    "OomKillDisable": False, "Ulimits": None, "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
    "IOMaximumBandwidth": 0, "Init": None, "Mounts": None, "Tmpfs": None, "Sysctls": None,
}


# ---------------------------------------------------------------------------
# Config, merged with the image's
# ---------------------------------------------------------------------------


def normalize_config(body: dict[str, Any], image_config: Any) -> dict[str, Any]:
    """The container's Config: the request's fields, the image's filling the gaps (moby ``merge``).

    ``body`` is decoded (``Cmd`` and ``Entrypoint`` are lists or absent); ``image_config``
    is the image's own, raw, and goes through :func:`decode_image_config` first.
    Long on purpose: moby's merge, field by field in its order.
    """
    image = decode_image_config(image_config)
    config: dict[str, Any] = {}
    for key in CONFIG_KEYS:
        if key in body:
            config[key] = copy.deepcopy(body[key])
    cmd = config.get("Cmd")
    entrypoint = config.get("Entrypoint")
    env = config.get("Env") or []
    for entry in env:
        if not env_key(entry):
            raise InvalidParameter(f"invalid environment variable: {entry}")
    if not config.get("User"):
        config["User"] = image.get("User") or ""
    ports = dict(config.get("ExposedPorts") or {})
    for port in image.get("ExposedPorts") or {}:
        ports.setdefault(port, {})
    config["ExposedPorts"] = ports or None
    if env:
        keys = {env_key(e) for e in env}
        env = list(env) + [e for e in image.get("Env") or [] if env_key(e) not in keys]
    else:
        env = list(image.get("Env") or [])
    if not any(env_key(e) == "PATH" for e in env):
        env.append(f"PATH={DEFAULT_PATH}")
    config["Env"] = env
    merged_labels = dict(image.get("Labels") or {})
    merged_labels.update(config.get("Labels") or {})
    config["Labels"] = merged_labels
    if not entrypoint:
        if not cmd:
            cmd = image.get("Cmd")
        if entrypoint is None:
            entrypoint = image.get("Entrypoint")
    if entrypoint == [""]:
        entrypoint = []  # --entrypoint "": reset, the command runs as given
    config["Cmd"] = cmd
    config["Entrypoint"] = entrypoint or None
    if not (entrypoint or cmd):
        raise InvalidParameter("No command specified")
    if not config.get("WorkingDir"):
        config["WorkingDir"] = image.get("WorkingDir") or ""
    elif not config["WorkingDir"].startswith("/"):
        raise InvalidParameter(f"the working directory '{config['WorkingDir']}' is invalid, it needs to be an absolute path")
    volumes = dict(image.get("Volumes") or {})
    volumes.update(config.get("Volumes") or {})
    config["Volumes"] = volumes or None
    check_healthcheck(config.get("Healthcheck"))
    health = merge_healthcheck(config.get("Healthcheck"), image.get("Healthcheck"))
    if health:
        config["Healthcheck"] = health
    else:
        config.pop("Healthcheck", None)
    if config.get("StopSignal"):
        parse_signal(config["StopSignal"])  # moby refuses it at create: "Invalid signal: SIGFOO"
    elif image.get("StopSignal"):
        config["StopSignal"] = image["StopSignal"]
    else:
        config.pop("StopSignal", None)
    if config.get("StopTimeout") is None:
        config.pop("StopTimeout", None)
    config["OnBuild"] = config.get("OnBuild") or image.get("OnBuild") or None
    for key in ("Hostname", "Domainname", "Image", "WorkingDir"):
        config.setdefault(key, "")
    for key in ("AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"):
        config[key] = bool(config.get(key))
    return config


def command_of(config: dict[str, Any]) -> tuple[str, list[str]]:
    """moby's ``getEntrypointAndArgs``: (Path, Args) of inspect."""
    entrypoint = config.get("Entrypoint") or []
    cmd = config.get("Cmd") or []
    full = list(entrypoint) + list(cmd)
    return full[0], full[1:]


def normalize_create(body: dict[str, Any], image_config: Any, *,
                     exists: Callable[[str], bool], sysinfo: SysInfo | None = None, ncpu: int | None = None,
                     cgroup_v2: bool | None = None, swap_limit: bool | None = None) -> Normalized:
    """Check and complete a decoded create request; raises Docker's 400s."""
    config = normalize_config(body, image_config)
    warnings: list[str] = []
    host = normalize_host_config(body.get("HostConfig"), config, exists=exists, sysinfo=sysinfo, ncpu=ncpu,
                                 cgroup_v2=cgroup_v2, swap_limit=swap_limit, warnings=warnings)
    networking = copy.deepcopy(body.get("NetworkingConfig") or {})
    return Normalized(config, host, networking, warnings)
