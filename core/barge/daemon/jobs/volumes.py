"""Volume jobs: create, list, inspect, remove, prune over the volume store.

:func:`register` creates the :class:`barge.volumes.VolumeStore` (on the graph
db), removes directories a killed daemon left without a record, and hands
the store to the container service (``-v name:/path``, ``rm -v``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from barge.graph.filters import parse_filters
from barge.volumes import VolumeStore
from barge.volumes.store import LIST_FILTERS, PRUNE_FILTERS

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services
    from barge.engine import Engine


@dataclass
class VolumeCreateArgs:
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class VolumeNameArgs:
    name: str = ""


@dataclass
class VolumeRemoveArgs:
    name: str = ""
    force: bool = False


@dataclass
class VolumeFiltersArgs:
    filters: str | None = None


def containers_of(services: "Services"):
    return services.containers


def make_store(db, data_root, hub=None) -> VolumeStore:
    """The store, after removing what a killed daemon left (call before serving)."""
    store = VolumeStore(db, data_root, emit=hub.volume_event if hub is not None else None)
    store.recover()
    return store


def register(engine: "Engine", services: "Services") -> None:
    store = services.extra.get("volumes")
    if store is None:
        store = services.extra["volumes"] = make_store(services.images.db, services.config.data_root,
                                                       services.extra.get("events"))
    containers = containers_of(services)
    if containers is not None and containers.volumes is None:
        containers.volumes = store
    if not services.pm.is_registered(store):
        services.pm.register(store, name="barge-volumes")  # unmount events at a container's die

    def create(job) -> dict[str, Any]:
        body = job.args.body or {}
        vol, _ = store.create(body.get("Name", ""), body.get("Driver", ""), body.get("DriverOpts") or None,
                              body.get("Labels") or None)
        return store.view(vol)

    engine.register("volume_create", VolumeCreateArgs, create)
    engine.register("volume_list", VolumeFiltersArgs,
                    lambda job: store.list(parse_filters(job.args.filters, LIST_FILTERS)))
    engine.register("volume_inspect", VolumeNameArgs, lambda job: store.inspect(job.args.name))
    engine.register("volume_remove", VolumeRemoveArgs, lambda job: store.remove(job.args.name, job.args.force))
    engine.register("volume_prune", VolumeFiltersArgs,
                    lambda job: store.prune(parse_filters(job.args.filters, PRUNE_FILTERS)))
