"""The daemon's small services, assembled once at start and handed to jobs.

No god object: each service has one job (images, containers, later networks,
volumes), and job handlers receive only the services they use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pluggy

    from barge.config import DaemonConfig
    from barge.containers.service import ContainerService
    from barge.engine import Engine
    from barge.engine.plugins import DriverReport
    from barge.graph.store import ImageStore
    from barge.network.service import NetworkService


@dataclass
class Services:
    config: "DaemonConfig"
    pm: "pluggy.PluginManager"
    engine: "Engine"
    graph_driver: str
    driver_reports: list["DriverReport"] = field(default_factory=list)
    images: "ImageStore | None" = None
    containers: "ContainerService | None" = None
    networks: "NetworkService | None" = None
    started_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
