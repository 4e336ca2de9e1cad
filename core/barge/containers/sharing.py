"""What a container shares with another: the ``container:<id>`` modes, as dockerd shares them.

A container on another's network (``NetworkMode container:<id>``) joins
its network namespace and takes its hostname, domain name and files
(/etc/hostname, /etc/hosts, /etc/resolv.conf), as moby's
``initializeNetworking`` does at every start. A container with
``IpcMode shareable`` gets its /dev/shm as a tmpfs mounted on the host at
``<data_root>/containers/<id>/mounts/shm`` (moby's ``setupIpcDirs``),
which its own /dev/shm and that of every ``IpcMode container:<id>``
joiner bind-mount: one IPC namespace, one /dev/shm. The tmpfs is
detached when the donor exits (joiners keep theirs alive until they go)
and before its directory is removed. ``PidMode container:<id>`` joins the
PID namespace. The errors are dockerd's texts.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any, Callable

from barge import mount as mnt
from barge.containers.store import Container
from barge.errors import BargeError, Conflict, InvalidParameter, NotFound

log = logging.getLogger("barge.containers")

PREFIX = "container:"
#: Below the container's directory, as moby's ``ShmResourcePath``.
SHM_DIR = ("mounts", "shm")
#: moby mounts the shareable tmpfs with these flags (and ``mode=1777,size=<ShmSize>``).
SHM_FLAGS = mnt.MS_NOSUID | mnt.MS_NODEV | mnt.MS_NOEXEC


def donor_of(mode: str) -> str:
    """The container a ``container:<ref>`` mode names ('' for any other mode)."""
    return mode[len(PREFIX):] if mode.startswith(PREFIX) else ""


def resolve_create_modes(host: dict[str, Any], get: Callable[[str], Container]) -> None:
    """At create, as dockerd: ``IpcMode`` and ``PidMode`` must name an existing container (a 400
    otherwise); these and a ``NetworkMode`` donor that exists are recorded by id (a missing network
    donor is an error of the start)."""
    for key in ("NetworkMode", "IpcMode", "PidMode"):
        ref = donor_of(host.get(key) or "")
        if not ref:
            continue
        try:
            host[key] = PREFIX + get(ref).id
        except NotFound as exc:
            if key != "NetworkMode":
                raise InvalidParameter(str(exc)) from None


def check_network_join(config: dict[str, Any], host: dict[str, Any]) -> None:
    """A container on another's network has that container's hostname (dockerd's first conflict)."""
    if donor_of(host.get("NetworkMode") or "") and config.get("Hostname"):
        raise InvalidParameter("conflicting options: hostname and the network mode")


def check_exposure(config: dict[str, Any], host: dict[str, Any]) -> None:
    """...and exposes no port of its own (checked after the other network conflicts, in dockerd's order)."""
    if donor_of(host.get("NetworkMode") or "") and config.get("ExposedPorts"):
        raise InvalidParameter("conflicting options: port exposing and the container type network mode")


def shm_path(container_dir: Path) -> Path:
    return container_dir.joinpath(*SHM_DIR)


def mount_shm(container_dir: Path, size: int) -> str:
    """A shareable container's /dev/shm: a fresh tmpfs on the host (a leftover one detached first)."""
    path = shm_path(container_dir)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.mkdir(mode=0o700, exist_ok=True)
    release_shm(container_dir, keep_dir=True)
    mnt.mount("shm", str(path), "tmpfs", SHM_FLAGS, f"mode=1777,size={size}")
    return str(path)


def release_shm(container_dir: Path, keep_dir: bool = False) -> None:
    """Detach the container's shareable /dev/shm (joiners still running keep theirs); never raises."""
    path = shm_path(container_dir)
    try:
        while os.path.ismount(path) and mnt.unmount(path, detach=True):
            pass
        if not keep_dir:
            with contextlib.suppress(FileNotFoundError, OSError):
                path.rmdir()
                path.parent.rmdir()
    except (OSError, BargeError):
        log.exception("detaching the /dev/shm of %s", container_dir.name[:12])


class Sharing:
    """At a start: the namespaces to join, the donor's hostname, the /dev/shm to bind."""

    def __init__(self, get: Callable[[str], Container], container_dir: Callable[[str], Path]):
        self.get = get
        self.container_dir = container_dir

    def _running(self, ref: str, wrap: str = "") -> Container:
        """The donor, running and not restarting; dockerd's errors (``wrap``: its prefix for them)."""
        try:
            other = self.get(ref)
        except NotFound as exc:
            raise NotFound(f"{wrap}{exc}" if wrap else str(exc)) from None
        if not other.state.Running or not other.state.Pid:
            raise Conflict(f"{wrap}container {other.id} is not running")
        if other.state.Restarting:
            raise Conflict(f"{wrap}Container {other.id} is restarting, wait until the container is running")
        return other

    def network_donor(self, c: Container) -> Container | None:
        """The container whose network ``c`` joins, running (None: a network of its own)."""
        ref = donor_of(c.host_config.get("NetworkMode") or "")
        if not ref:
            return None
        other = self.get(ref)
        if other.id == c.id:
            raise InvalidParameter("cannot join own network")
        if not other.state.Running or not other.state.Pid:
            raise Conflict(f"cannot join network of a non running container: {ref}")
        if other.state.Restarting:
            raise Conflict(f"Container {ref} is restarting, wait until the container is running")
        return other

    def adopt_hostname(self, c: Container, donor: Container) -> bool:
        """The joiner takes the donor's hostname and domain name (moby's ``initializeNetworking``);
        whether its config changed (to be saved)."""
        names = {k: donor.config.get(k) or "" for k in ("Hostname", "Domainname")}
        if all((c.config.get(k) or "") == v for k, v in names.items()):
            return False
        c.config.update(names)
        return True

    def ipc_donor(self, c: Container) -> Container | None:
        ref = donor_of(c.host_config.get("IpcMode") or "")
        return self._running(ref, f"can't join IPC of container {ref}: ") if ref else None

    def pid_donor(self, c: Container) -> Container | None:
        ref = donor_of(c.host_config.get("PidMode") or "")
        if not ref:
            return None
        try:
            return self._running(ref)
        except NotFound as exc:
            raise NotFound(f"cannot join PID of a non running container: {ref}: {exc}") from None

    def namespaces(self, c: Container, network: Container | None, sandbox_path: str = "") -> dict[str, str]:
        """kind -> namespace file, for each ``container:`` mode (the network donor's sandbox when kept)."""
        joined = {}
        if network is not None:
            joined["net"] = sandbox_path if sandbox_path and os.path.exists(sandbox_path) \
                else f"/proc/{network.state.Pid}/ns/net"
        ipc = self.ipc_donor(c)
        if ipc is not None:
            joined["ipc"] = f"/proc/{ipc.state.Pid}/ns/ipc"
        pid = self.pid_donor(c)
        if pid is not None:
            joined["pid"] = f"/proc/{pid.state.Pid}/ns/pid"
        return joined

    def dev_shm(self, c: Container, points: list[dict[str, Any]]) -> str:
        """The host directory bound at /dev/shm: a shareable container's own tmpfs (mounted now), its IPC
        donor's, or the host's for a donor on the host's IPC; '' for a /dev/shm of the spec's own."""
        mode = c.host_config.get("IpcMode") or "private"
        if any(os.path.normpath(p["Destination"]) == "/dev/shm" for p in points):
            return ""  # the user's mount there wins, as moby's HasMountFor("/dev/shm")
        if mode == "shareable":
            return mount_shm(self.container_dir(c.id), int(c.host_config.get("ShmSize") or 64 << 20))
        ref = donor_of(mode)
        if not ref:
            return ""
        donor = self._running(ref, f"can't join IPC of container {ref}: ")
        if donor.host_config.get("IpcMode") == "host":
            return "/dev/shm"
        path = shm_path(self.container_dir(donor.id))
        if donor.host_config.get("IpcMode") != "shareable" or not os.path.ismount(path):
            raise InvalidParameter(f"can't join IPC of container {ref}: non-shareable IPC (hint: use "
                                   "IpcMode:shareable for the donor container)")
        return str(path)
