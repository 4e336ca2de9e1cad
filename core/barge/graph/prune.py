"""``POST /images/prune``: moby's ``ImagesPrune`` over the image store.

Kept apart from the store because it only composes what the store already
does: pick the candidates (dangling heads by default, every image with
``dangling=false``), keep those the filters and no container hold, and
delete each through ``rmi``'s rules (:mod:`barge.graph.deletion`), which
also prunes the parents left dangling. A candidate a conflict protects is
skipped, as dockerd skips it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from barge import filters as filters_mod
from barge.errors import Conflict, InvalidParameter, NotFound

if TYPE_CHECKING:  # pragma: no cover
    from barge.graph.store import ImageStore

#: The filters ``POST /images/prune`` takes (moby's ``imagesAcceptedFilters`` for prune).
PRUNE_FILTERS = frozenset({"dangling", "label", "label!", "until"})


def prune_images(store: "ImageStore", filters: filters_mod.Filters) -> dict[str, Any]:
    """Delete the unused images ``filters`` select; Docker's ``ImagesDeleted`` and ``SpaceReclaimed``."""
    for key in filters:
        if key not in PRUNE_FILTERS:
            raise InvalidParameter(f"invalid filter '{key}'")
    dangling_only = filters_mod.dangling_value(filters.get("dangling", [])) is not False
    until = filters_mod.prune_until(filters.get("until", []))
    images = store.all_images()
    parents = {img.parent for img in images if img.parent}
    sizes_before = {layer.chain_id: layer.size for img in images for layer in store.layer_chain(img)}
    deleted: list[dict[str, str]] = []
    for img in sorted(images, key=lambda i: i.created, reverse=True):
        if dangling_only and img.id in parents:
            continue  # not a head: an intermediate image goes with the head that holds it
        if until is not None and img.created >= until:
            continue
        if "label" in filters and not filters_mod.labels_match(img.labels, filters["label"]):
            continue
        if "label!" in filters and any(filters_mod.labels_match(img.labels, [w]) for w in filters["label!"]):
            continue
        if store.users(img.id):
            continue
        refs = store.tags_of(img.id) + store.digests_of(img.id)
        if refs and dangling_only and any(r.tag for r in refs):
            continue
        for name in [r.familiar() for r in refs] or [img.id]:
            try:
                deleted += store.delete(name, force=False, prune=True)
            except (Conflict, NotFound):
                continue  # held by a child or a container, or gone with an earlier candidate
    left = {layer.chain_id for img in store.all_images() for layer in store.layer_chain(img)}
    reclaimed = sum(size for chain_id, size in sizes_before.items() if chain_id not in left)
    store.event("prune", "", str(reclaimed))  # dockerd's ``image prune``: no actor, the bytes reclaimed
    return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}
