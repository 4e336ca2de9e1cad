"""What networking needs from the container side: two small protocols.

A network's inspect names the containers on it and a network a container
still wants cannot be removed; the embedded DNS forwards to a container's
``--dns``; connect and disconnect change a container's networks while its
state changes are held off. The composition root hands networking objects
that do this; networking never imports the container package.

A record is read for ``id``, ``name``, ``config``, ``host_config``,
``network_config`` and ``state.Running`` (:class:`barge.containers.store.Container`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol


class ContainerRecords(Protocol):
    """The stored containers (:class:`barge.containers.store.ContainerStore` is one)."""

    def all(self) -> list[Any]:
        """Every container record."""

    def get(self, container_id: str) -> Any | None:
        """The record of a full container id, None for none."""

    def set_network_config(self, container_id: str, networking: dict[str, Any]) -> None:
        """Store a container's ``NetworkingConfig`` (``{"EndpointsConfig": {...}}``)."""


class ContainerLocks(Protocol):
    """A container's state changes held off (:meth:`barge.containers.runtime.RuntimeTable.locked`)."""

    def locked(self, ref: str) -> AbstractContextManager[Any]:
        """The current record of the container ``ref`` names (id, name or id prefix), while
        no start, stop or removal runs; :class:`barge.errors.NotFound` for none."""

    def releasing(self, container_id: str) -> bool:
        """Whether the container's exit is being released now (its endpoints are going)."""
