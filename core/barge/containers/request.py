"""The create request -> the Config and HostConfig a container keeps (pure).

``POST /containers/create`` carries Docker's ``CreateRequest``: the
container ``Config`` fields flattened at the top level, plus ``HostConfig``
and ``NetworkingConfig``. :func:`normalize_create` checks it the way moby's
``verifyContainerSettings`` / ``verifyPlatformContainerResources`` do (same
messages), merges the image's config in (moby's ``merge``: user values win,
the image fills the gaps), and fills the HostConfig defaults inspect shows.
Nothing here touches the machine except the ``exists`` callback for bind
sources.
"""

from __future__ import annotations

import copy
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from barge.errors import InvalidParameter, NotFound

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHM_SIZE = 64 << 20
MIN_MEMORY = 6 << 20
MIN_CPU_SHARES, MAX_CPU_SHARES = 2, 262144
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
LOG_DRIVERS = ("json-file", "none")
JSON_FILE_OPTS = frozenset({"max-size", "max-file", "labels", "labels-regex", "env", "env-regex", "tag", "compress", "mode", "max-buffer-size"})

#: Config keys of the create request (moby ``container.Config``).
CONFIG_KEYS = (
    "Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "ExposedPorts", "Tty",
    "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck", "ArgsEscaped", "Image", "Volumes", "WorkingDir",
    "Entrypoint", "NetworkDisabled", "MacAddress", "OnBuild", "Labels", "StopSignal", "StopTimeout", "Shell",
)

#: HostConfig fields barge does not implement: refused, never silently dropped.
UNSUPPORTED_HOST = {
    "Links": "links", "VolumesFrom": "--volumes-from", "Devices": "--device", "DeviceRequests": "--gpus",
    "DeviceCgroupRules": "--device-cgroup-rule",
}


@dataclass
class Normalized:
    config: dict[str, Any]
    host_config: dict[str, Any]
    networking_config: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------
# small parsers
# ---------------------------------------------------------------------------

_RAM_RE = re.compile(r"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(text: str) -> int:
    """go-units ``RAMInBytes``: ``10m`` is 10 MiB."""
    m = _RAM_RE.match(str(text).strip())
    if not m:
        raise InvalidParameter(f"invalid size: '{text}'")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])


def parse_cpuset(text: str) -> set[int]:
    """``0-2,4`` -> {0, 1, 2, 4}; Docker's message on bad syntax."""
    out: set[int] = set()
    if not text:
        return out
    for part in text.split(","):
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise InvalidParameter(f"Invalid value {text} for cpuset cpus") from None
        if a < 0 or b < a:
            raise InvalidParameter(f"Invalid value {text} for cpuset cpus")
        out.update(range(a, b + 1))
    return out


