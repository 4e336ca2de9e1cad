"""``GET /system/df``: what images, containers, volumes and the build cache take on disk (moby's
``SystemDiskUsage``), over the image store, the containers' sizes and the volumes' directories.

Images are the top ones ``docker images`` lists, with how many containers
use each and how much of it is shared with other images; containers come
with their sizes; volumes with their size and how many containers use them.
The classic builder keeps no cache apart from images: ``BuildCache`` is
null, as dockerd 20.10's is without BuildKit builds.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from barge.containers.filters import ListQuery
from barge.contracts.system import DISK_USAGE_OBJECTS
from barge.volumes.store import tree_size

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services

def _images(services: "Services", containers: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    store = services.images
    users = Counter(c["ImageID"] for c in containers)
    sizes: dict[str, int] = {}
    chains: dict[str, list[str]] = {}
    for img in store.all_images():
        layers = store.layer_chain(img)
        chains[img.id] = [layer.chain_id for layer in layers]
        sizes.update((layer.chain_id, layer.size) for layer in layers)
    used_by = Counter(chain for ids in chains.values() for chain in set(ids))
    out = []
    for summary in store.list_images():
        summary["Containers"] = users.get(summary["Id"], 0)
        summary["SharedSize"] = sum(sizes.get(chain, 0) for chain in chains.get(summary["Id"], [])
                                    if used_by[chain] > 1)
        out.append(summary)
    return out, sum(sizes.values())


def _volumes(services: "Services") -> list[dict[str, Any]]:
    store = services.volumes
    out = []
    for view in store.list({"driver": ["local"]})["Volumes"]:  # moby's LocalVolumesSize: plugins' are not
        data = Path(view["Mountpoint"])
        view["UsageData"] = {"Size": tree_size(data) if data.is_dir() else -1,
                             "RefCount": len(store.users(view["Name"]))}
        out.append(view)
    return out


def disk_usage(services: "Services", types: list[str]) -> dict[str, Any]:
    wanted = set(types or DISK_USAGE_OBJECTS)
    out: dict[str, Any] = {}
    containers: list[dict[str, Any]] = []
    if wanted & {"image", "container"}:  # sizes (the rw layers walked) only when containers are asked for
        containers = services.containers.queries.list(ListQuery(all=True), size="container" in wanted)
    if "image" in wanted:
        out["Images"], out["LayersSize"] = _images(services, containers)
    if "container" in wanted:
        out["Containers"] = containers
    if "volume" in wanted:
        out["Volumes"] = _volumes(services)
    if "build-cache" in wanted:
        out["BuildCache"] = None  # no cache records: null, as dockerd's nil list
    return out
