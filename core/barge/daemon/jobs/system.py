"""Jobs ``version`` and ``info``: what ``docker version`` and ``docker info`` show.

The answers keep the shape of moby's ``types.Version`` and
``system.Info`` so that the docker CLI and docker-py read them unchanged;
every value is measured on this machine, none is made up. ``BargeDrivers``
is barge's own key: every driver found, and why it is not used.
"""

from __future__ import annotations

import datetime
import functools
import os
import platform
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import barge
from barge.contracts.system import CheckArgs, DiskUsageArgs, InfoArgs, VersionArgs
from barge.daemon.check import check as consistency_check
from barge.daemon.diskusage import disk_usage
from barge.engine.plugins import find_drivers
from barge.logdriver import log_driver_names

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services
    from barge.engine import Engine

_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


def register(engine: "Engine", services: "Services") -> None:
    engine.register("version", VersionArgs, lambda job: version_info())
    engine.register("info", InfoArgs, lambda job: system_info(services))
    engine.register("system_df", DiskUsageArgs, lambda job: disk_usage(services, job.args.types))
    engine.register("system_check", CheckArgs, lambda job: consistency_check(services, job.args.repair))


# ---------------------------------------------------------------------------
# version
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """Short commit of the source tree barge runs from, or "" when not a checkout."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        git = parent / ".git"
        if git.is_dir():
            return _resolve_head(git)[:7]
    return ""


def _resolve_head(git: Path) -> str:
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        ref_file = git / ref
        if ref_file.is_file():
            return ref_file.read_text().strip()
        packed = git / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0]
    except OSError:
        pass
    return ""


def version_info() -> dict[str, Any]:
    uname = os.uname()
    arch = _GOARCH.get(uname.machine, uname.machine)
    details = {
        "ApiVersion": barge.API_VERSION,
        "MinAPIVersion": barge.MIN_API_VERSION,
        "GitCommit": git_commit(),
        "GoVersion": f"python{platform.python_version()}",
        "Os": "linux",
        "Arch": arch,
        "KernelVersion": uname.release,
        "BuildTime": "",
        "Experimental": "false",
    }
    return {
        "Platform": {"Name": f"Barge Engine {barge.__version__}"},
        "Components": [{"Name": "Engine", "Version": barge.__version__, "Details": details}],
        "Version": barge.__version__,
        "ApiVersion": barge.API_VERSION,
        "MinAPIVersion": barge.MIN_API_VERSION,
        "GitCommit": details["GitCommit"],
        "GoVersion": details["GoVersion"],
        "Os": "linux",
        "Arch": arch,
        "KernelVersion": uname.release,
        "BuildTime": "",
    }


# ---------------------------------------------------------------------------
# info: facts about this machine
# ---------------------------------------------------------------------------


def cgroup_version(mountinfo: str | None = None) -> str:
    """"2" when /sys/fs/cgroup is a cgroup2 mount, "1" for v1 and hybrid hosts."""
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
        except OSError:
            return ""
    v1 = False
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        fstype = line.split(" - ", 1)[1].split()[0]
        if fields[4] == "/sys/fs/cgroup" and fstype == "cgroup2":
            return "2"
        if fstype == "cgroup":
            v1 = True
    return "1" if v1 else ""


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _os_release() -> tuple[str, str]:
    values = {}
    for line in _read("/etc/os-release").splitlines():
        key, _, value = line.partition("=")
        values[key] = value.strip().strip('"')
    return values.get("PRETTY_NAME", "Linux"), values.get("VERSION_ID", "")


def _mem_total() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _rfc3339_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="microseconds")


def _limits(services: "Services") -> dict[str, bool]:
    """What containers get here: the SysInfo that create checks requests against."""
    from barge.containers import sysinfo

    containers = services.containers
    si = containers.sysinfo if containers is not None else sysinfo.detect()
    return {
        "MemoryLimit": si.memory_limit,
        "SwapLimit": si.swap_limit,
        "KernelMemoryTCP": si.kernel_memory_tcp,
        "CpuCfsPeriod": si.cpu_cfs,
        "CpuCfsQuota": si.cpu_cfs,
        "CPUShares": si.cpu_shares,
        "CPUSet": si.cpuset,
        "PidsLimit": si.pids_limit,
        "OomKillDisable": si.oom_kill_disable,
    }


def _warnings(services: "Services", limits: dict[str, bool]) -> list[str]:
    """dockerd's warnings about this host (none: ``Warnings`` is null, as dockerd's nil slice)."""
    out = []
    cfg = services.config
    for host in cfg.hosts:
        if host.startswith("tcp://") and not cfg.tls.enabled:
            out.append(f"WARNING: API is accessible on http://{host[6:]} without encryption.")
    if not limits["SwapLimit"]:
        out.append("WARNING: No swap limit support")
    if _read("/proc/sys/net/ipv4/ip_forward") != "1":
        out.append("WARNING: IPv4 forwarding is disabled")
    return out


def _security_options(cfg, cgroup_v: str) -> list[str]:
    """moby's list: seccomp with the daemon's profile (``builtin``, or ``custom``) when the
    kernel filters system calls; ``cgroupns`` when containers get a private cgroup namespace."""
    from barge.security.seccomp import BUILTIN, UNCONFINED

    out = []
    setting = cfg.seccomp_profile or BUILTIN
    if "Seccomp:" in _read("/proc/self/status") and setting != UNCONFINED:
        out.append(f"name=seccomp,profile={BUILTIN if setting == BUILTIN else 'custom'}")
    if cgroup_v == "2":
        out.append("name=cgroupns")
    return out


def _image_count(services: "Services") -> int:
    store = services.images
    if store is None:
        return 0
    return len(store.all_images())


def _firewall(pm) -> dict[str, Any] | None:
    """API 1.48's ``FirewallBackend``: the network driver's backend and its details."""
    try:
        status = [(str(k), str(v)) for k, v in (pm.hook.barge_network_status() or [])]
    except Exception as exc:  # noqa: BLE001 - a driver that cannot say still leaves /info working
        return {"Driver": "unknown", "Info": [["Error", str(exc)]]}
    backend = next((v for k, v in status if k == "Firewall Backend"), "")
    return {"Driver": backend, "Info": [[k, v] for k, v in status if k != "Firewall Backend"]}


def system_info(services: "Services") -> dict[str, Any]:
    """``GET /info``. Long on purpose: one literal in the order of moby's ``system.Info``, so it
    reads side by side with Docker's document; each value is measured by a helper above."""
    cfg = services.config
    pm = services.pm
    uname = os.uname()
    cgroup_v = cgroup_version()
    limits = _limits(services)
    os_name, os_version = _os_release()
    driver_status = [[str(k), str(v)] for k, v in (pm.hook.barge_graph_status() or [])]
    exec_drivers = [d.name for d in find_drivers("exec")]
    network = services.networks
    network_drivers = ([network.driver] if network is not None and network.driver else []) + ["host", "null"]
    firewall = _firewall(pm) if network is not None and network.driver else None
    containers = services.containers
    counts = containers.queries.counts() if containers is not None else {}
    return {
        "ID": services.engine_id,
        "Containers": counts.get("Containers", 0),
        "ContainersRunning": counts.get("ContainersRunning", 0),
        "ContainersPaused": counts.get("ContainersPaused", 0),
        "ContainersStopped": counts.get("ContainersStopped", 0),
        "Images": _image_count(services),
        "Driver": services.graph_driver,
        "DriverStatus": driver_status,
        "SystemStatus": None,
        "Plugins": {
            "Volume": [],
            "Network": network_drivers,
            "Authorization": None,
            "Log": log_driver_names(),
        },
        **limits,
        "IPv4Forwarding": _read("/proc/sys/net/ipv4/ip_forward") == "1",
        "BridgeNfIptables": _read("/proc/sys/net/bridge/bridge-nf-call-iptables") == "1",
        "BridgeNfIp6tables": _read("/proc/sys/net/bridge/bridge-nf-call-ip6tables") == "1",
        "Debug": cfg.debug,
        "NFd": len(os.listdir("/proc/self/fd")),
        "NGoroutines": threading.active_count(),
        "SystemTime": _rfc3339_now(),
        "LoggingDriver": cfg.log_driver,
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_v,
        "NEventsListener": services.events.listeners() if services.events is not None else 0,
        "KernelVersion": uname.release,
        "OperatingSystem": os_name,
        "OSVersion": os_version,
        "OSType": "linux",
        "Architecture": uname.machine,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {
            "AllowNondistributableArtifactsCIDRs": [],
            "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": ["::1/128", "127.0.0.0/8"] + [r for r in cfg.registry.insecure_registries
                                                                   if "/" in r],
            "IndexConfigs": {
                "docker.io": {"Name": "docker.io", "Mirrors": list(cfg.registry.registry_mirrors), "Secure": True,
                              "Official": True},
                **{r: {"Name": r, "Mirrors": [], "Secure": False, "Official": False}
                   for r in cfg.registry.insecure_registries if "/" not in r},
            },
            "Mirrors": list(cfg.registry.registry_mirrors),
        },
        "GenericResources": None,
        "NCPU": os.cpu_count() or 1,
        "MemTotal": _mem_total(),
        "DockerRootDir": str(cfg.data_root),
        "HttpProxy": os.environ.get("HTTP_PROXY", os.environ.get("http_proxy", "")),
        "HttpsProxy": os.environ.get("HTTPS_PROXY", os.environ.get("https_proxy", "")),
        "NoProxy": os.environ.get("NO_PROXY", os.environ.get("no_proxy", "")),
        "Name": socket.gethostname(),
        "Labels": list(cfg.labels),
        "ExperimentalBuild": False,
        "ServerVersion": barge.__version__,
        "Runtimes": {name: {"path": name} for name in exec_drivers},
        "DefaultRuntime": exec_drivers[0] if exec_drivers else "",
        "Swarm": {
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "inactive",
            "ControlAvailable": False,
            "Error": "",
            "RemoteManagers": None,
        },
        "LiveRestoreEnabled": False,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": _security_options(cfg, cgroup_v),
        "DefaultAddressPools": ([{"Base": p["base"], "Size": p["size"]} for p in cfg.network.default_address_pools]
                                or None),
        "FirewallBackend": firewall,
        "CDISpecDirs": [],
        "Containerd": None,
        "Warnings": _warnings(services, limits) or None,  # Go's nil slice when there is none
        "BargeDrivers": [r.to_dict() for r in services.driver_reports],
    }