def strslice(value: Any, what: str) -> list[str] | None:
    """Docker's ``StrSlice``: null, a string, or a list of strings."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InvalidParameter(f"json: cannot unmarshal {type(value).__name__} into Go struct field Config.{what} of type strslice.StrSlice")


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


def _bool(value: Any) -> bool:
    return bool(value)


def _int(host: dict, key: str) -> int:
    value = host.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameter(f"json: cannot unmarshal {type(value).__name__} into Go struct field HostConfig.{key} of type int64")
    return int(value)


# ---------------------------------------------------------------------------
# mounts
# ---------------------------------------------------------------------------

_BIND_MODES = {"ro", "rw", "z", "Z", "nocopy", "shared", "rshared", "slave", "rslave", "private", "rprivate"}


def _check_target(kind: str, target: str) -> str:
    if not target:
        raise InvalidParameter(f'invalid mount config for type "{kind}": field Target must not be empty')
    if not target.startswith("/"):
        raise InvalidParameter(
            f"invalid mount config for type \"{kind}\": invalid mount path: '{target}' mount path must be absolute"
        )
    clean = posixpath.normpath(target)
    if clean == "/":
        raise InvalidParameter(f"invalid mount config for type \"{kind}\": invalid specification: destination can't be '/'")
    return clean


def parse_bind(spec: str, exists: Callable[[str], bool]) -> dict[str, Any]:
    """``src:dst[:opts]`` -> a mount point dict (Type bind or volume)."""
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
            "Mode": ",".join(modes), "Propagation": "", "Driver": "local"}


_VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def _check_volume_name(name: str) -> None:
    if not _VOLUME_NAME.match(name):
        raise InvalidParameter(
            f'create {name}: "{name}" includes invalid characters for a local volume name, '
            "only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )


def parse_mount(m: dict[str, Any], exists: Callable[[str], bool]) -> dict[str, Any]:
    """One entry of ``HostConfig.Mounts`` -> a mount point dict."""
    if not isinstance(m, dict):
        raise InvalidParameter("invalid mount config: expected an object")
    kind = m.get("Type") or ""
    target = _check_target(kind, m.get("Target") or "")
    source = m.get("Source") or ""
    rw = not m.get("ReadOnly", False)
    if kind == "bind":
        if not source:
            raise InvalidParameter('invalid mount config for type "bind": field Source must not be empty')
        if not source.startswith("/"):
            raise InvalidParameter(f"invalid mount config for type \"bind\": invalid mount path: '{source}' mount path must be absolute")
        source = posixpath.normpath(source)
        if not exists(source):
            raise InvalidParameter(f'invalid mount config for type "bind": bind source path does not exist: {source}')
        prop = ((m.get("BindOptions") or {}).get("Propagation")) or "rprivate"
        return {"Type": "bind", "Source": source, "Destination": target, "RW": rw, "Mode": "",
                "Propagation": prop}
    if kind == "tmpfs":
        if source:
            raise InvalidParameter('invalid mount config for type "tmpfs": field Source must not be specified')
        opts = m.get("TmpfsOptions") or {}
        words = []
        if opts.get("SizeBytes"):
            if int(opts["SizeBytes"]) < 0:
                raise InvalidParameter('invalid mount config for type "tmpfs": invalid tmpfs size')
            words.append(f"size={int(opts['SizeBytes'])}")
        if opts.get("Mode"):
            words.append(f"mode={int(opts['Mode']):o}")
        return {"Type": "tmpfs", "Source": "", "Destination": target, "RW": rw, "Mode": "",
                "Propagation": "", "Options": words}
    if kind == "volume":
        if source:
            _check_volume_name(source)
        return {"Type": "volume", "Name": source, "Destination": target, "RW": rw, "Mode": "",
                "Propagation": "", "Driver": "local"}
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

    for spec in host.get("Binds") or []:
        if not isinstance(spec, str):
            raise InvalidParameter("invalid volume specification: binds must be strings")
        add(parse_bind(spec, exists))
    for m in host.get("Mounts") or []:
        add(parse_mount(m, exists))
    for dst, opts in (host.get("Tmpfs") or {}).items():
        target = _check_target("tmpfs", dst)
        add({"Type": "tmpfs", "Source": "", "Destination": target, "RW": "ro" not in (opts or "").split(","),
             "Mode": "", "Propagation": "", "Options": [o for o in (opts or "").split(",") if o]})
    for dst in (config.get("Volumes") or {}):
        clean = posixpath.normpath(dst) if dst.startswith("/") else None
        if clean is None:
            raise InvalidParameter(f"invalid volume specification: '{dst}'")
        if clean in seen:
            continue  # a bind or mount over an image volume replaces it
        add({"Type": "volume", "Name": "", "Destination": clean, "RW": True, "Mode": "", "Propagation": "",
             "Driver": "local", "Anonymous": True})
    return points


# ---------------------------------------------------------------------------
# HostConfig
# ---------------------------------------------------------------------------


def _log_config(host: dict[str, Any]) -> dict[str, Any]:
    log = host.get("LogConfig") or {}
    kind = log.get("Type") or "json-file"
    opts = {str(k): str(v) for k, v in (log.get("Config") or {}).items()}
    if kind not in LOG_DRIVERS:
        raise InvalidParameter(f"failed to create container: logger: no log driver named '{kind}' is registered")
    if kind == "none" and opts:
        raise InvalidParameter("logger: the none log driver takes no options")
    if kind == "json-file":
        for key in opts:
            if key not in JSON_FILE_OPTS:
                raise InvalidParameter(f"unknown log opt '{key}' for json-file log driver")
        if "max-size" in opts and opts["max-size"] != "-1":
            ram_in_bytes(opts["max-size"])
        if "max-file" in opts:
            try:
                count = int(opts["max-file"])
            except ValueError:
                raise InvalidParameter(f"invalid value for max-file: {opts['max-file']}") from None
            if count < 1:
                raise InvalidParameter("max-file cannot be less than 1")
            if count > 1 and "max-size" not in opts:
                raise InvalidParameter("max-file can only be set when max-size is set")
    return {"Type": kind, "Config": opts}


def restart_policy(host: dict[str, Any]) -> dict[str, Any]:
    policy = host.get("RestartPolicy") or {}
    name = policy.get("Name") or "no"
    count = int(policy.get("MaximumRetryCount") or 0)
    if name not in RESTART_POLICIES:
        raise InvalidParameter(
            f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        )
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


def normalize_resources(host: dict[str, Any], ncpu: int, warnings: list[str], swap_limit: bool = True) -> None:
    """moby's resource checks, in place (also used by ``update``)."""
    memory = _int(host, "Memory")
    swap = _int(host, "MemorySwap")
    if memory and memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if swap > 0 and memory == 0:
        raise InvalidParameter("You should always set the Memory limit when using Memoryswap limit, see usage")
    if memory > 0 and swap > 0 and swap < memory:
        raise InvalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage")
    if memory > 0 and swap == 0:
        swap = memory * 2  # moby's default: as much swap as memory
    if memory > 0 and swap > 0 and not swap_limit:
        warnings.append("Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
                        "Memory limited without swap.")
        swap = -1
    host["Memory"], host["MemorySwap"] = memory, swap
    reservation = _int(host, "MemoryReservation")
    if reservation and reservation < MIN_MEMORY:
        raise InvalidParameter("Minimum memory reservation allowed is 6MB")
    host["MemoryReservation"] = reservation
    nano = _int(host, "NanoCpus")
    period, quota = _int(host, "CpuPeriod"), _int(host, "CpuQuota")
    if nano and period:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano and quota:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if nano < 0 or nano > ncpu * 1_000_000_000:
        raise InvalidParameter(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")
    if period and (period < 1000 or period > 1_000_000):
        raise InvalidParameter("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if quota and 0 < quota < 1000:
        raise InvalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    host["NanoCpus"], host["CpuPeriod"], host["CpuQuota"] = nano, period, quota
    shares = _int(host, "CpuShares")
    if shares and shares < MIN_CPU_SHARES:
        warnings.append(f"Your kernel does not support CPU shares lower than {MIN_CPU_SHARES}: shares set to {MIN_CPU_SHARES}")
        shares = MIN_CPU_SHARES
    if shares > MAX_CPU_SHARES:
        warnings.append(f"Your kernel does not support CPU shares higher than {MAX_CPU_SHARES}: shares set to {MAX_CPU_SHARES}")
        shares = MAX_CPU_SHARES
    host["CpuShares"] = shares
    cpuset = host.get("CpusetCpus") or ""
    wanted = parse_cpuset(cpuset)
    if wanted and max(wanted) >= ncpu:
        raise InvalidParameter(f"Requested CPUs are not available - requested {cpuset}, available: 0-{ncpu - 1}")
    host["CpusetCpus"] = cpuset
    pids = host.get("PidsLimit")
    if pids is not None and not isinstance(pids, int):
        raise InvalidParameter("invalid PidsLimit")
    host["PidsLimit"] = pids if pids and pids > 0 else None


def normalize_host_config(host: dict[str, Any] | None, config: dict[str, Any], *, ncpu: int,
                          exists: Callable[[str], bool], cgroup_v2: bool = False, swap_limit: bool = True,
                          warnings: list[str] | None = None) -> dict[str, Any]:
    host = copy.deepcopy(host or {})
    warnings = warnings if warnings is not None else []
    for key, flag in UNSUPPORTED_HOST.items():
        if host.get(key):
            raise InvalidParameter(f"{flag} ({key}) is not supported by barge")
    network = host.get("NetworkMode") or "default"
    if network == "default":
        network = "bridge"
    if network.startswith("container:") and len(network) == len("container:"):
        raise InvalidParameter("--network: invalid container format container:<name|id>")
    host["NetworkMode"] = network  # user-defined networks are resolved by the network service
    host["IpcMode"] = _mode(host, "IpcMode", ("private", "shareable", "host", "none"), "private")
    host["PidMode"] = _mode(host, "PidMode", ("", "host"), "")
    host["UTSMode"] = _mode(host, "UTSMode", ("", "host"), "")
    cgroupns = host.get("CgroupnsMode") or ("private" if cgroup_v2 else "host")
    if cgroupns not in ("private", "host"):
        raise InvalidParameter(f"invalid cgroup namespace mode: {cgroupns}")
    host["CgroupnsMode"] = cgroupns
    if host.get("UsernsMode"):
        raise InvalidParameter("user namespaces (UsernsMode) are not supported by barge")
    host["LogConfig"] = _log_config(host)
    host["RestartPolicy"] = restart_policy(host)
    host["AutoRemove"] = _bool(host.get("AutoRemove"))
    if host["AutoRemove"] and host["RestartPolicy"]["Name"] != "no":
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    shm = _int(host, "ShmSize")
    if shm < 0:
        raise InvalidParameter("SHM size can not be less than 0")
    host["ShmSize"] = shm or DEFAULT_SHM_SIZE
    normalize_resources(host, ncpu, warnings, swap_limit)
    for key in ("CapAdd", "CapDrop"):
        caps = host.get(key)
        if caps:
            for cap in caps:
                normalize_capability(cap)
    for ulimit in host.get("Ulimits") or []:
        name = (ulimit or {}).get("Name", "")
        if name not in ULIMIT_NAMES:
            raise InvalidParameter(f"invalid ulimit type: {name}")
        soft, hard = int(ulimit.get("Soft", 0)), int(ulimit.get("Hard", 0))
        if soft > hard:
            raise InvalidParameter(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    for entry in host.get("ExtraHosts") or []:
        name, sep, ip = entry.partition(":")
        if not sep or not name or not ip:
            raise InvalidParameter(f"invalid IP address in add-host: \"{ip}\"" if sep else f"bad format for add-host: \"{entry}\"")
    console = host.get("ConsoleSize") or [0, 0]
    if not (isinstance(console, list) and len(console) == 2):
        raise InvalidParameter("invalid ConsoleSize")
    host["ConsoleSize"] = [int(console[0] or 0), int(console[1] or 0)]
    mount_points(host, config, exists)  # validates binds, mounts, tmpfs
    for key, default in HOST_DEFAULTS.items():
        if host.get(key) is None and default is not None:
            host[key] = copy.deepcopy(default)
        host.setdefault(key, None)
    return host


#: What inspect shows for HostConfig fields nobody set (moby's zero values).
HOST_DEFAULTS: dict[str, Any] = {
    "Binds": None, "ContainerIDFile": "", "PortBindings": {}, "VolumeDriver": "", "VolumesFrom": None,
    "CapAdd": None, "CapDrop": None, "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": None,
    "GroupAdd": None, "Cgroup": "", "Links": None, "OomScoreAdj": 0, "Privileged": False,
    "PublishAllPorts": False, "ReadonlyRootfs": False, "SecurityOpt": None, "UsernsMode": "",
    "Runtime": "", "Isolation": "", "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [],
    "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [], "BlkioDeviceReadIOps": [],
    "BlkioDeviceWriteIOps": [], "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetMems": "",
    "Devices": [], "DeviceCgroupRules": None, "DeviceRequests": None, "MemorySwappiness": None,
    "OomKillDisable": None, "Ulimits": [], "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
    "IOMaximumBandwidth": 0, "Init": None, "Mounts": None, "Tmpfs": None, "Sysctls": None,
}


# ---------------------------------------------------------------------------
# Config, merged with the image's
# ---------------------------------------------------------------------------


def normalize_config(body: dict[str, Any], image_config: dict[str, Any] | None) -> dict[str, Any]:
    """The container's Config: the request's fields, the image's filling the gaps (moby ``merge``)."""
    image = image_config or {}
    config: dict[str, Any] = {}
    for key in CONFIG_KEYS:
        if key in body:
            config[key] = copy.deepcopy(body[key])
    cmd = strslice(config.get("Cmd"), "Cmd")
    entrypoint = strslice(config.get("Entrypoint"), "Entrypoint")
    env = config.get("Env") or []
    if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
        raise InvalidParameter("invalid environment: Env must be a list of strings")
    for entry in env:
        if not env_key(entry):
            raise InvalidParameter(f"invalid environment variable: {entry}")
    labels = config.get("Labels") or {}
    if not isinstance(labels, dict):
        raise InvalidParameter("invalid Labels: expected an object")
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
    merged_labels.update({str(k): str(v) for k, v in labels.items()})
    config["Labels"] = merged_labels
    if not entrypoint:
        if not cmd:
            cmd = strslice(image.get("Cmd"), "Cmd")
        if entrypoint is None:
            entrypoint = strslice(image.get("Entrypoint"), "Entrypoint")
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
    if not config.get("StopSignal"):
        if image.get("StopSignal"):
            config["StopSignal"] = image["StopSignal"]
        else:
            config.pop("StopSignal", None)
    if config.get("StopTimeout") is None:
        config.pop("StopTimeout", None)
    config["OnBuild"] = config.get("OnBuild") or image.get("OnBuild") or None
    for key in ("Hostname", "Domainname", "Image", "WorkingDir"):
        config.setdefault(key, "")
    for key in ("AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"):
        config[key] = _bool(config.get(key))
    return config


def command_of(config: dict[str, Any]) -> tuple[str, list[str]]:
    """moby's ``getEntrypointAndArgs``: (Path, Args) of inspect."""
    entrypoint = config.get("Entrypoint") or []
    cmd = config.get("Cmd") or []
    full = list(entrypoint) + list(cmd)
    return full[0], full[1:]


def normalize_create(body: dict[str, Any], image_config: dict[str, Any] | None, *, ncpu: int,
                     exists: Callable[[str], bool], cgroup_v2: bool = False,
                     swap_limit: bool = True) -> Normalized:
    """Check and complete a create request; raises Docker's 400s."""
    if not isinstance(body, dict):
        raise InvalidParameter("invalid create request: expected a JSON object")
    host_in = body.get("HostConfig")
    if host_in is not None and not isinstance(host_in, dict):
        raise InvalidParameter("invalid HostConfig: expected an object")
    config = normalize_config(body, image_config)
    warnings: list[str] = []
    host = normalize_host_config(host_in, config, ncpu=ncpu, exists=exists, cgroup_v2=cgroup_v2,
                                 swap_limit=swap_limit, warnings=warnings)
    networking = copy.deepcopy(body.get("NetworkingConfig") or {})
    return Normalized(config, host, networking, warnings)
