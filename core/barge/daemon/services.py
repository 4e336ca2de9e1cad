"""The daemon's small services, assembled once at start and handed to the job handlers.

No god object: each service has one job (images, containers, networks,
volumes, events), and job handlers take only the ones they use. Built by
the composition root, :func:`barge.daemon.daemon.build_services`, every
dependency passed to its constructor; nothing is attached afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pluggy

    from barge.builder.service import BuildService
    from barge.config import DaemonConfig
    from barge.containers.events import EventsHub
    from barge.containers.service import ContainerService
    from barge.db import Database
    from barge.dockerplugins.service import PluginService
    from barge.engine import Engine
    from barge.engine.plugins import DriverReport
    from barge.graph.store import ImageStore
    from barge.network.service import NetworkService
    from barge.volumes import VolumeStore


@dataclass
class Services:
    config: "DaemonConfig"
    pm: "pluggy.PluginManager"
    engine: "Engine"
    graph_driver: str
    #: this engine's stable id (``docker info`` ID)
    engine_id: str
    #: the daemon's database: every store's tables
    db: "Database"
    images: "ImageStore"
    containers: "ContainerService"
    networks: "NetworkService"
    volumes: "VolumeStore"
    #: the event stream (``GET /events``), fed by the lifecycle hooks
    events: "EventsHub"
    #: the classic builder (``POST /build``)
    builder: "BuildService"
    #: ``/plugins``: managed plugins, barge's driver packages, volume plugins
    plugins: "PluginService"
    driver_reports: list["DriverReport"] = field(default_factory=list)
    started_at: float = 0.0
