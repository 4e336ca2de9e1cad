"""What the parts of the container service share: records, drivers, neighbours, machine facts.

Each part (:mod:`.create`, :mod:`.lifecycle`, :mod:`.supervisor`,
:mod:`.attach`, :mod:`.queries`, :mod:`.exec` ...) is built on one
:class:`ContainerContext` and holds no other part it does not call. The
small helpers here are the ones several parts need: the exec driver's
presence, a container's state directory and files, its lifecycle events,
releasing its driver instance and network.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from barge.containers import files
from barge.containers.neighbours import CopyUp, Networking, Volumes
from barge.containers.runtime import Runtime, RuntimeTable
from barge.containers.store import Container, ContainerStore
from barge.containers.sysinfo import SysInfo
from barge.errors import NotFound, NotImplementedByDriver

if TYPE_CHECKING:  # pragma: no cover
    import pluggy

    from barge.graph.store import ImageStore

log = logging.getLogger("barge.containers")


def cap_last(path: str = "/proc/sys/kernel/cap_last_cap") -> int:
    """The kernel's highest capability number (40 when it cannot be read)."""
    try:
        return int(Path(path).read_text())
    except (OSError, ValueError):
        return 40


@dataclass
class ContainerContext:
    table: RuntimeTable
    images: "ImageStore"
    pm: "pluggy.PluginManager"
    graph_driver: str
    #: the exec driver's name; None: no driver, and every container operation answers 501
    exec_driver: str | None
    #: why there is no exec driver
    exec_error: str
    #: what this machine's cgroups and kernel can apply (warnings and refusals depend on it)
    sysinfo: SysInfo
    cap_last: int
    #: the daemon's seccomp profile (None: unconfined)
    seccomp_profile: Any
    networking: Networking | None = None
    volumes: Volumes | None = None
    copy_up: CopyUp | None = None
    #: the daemon's ``log_driver``/``log_opts``: a container's LogConfig when it names none (dockerd's
    #: ``--log-driver``/``--log-opt``)
    default_log: dict[str, Any] = field(default_factory=lambda: {"Type": "json-file", "Config": {}})

    @property
    def store(self) -> ContainerStore:
        return self.table.store

    def require_driver(self) -> None:
        if self.exec_driver is None:
            raise NotImplementedByDriver(f"no exec driver: {self.exec_error or 'none configured'}")

    def get(self, ref: str) -> Container:
        return self.table.get(ref)

    @contextlib.contextmanager
    def driving(self, ref: str) -> Iterator[tuple[Container, Runtime]]:
        """``(record, runtime)`` for a lifecycle change: needs the exec driver;
        the record is re-read once its runtime lock is held."""
        self.require_driver()
        c = self.get(ref)
        rt = self.table.runtime(c.id)
        with rt.lock:
            yield self.store.get(c.id) or c, rt

    def state_dir(self, c: Container | str) -> str:
        return str(self.store.state_dir(c if isinstance(c, str) else c.id))

    def event(self, action: str, c: Container, **attrs: Any) -> None:
        try:
            self.pm.hook.barge_container_event(action=action, container_id=c.id,
                                               attributes=c.event_attributes(**attrs))
        except Exception:  # an extension plugin must not break the lifecycle
            log.exception("barge_container_event(%s) failed in an extension plugin", action)

    def paths(self, c: Container) -> dict[str, str]:
        """hostname, hosts and resolv.conf; a container on another's network namespace shares its files."""
        mode = c.host_config.get("NetworkMode") or ""
        owner = c.id
        if mode.startswith("container:"):
            with contextlib.suppress(NotFound):
                owner = self.get(mode[len("container:"):]).id
        d = self.store.container_dir(owner)
        return {"dir": str(d), "hostname": str(d / "hostname"), "hosts": str(d / "hosts"),
                "resolv": str(d / "resolv.conf")}

    def write_files(self, c: Container, address: str = "", host_gateway: str = "",
                    embedded_dns: bool = False, address6: str = "", links: list[str] | None = None) -> None:
        """The container's hostname, hosts and resolv.conf (at create, and at each start with its address)."""
        host = self.networking.dns_settings(c.host_config) if self.networking is not None else c.host_config
        files.write_files(self.store.container_dir(c.id), c.config.get("Hostname") or c.id[:12], host,
                          address, host_gateway, embedded_dns, address6, links, c.config.get("Domainname") or "")

    def exec_delete(self, cid: str) -> None:
        """Release the exec driver's instance of the container (logged, never raised)."""
        try:
            self.pm.hook.barge_exec_delete(container_id=cid, state_dir=self.state_dir(cid))
        except Exception:  # noqa: BLE001 - best-effort clean-up: the remaining steps still run
            log.exception("exec driver: deleting container %s failed", cid[:12])

    def network_teardown(self, cid: str) -> None:
        """Release the container's network (logged, never raised)."""
        if self.networking is None:
            return
        try:
            self.networking.teardown(cid)
        except Exception:  # noqa: BLE001 - best-effort clean-up: the remaining steps still run
            log.exception("releasing the network of container %s", cid[:12])

    def size(self, c: Container) -> tuple[int, int]:
        """``(SizeRw, SizeRootFs)``: the rw layer's changes, and with the image's layers."""
        top = self.images.layers.get(c.top_layer) if c.top_layer else None
        rw = 0
        with contextlib.suppress(Exception):
            rw = int(self.pm.hook.barge_graph_diff_size(layer_id=c.rw_layer, parent=top.cache_id if top else None) or 0)
        base = 0
        for layer in self.images.layers.chain(c.top_layer) if c.top_layer else []:
            base += layer.size
        return rw, rw + base
