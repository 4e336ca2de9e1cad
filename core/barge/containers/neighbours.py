"""What the container service asks of its neighbours: the network service and the volume store.

Declared here, where they are needed, as small protocols: the container
service is handed objects that have these methods (the daemon's
:class:`barge.network.endpoints.Endpoints` and
:class:`barge.volumes.VolumeStore`) and imports neither package. A start
sets the network up and copies volumes up; an exit or a removal tears the
network down and drops anonymous volumes.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from barge.containers.store import Container


class Sandbox(Protocol):
    """A started container's network namespace, as a start uses it."""

    path: str
    address: str
    embedded_dns: bool


class Networking(Protocol):
    """A container's networking, start to exit (the network service's endpoints)."""

    def check_create(self, name: str, config: dict[str, Any], host: dict[str, Any],
                     networking: dict[str, Any]) -> dict[str, Any]:
        """Validate a create request's networking; its ``NetworkingConfig`` as recorded."""

    def dns_settings(self, host: dict[str, Any]) -> dict[str, Any]:
        """The container's DNS settings, the daemon's filling what it left empty."""

    def sandbox_path(self, container_id: str) -> str:
        """Where the container's network namespace is kept (others may join it)."""

    def setup(self, c: Container) -> Sandbox | None:
        """Before a start: sandbox and endpoints (None: no sandbox of its own)."""

    def host_gateway(self) -> str:
        """The address ``host-gateway`` stands for."""

    def teardown(self, container_id: str) -> None:
        """After an exit, a failed start or a removal: what :meth:`setup` made, gone."""

    def renamed(self, container_id: str, old: str, new: str) -> None:
        """A container was renamed (its DNS names follow)."""

    def snapshot(self) -> Any:
        """Networks and endpoints read once, for a whole listing; its ``signature(container_id)`` is a
        hashable value equal between two snapshots when the container's network views would be."""

    def container_view(self, c: Container, snapshot: Any = None) -> dict[str, Any]:
        """The container's ``NetworkSettings``."""

    def summary_ports(self, c: Container, snapshot: Any = None) -> list[dict[str, Any]]:
        """The container's published ports, as ``ps`` shows them."""

    def recover(self, running: set[str]) -> None:
        """At daemon start: keep the endpoints of ``running`` containers, drop the rest."""


class Volumes(Protocol):
    def ensure(self, name: str, anonymous: bool = False, driver: str = "", options: dict | None = None,
               announce: bool = False) -> Any:
        """The named volume (it has a ``driver``), created by ``driver`` with ``options`` when missing;
        ``announce``: its ``create`` event even when it exists (a container's create, as dockerd)."""

    def remove_unused(self, names: list[str]) -> Any:
        """Remove those of ``names`` no container uses any more."""

    def release(self, container_id: str, points: list[dict[str, Any]]) -> None:
        """A start failed: the volumes it had its volume drivers mount are unmounted."""


#: ``copy_up(mount_points, rootfs_mounts, tmp_dir, container_id)``: before a start, every
#: volume of the container exists and empty ones got the image's files at their path.
CopyUp = Callable[[list[dict[str, Any]], list[Any], str, str], None]
