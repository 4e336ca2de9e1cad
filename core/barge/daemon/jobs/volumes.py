"""Volume jobs: create, list, inspect, remove, prune over the volume store.

The store (:class:`barge.volumes.VolumeStore`, ``services.volumes``) is
built by the daemon's composition root, which also hands it to the
container service (``-v name:/path``, ``rm -v``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from barge.contracts.volumes import VolumeCreateArgs, VolumeFiltersArgs, VolumeNameArgs, VolumeRemoveArgs
from barge.filters import parse_filters
from barge.volumes.store import LIST_FILTERS, PRUNE_FILTERS

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services
    from barge.engine import Engine


def register(engine: "Engine", services: "Services") -> None:
    store = services.volumes

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
