"""``run``/``create`` flags -> the Engine API's create request, as docker's
``parse()`` (cli/command/container/opts.go) builds it.

The body has Docker's shape: the ``Config`` fields at top level, plus
``HostConfig`` (resources flattened into it) and ``NetworkingConfig``; zero
values are sent as the Go client sends them, so the daemon sees the same
request from ``barge run`` and ``docker run``. Pure: no I/O except reading
``--env-file``/``--label-file`` and the caller's environment.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Mapping

from barge import detachkeys, portspec
from barge.client.errors import ClientError
from barge.errors import InvalidParameter


class OptionError(ClientError):
    """A flag value docker would refuse before sending anything (exit 125)."""


ULIMIT_NAMES = (
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
    "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
)
_BINARY = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_DECIMAL = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}


def flag_error(value: str, flag: str, reason: str) -> OptionError:
    """pflag's message for a value a flag's parser refused."""
    return OptionError(f'invalid argument "{value}" for "{flag}" flag: {reason}')


def parse_size(text: str, binary: bool = True) -> int:
    """go-units ``RAMInBytes`` (binary) / ``FromHumanSize`` (decimal)."""
    sep = max(text.rfind(c) for c in "0123456789. ")
    if sep == -1:
        raise ValueError(f"invalid size: '{text}'")
    if text[sep] == " ":
        num, suffix = text[:sep], text[sep + 1:]
    else:
        num, suffix = text[: sep + 1], text[sep + 1:]
    try:
        size = float(num)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing "{num}": invalid syntax') from None
    if size < 0:
        raise ValueError(f"invalid size: '{text}'")
    if not suffix:
        return int(size)
    bad = ValueError(f"invalid suffix: '{suffix}'")
    if len(suffix) > 3:
        raise bad
    low = suffix.lower()
    if low[0] == "b":
        if len(low) > 1:
            raise bad
        return int(size)
    table = _BINARY if binary else _DECIMAL
    if low[0] not in table:
        raise bad
    if (len(low) == 2 and low[1] != "b") or (len(low) == 3 and low[1:] != "ib"):
        raise bad
    return int(size * table[low[0]])


_RATIONAL = re.compile(r"^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$")


def parse_cpus(text: str) -> int:
    """docker's ``ParseCPUs``: a rational number of CPUs -> NanoCPUs, exactly
    (big.Rat there; integer arithmetic here, ``fractions`` costs 20 ms to import)."""
    value = text.strip()
    m = _RATIONAL.match(value)
    if "/" in value:
        num, _, den = value.partition("/")
        try:
            n, d = int(num), int(den)
        except ValueError:
            raise ValueError(f"failed to parse {text} as a rational number") from None
        if d == 0:
            raise ValueError(f"failed to parse {text} as a rational number")
        if (n * 1_000_000_000) % d:
            raise ValueError("value is too precise")
        return n * 1_000_000_000 // d
    if not m or not (m.group(2) or m.group(3)):
        raise ValueError(f"failed to parse {text} as a rational number")
    sign, whole, frac, exp = m.group(1), m.group(2) or "0", m.group(3) or "", int(m.group(4) or 0)
    digits = int(whole + frac)
    scale = 9 + exp - len(frac)  # value * 1e9 == digits * 10**scale
    if scale >= 0:
        nano = digits * 10**scale
    else:
        if digits % 10**-scale:
            raise ValueError("value is too precise")
        nano = digits // 10**-scale
    return -nano if sign == "-" else nano


def parse_ulimit(text: str) -> dict:
    """go-units ``ParseUlimit``: ``nofile=100[:200]`` -> ``{Name, Hard, Soft}``."""
    name, sep, values = text.partition("=")
    if not sep:
        raise ValueError(f"invalid ulimit argument: {text}")
    if name not in ULIMIT_NAMES:
        raise ValueError(f"invalid ulimit type: {name}")
    parts = values.split(":")
    if len(parts) > 2:
        raise ValueError(f"too many limit value arguments - {values}, can only have up to two, `soft[:hard]`")
    try:
        soft = int(parts[0])
        hard = int(parts[1]) if len(parts) == 2 else soft
    except ValueError as exc:
        raise ValueError(f"strconv.ParseInt: parsing {str(exc).split(':')[-1].strip()}: invalid syntax") from None
    if hard != -1:
        if soft == -1:
            raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: {hard}")
        if soft > hard:
            raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return {"Name": name, "Hard": hard, "Soft": soft}


def parse_restart_policy(text: str) -> dict:
    """docker's ``ParseRestartPolicy`` (the daemon validates the name)."""
    if text == "":
        return {"Name": "", "MaximumRetryCount": 0}
    name, sep, count = text.partition(":")
    if sep and not name:
        raise OptionError("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        try:
            retries = int(count)
        except ValueError:
            raise OptionError("invalid restart policy format: maximum retry count must be an integer") from None
    return {"Name": name, "MaximumRetryCount": retries}


def validate_env(value: str, environ: Mapping[str, str]) -> str:
    """``-e NAME`` takes NAME's value from our environment when it is set."""
    name, sep, _ = value.partition("=")
    if not name:
        raise OptionError(f"invalid environment variable: {value}")
    if sep:
        return value
    if name in environ:
        return f"{name}={environ[name]}"
    return value


def read_kv_file(path: str, environ: Mapping[str, str] | None, kind: str = "env") -> list[str]:
    """``--env-file``/``--label-file``: one ``KEY=value`` a line, ``#`` comments;
    a bare ``KEY`` in an env file takes our environment's value, if any."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise OptionError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None
    text = raw.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines: list[str] = []
    for line in text.splitlines():
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.lstrip(" \t")
        if any(c in name for c in " \t"):
            raise OptionError(f"variable '{name}' contains whitespaces")
        if not name:
            raise OptionError(f"no variable name on line '{line}'")
        if sep:
            lines.append(f"{name}={value}")
        elif environ is not None and name in environ:
            lines.append(f"{name.strip()}={environ[name]}")
        elif environ is None:
            lines.append(name)
    return lines


def kv_map(items: list[str]) -> dict[str, str]:
    """``a=b`` and bare ``a`` (empty value) into a map, later ones winning."""
    out: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out


# ------------------------------------------------------------------ ports (barge.portspec, with the CLI's error type)

def _port_range(text: str, what: str) -> tuple[int, int]:
    try:
        return portspec.port_range(text, what)
    except InvalidParameter as exc:
        raise OptionError(str(exc)) from None


def parse_port_specs(specs: list[str]) -> tuple[dict, dict]:
    """go-connections ``nat.ParsePortSpecs`` (:mod:`barge.portspec`): (ExposedPorts, PortBindings)."""
    try:
        return portspec.parse_port_specs(specs)
    except InvalidParameter as exc:
        raise OptionError(str(exc)) from None


def parse_expose(values: list[str], exposed: dict) -> None:
    for value in values:
        if ":" in value:
            raise OptionError(f"invalid port format for --expose: {value}")
        port, _, proto = value.partition("/")
        first, last = _port_range(port, "range format for --expose")
        for p in range(first, last + 1):
            exposed.setdefault(f"{p}/{proto or 'tcp'}", {})


# ------------------------------------------------------------------ mounts

def parse_volume(spec: str) -> tuple[str | None, str]:
    """``-v``: (bind string, None) for ``src:dst[:mode]``; (None, dst) for an
    anonymous volume. Relative ``./x`` sources become absolute, as docker."""
    parts = spec.split(":")
    if not spec or len(parts) > 3 or any(p == "" for p in parts[:2]):
        raise OptionError(f"invalid spec: {spec}: empty section between colons" if "::" in spec else f"invalid volume specification: '{spec}'")
    if len(parts) == 1:
        return None, spec
    source = parts[0]
    if not source.startswith("/") and source.startswith("."):
        source = os.path.abspath(source)
    return ":".join([source] + parts[1:]), parts[1]


def parse_mount(spec: str) -> dict:
    """``--mount type=bind,source=/a,target=/b,readonly`` -> a ``Mounts`` entry."""
    mount: dict = {"Type": "volume"}
    bind: dict = {}
    volume: dict = {}
    tmpfs: dict = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep and key not in ("readonly", "ro", "volume-nocopy", "bind-nonrecursive"):
            raise OptionError(f"invalid field '{part}' must be a key=value pair")
        truthy = value.lower() not in ("false", "0", "no") if sep else True
        if key == "type":
            mount["Type"] = value
        elif key in ("source", "src"):
            mount["Source"] = value
        elif key in ("target", "destination", "dst"):
            mount["Target"] = value
        elif key in ("readonly", "ro"):
            mount["ReadOnly"] = truthy
        elif key == "consistency":
            mount["Consistency"] = value
        elif key == "bind-propagation":
            bind["Propagation"] = value
        elif key == "bind-nonrecursive":
            bind["NonRecursive"] = truthy
        elif key == "volume-nocopy":
            volume["NoCopy"] = truthy
        elif key == "volume-label":
            k, _, v = value.partition("=")
            volume.setdefault("Labels", {})[k] = v
        elif key == "volume-driver":
            volume.setdefault("DriverConfig", {})["Name"] = value
        elif key == "volume-subpath":
            volume["Subpath"] = value
        elif key == "tmpfs-size":
            try:
                tmpfs["SizeBytes"] = parse_size(value)
            except ValueError as exc:
                raise OptionError(f"invalid value for {key}: {exc}") from None
        elif key == "tmpfs-mode":
            try:
                tmpfs["Mode"] = int(value, 8)
            except ValueError:
                raise OptionError(f"invalid value for {key}: {value}") from None
        else:
            raise OptionError(f"unexpected key '{key}' in '{part}'")
    if "Target" not in mount:
        raise OptionError("target is required")
    if bind:
        mount["BindOptions"] = bind
    if volume:
        mount["VolumeOptions"] = volume
    if tmpfs:
        mount["TmpfsOptions"] = tmpfs
    return mount


# ------------------------------------------------------------------ healthchecks

def _duration(text: str, flag: str) -> int:
    from barge.dockerfile.instructions import parse_go_duration  # Go's time.ParseDuration, once

    if not text:
        return 0
    try:
        value = parse_go_duration(text)
    except InvalidParameter as exc:
        raise OptionError(f'invalid argument "{text}" for "{flag}" flag: {exc}') from None
    if value < 0:
        raise OptionError(f"{flag} cannot be negative")
    return value


def healthcheck(o: "ContainerOptions") -> dict | None:
    """The docker CLI's ``--health-*`` and ``--no-healthcheck``: the create body's Healthcheck, or None."""
    durations = {key: _duration(getattr(o, attr), flag) for key, attr, flag in (
        ("Interval", "health_interval", "--health-interval"), ("Timeout", "health_timeout", "--health-timeout"),
        ("StartPeriod", "health_start_period", "--health-start-period"),
        ("StartInterval", "health_start_interval", "--health-start-interval"))}
    have = bool(o.health_cmd or o.health_retries or any(durations.values()))
    if o.no_healthcheck:
        if have:
            raise OptionError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not have:
        return None
    if o.health_retries < 0:
        raise OptionError("--health-retries cannot be negative")
    health: dict = {"Test": ["CMD-SHELL", o.health_cmd] if o.health_cmd else None, **durations,
                    "Retries": o.health_retries}
    return health


# ------------------------------------------------------------------ options

@dataclass
class ContainerOptions:
    """Every ``run``/``create`` flag we understand, as typed by the user."""

    image: str = ""
    args: list[str] = field(default_factory=list)
    attach: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    env_file: list[str] = field(default_factory=list)
    entrypoint: str | None = None
    hostname: str = ""
    domainname: str = ""
    interactive: bool = False
    tty: bool = False
    labels: list[str] = field(default_factory=list)
    label_file: list[str] = field(default_factory=list)
    read_only: bool = False
    restart: str = "no"
    stop_signal: str = ""
    stop_timeout: int | None = None
    health_cmd: str = ""
    health_interval: str = ""
    health_timeout: str = ""
    health_retries: int = 0
    health_start_period: str = ""
    health_start_interval: str = ""
    no_healthcheck: bool = False
    ulimits: list[str] = field(default_factory=list)
    user: str = ""
    workdir: str = ""
    auto_remove: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    security_opt: list[str] = field(default_factory=list)
    network: list[str] = field(default_factory=list)
    network_alias: list[str] = field(default_factory=list)
    ip: str = ""
    ip6: str = ""
    link_local_ip: list[str] | None = None
    mac_address: str = ""
    links: list[str] = field(default_factory=list)
    publish: list[str] = field(default_factory=list)
    publish_all: bool = False
    expose: list[str] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_option: list[str] = field(default_factory=list)
    add_host: list[str] = field(default_factory=list)
    log_driver: str = ""
    log_opt: list[str] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    volumes_from: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    memory: str | None = None
    memory_swap: str | None = None
    memory_reservation: str | None = None
    memory_swappiness: int = -1
    oom_kill_disable: bool = False
    oom_score_adj: int = 0
    cpus: str | None = None
    cpu_shares: int = 0
    cpu_period: int = 0
    cpu_quota: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int = 0
    shm_size: str | None = None
    init: bool | None = None
    ipc: str = ""
    pid: str = ""
    uts: str = ""
    cgroupns: str = ""
    cgroup_parent: str = ""
    sysctls: list[str] = field(default_factory=list)
    group_add: list[str] = field(default_factory=list)
    runtime: str = ""
    cidfile: str = ""


def security_opt(opt: str) -> str:
    """One ``--security-opt`` checked as the docker CLI checks it; ``seccomp=<file>``
    becomes ``seccomp=<the file's JSON, compacted>``: the daemon never reads
    the client's files."""
    key, sep, value = opt.partition("=")
    if not sep and key != "no-new-privileges":
        key, sep, value = opt.partition(":")
    if (not sep or not value) and key != "no-new-privileges":
        raise OptionError(f'Invalid --security-opt: "{opt}"')
    if key != "seccomp" or value in ("builtin", "unconfined"):
        return opt
    import json

    try:
        with open(value, "rb") as fh:
            profile = json.loads(fh.read())
    except OSError as exc:
        raise OptionError(f"opening seccomp profile ({value}) failed: {exc.strerror}") from None
    except ValueError as exc:
        raise OptionError(f"compacting json for seccomp profile ({value}) failed: {exc}") from None
    return "seccomp=" + json.dumps(profile, separators=(",", ":"))


def _size_flag(value: str | None, flag: str, swap: bool = False) -> int:
    if value is None:
        return 0
    if swap and value == "-1":
        return -1
    try:
        return parse_size(value)
    except ValueError as exc:
        raise flag_error(value, flag, str(exc)) from None


def build_create_body(o: ContainerOptions, environ: Mapping[str, str] | None = None,
                      console_size: tuple[int, int] = (0, 0)) -> dict:
    """The ``POST /containers/create`` body for these options (docker's parse).

    Long on purpose: one literal of the body in the order of docker's
    ``parse``, each flag checked where it is read, so the first bad flag is
    the one docker names.
    """
    environ = os.environ if environ is None else environ
    attach = [a.lower() for a in o.attach]
    for a in attach:
        if a not in ("stdin", "stdout", "stderr"):
            raise flag_error(a, "-a, --attach", "valid streams are STDIN, STDOUT and STDERR")
    attach_stdin = "stdin" in attach or o.interactive
    attach_stdout = "stdout" in attach or not attach
    attach_stderr = "stderr" in attach or not attach

    if o.memory_swappiness != -1 and not 0 <= o.memory_swappiness <= 100:
        raise OptionError(f"invalid value: {o.memory_swappiness}. Valid memory swappiness range is 0-100")

    binds: list[str] = []
    volumes: dict[str, dict] = {}
    for spec in o.volumes:
        bind, target = parse_volume(spec)
        if bind is None:
            volumes[target] = {}
        else:
            binds.append(bind)
    tmpfs = {}
    for t in o.tmpfs:
        path, _, opts = t.partition(":")
        tmpfs[path] = opts

    entrypoint = None
    if o.entrypoint is not None:
        entrypoint = [o.entrypoint] if o.entrypoint != "" else [""]

    exposed, port_bindings = parse_port_specs(o.publish)
    parse_expose(o.expose, exposed)

    env = [validate_env(e, environ) for e in _env_from_files(o.env_file, environ)]
    env += [validate_env(e, environ) for e in o.env]
    labels = []
    for path in o.label_file:
        labels += read_kv_file(path, None, "label")
    labels += o.labels

    restart = parse_restart_policy(o.restart)
    log_config = kv_map(o.log_opt)
    if o.log_driver == "none" and o.log_opt:
        raise OptionError(f"invalid logging opts for driver {o.log_driver}")
    security = [security_opt(opt) for opt in o.security_opt if opt != "systempaths=unconfined"]
    unconfined = len(security) != len(o.security_opt)

    ulimits = []
    for u in o.ulimits:
        try:
            ulimits.append(parse_ulimit(u))
        except ValueError as exc:
            raise flag_error(u, "--ulimit", str(exc)) from None
    nano_cpus = 0
    if o.cpus is not None:
        try:
            nano_cpus = parse_cpus(o.cpus)
        except ValueError as exc:
            raise flag_error(o.cpus, "--cpus", str(exc)) from None

    networks = o.network or []
    network_mode = networks[0] if networks else "default"
    sysctls = {}
    for s in o.sysctls:
        k, sep, v = s.partition("=")
        if not sep:
            raise flag_error(s, "--sysctl", f"{s} is not a valid sysctl value")
        sysctls[k] = v

    config = {
        "Hostname": o.hostname,
        "Domainname": o.domainname,
        "User": o.user,
        "AttachStdin": attach_stdin,
        "AttachStdout": attach_stdout,
        "AttachStderr": attach_stderr,
        "Tty": o.tty,
        "OpenStdin": o.interactive,
        "StdinOnce": bool(o.interactive and attach_stdin),
        "Env": env or None,
        "Cmd": list(o.args) or None,
        "Image": o.image,
        "Volumes": volumes or None,
        "WorkingDir": o.workdir,
        "Entrypoint": entrypoint,
        "OnBuild": None,
        "Labels": kv_map(labels),
    }
    if exposed:
        config["ExposedPorts"] = exposed
    if o.stop_signal:
        config["StopSignal"] = o.stop_signal
    if o.stop_timeout is not None:
        config["StopTimeout"] = o.stop_timeout
    health = healthcheck(o)
    if health is not None:
        config["Healthcheck"] = health

    host_config = {
        "Binds": binds or None,
        "ContainerIDFile": o.cidfile,
        "LogConfig": {"Type": o.log_driver, "Config": log_config},
        "NetworkMode": network_mode,
        "PortBindings": port_bindings,
        "RestartPolicy": restart,
        "AutoRemove": o.auto_remove,
        "VolumeDriver": "",
        "VolumesFrom": list(o.volumes_from) or None,
        "ConsoleSize": [console_size[0], console_size[1]],
        "CapAdd": list(o.cap_add) or None,
        "CapDrop": list(o.cap_drop) or None,
        "CgroupnsMode": o.cgroupns,
        "Dns": list(o.dns),
        "DnsOptions": list(o.dns_option),
        "DnsSearch": list(o.dns_search),
        "ExtraHosts": list(o.add_host) or None,
        "GroupAdd": list(o.group_add) or None,
        "IpcMode": o.ipc,
        "Cgroup": "",
        "Links": list(o.links) or None,
        "OomScoreAdj": o.oom_score_adj,
        "PidMode": o.pid,
        "Privileged": o.privileged,
        "PublishAllPorts": o.publish_all,
        "ReadonlyRootfs": o.read_only,
        "SecurityOpt": security or None,
        "UTSMode": o.uts,
        "UsernsMode": "",
        "ShmSize": _size_flag(o.shm_size, "--shm-size"),
        "Isolation": "",
        "CpuShares": o.cpu_shares,
        "Memory": _size_flag(o.memory, "-m, --memory"),
        "NanoCpus": nano_cpus,
        "CgroupParent": o.cgroup_parent,
        "BlkioWeight": 0,
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": [],
        "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [],
        "BlkioDeviceWriteIOps": [],
        "CpuPeriod": o.cpu_period,
        "CpuQuota": o.cpu_quota,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": o.cpuset_cpus,
        "CpusetMems": o.cpuset_mems,
        "Devices": [],
        "DeviceCgroupRules": None,
        "DeviceRequests": None,
        "MemoryReservation": _size_flag(o.memory_reservation, "--memory-reservation"),
        "MemorySwap": _size_flag(o.memory_swap, "--memory-swap", swap=True),
        "MemorySwappiness": o.memory_swappiness,
        "OomKillDisable": o.oom_kill_disable,
        "PidsLimit": o.pids_limit,
        "Ulimits": ulimits or None,
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "MaskedPaths": [] if unconfined else None,
        "ReadonlyPaths": [] if unconfined else None,
    }
    if tmpfs:
        host_config["Tmpfs"] = tmpfs
    if sysctls:
        host_config["Sysctls"] = sysctls
    if o.runtime:
        host_config["Runtime"] = o.runtime
    if o.mounts:
        host_config["Mounts"] = [parse_mount(m) for m in o.mounts]
    if o.init is not None:
        host_config["Init"] = o.init
    if o.auto_remove and restart["Name"] not in ("", "no"):
        raise OptionError("conflicting options: cannot specify both --restart and --rm")

    body = dict(config)
    body["HostConfig"] = host_config
    body["NetworkingConfig"] = {"EndpointsConfig": endpoints_config(o)}
    return body


# ------------------------------------------------------------------ networks



def _check_link(value: str) -> None:
    """The docker CLI's ``ValidateLink`` (moby's ``ParseLink`` texts)."""
    if not value:
        raise OptionError(f'invalid argument "{value}" for "--link" flag: empty string specified for links')
    if len(value.split(":")) > 2:
        raise OptionError(f'invalid argument "{value}" for "--link" flag: bad format for links: {value}')
_MAC = re.compile(r"^(?:[0-9A-Fa-f]{2}([:-]))(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}$|^(?:[0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$")


def is_user_defined(mode: str) -> bool:
    """docker's ``NetworkMode.IsUserDefined``: not one of the built-in modes."""
    return mode not in ("default", "bridge", "host", "none") and not mode.startswith("container:")


def _endpoint(target: str, o: ContainerOptions | None) -> dict:
    """docker's ``parseNetworkAttachmentOpt`` for one network; ``o`` carries the
    ``--ip``/``--ip6``/``--link-local-ip``/``--network-alias``/``--mac-address`` flags on the first network
    (docker 28 leaves ``--ip6`` to the daemon to check)."""
    if not target.strip():
        raise OptionError("no name set for network")
    endpoint: dict = {}
    if o is None:
        return endpoint
    if o.network_alias:
        if not is_user_defined(target):
            raise OptionError("network-scoped aliases are only supported for user-defined networks")
        endpoint["Aliases"] = list(o.network_alias)
    if o.ip or o.ip6 or o.link_local_ip:  # docker 28's IPAMConfig: the addresses given, nothing else
        ipam: dict = {}
        if o.ip:
            ipam["IPv4Address"] = o.ip
        if o.ip6:
            ipam["IPv6Address"] = o.ip6
        if o.link_local_ip:
            ipam["LinkLocalIPs"] = list(o.link_local_ip)
        endpoint["IPAMConfig"] = ipam
    if o.mac_address:
        endpoint["MacAddress"] = o.mac_address
    if o.links and is_user_defined(target):  # as docker 28: a user network's endpoint takes the links
        endpoint["Links"] = list(o.links)
    return endpoint


def endpoints_config(o: ContainerOptions) -> dict[str, dict]:
    """``NetworkingConfig.EndpointsConfig`` as docker CLI 28's ``parseNetworkOpts``
    builds it: the per-endpoint flags go on the first network (``default``
    when none is named); a single network without them is left out."""
    for link in o.links:
        _check_link(link)
    if o.ip:
        import ipaddress

        try:
            ipaddress.IPv4Address(o.ip)
        except ValueError:
            raise OptionError(f"invalid IPv4 address: {o.ip}") from None
    if o.mac_address and not _MAC.match(o.mac_address.strip()):
        raise OptionError(f"{o.mac_address} is not a valid mac address")
    networks = o.network or []
    if not networks:
        return {"default": _endpoint("default", o)}
    endpoints: dict[str, dict] = {}
    user, builtin = False, False
    for i, name in enumerate(networks):
        if is_user_defined(name):
            user = True
        else:
            builtin = True
        endpoint = _endpoint(name, o if i == 0 else None)
        if name in endpoints:
            raise OptionError(f'network "{name}" is specified multiple times')
        if i == 0 and len(networks) == 1 and not endpoint:
            continue
        endpoints[name] = endpoint
    if user and builtin:
        raise OptionError("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
    return endpoints


def _env_from_files(paths: list[str], environ: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    for path in paths:
        out += read_kv_file(path, environ)
    return out


# ------------------------------------------------------------------ update

def build_update_body(memory: str | None = None, memory_swap: str | None = None,
                      memory_reservation: str | None = None, cpus: str | None = None,
                      cpu_shares: int = 0, cpu_period: int = 0, cpu_quota: int = 0,
                      cpuset_cpus: str = "", cpuset_mems: str = "", pids_limit: int = 0,
                      blkio_weight: int = 0, restart: str = "") -> dict:
    """``docker update``'s ``UpdateConfig`` (resources flattened + RestartPolicy)."""
    nano = 0
    if cpus is not None:
        try:
            nano = parse_cpus(cpus)
        except ValueError as exc:
            raise flag_error(cpus, "--cpus", str(exc)) from None
    body = {
        "BlkioWeight": blkio_weight,
        "CpusetCpus": cpuset_cpus,
        "CpusetMems": cpuset_mems,
        "CpuShares": cpu_shares,
        "Memory": _size_flag(memory, "-m, --memory"),
        "MemoryReservation": _size_flag(memory_reservation, "--memory-reservation"),
        "MemorySwap": _size_flag(memory_swap, "--memory-swap", swap=True),
        "CpuPeriod": cpu_period,
        "CpuQuota": cpu_quota,
        "NanoCpus": nano,
        "RestartPolicy": parse_restart_policy(restart),
    }
    if pids_limit != 0:
        body["PidsLimit"] = pids_limit
    return body


def parse_detach_keys(spec: str) -> bytes:
    """moby/term ``ToBytes`` (:mod:`barge.detachkeys`): ``ctrl-p,ctrl-q`` -> ``b"\\x10\\x11"``."""
    try:
        return detachkeys.to_bytes(spec)
    except InvalidParameter as exc:
        raise OptionError(str(exc)) from None


DEFAULT_DETACH_KEYS = b"\x10\x11"
