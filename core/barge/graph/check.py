"""The graph's invariants, for ``barge system check``: images <-> layers <-> the driver's layers <-> tar-split.

- an image's id is the digest of its config, and its layer chain gives
  the config's ``rootfs.diff_ids``;
- a layer's chain id follows from its parent's and its diff id;
- the driver holds every recorded layer (and every container's rw layer),
  and nothing else but layers being made (``pending_layers``);
- a layer has its tar-split skeleton when the driver cannot reproduce tars,
  and no skeleton outlives its layer.

Leaked layers and skeletons are removed by ``--repair``; a record whose
data is gone is left (removing it would lose the image's name and config:
the user pulls, loads or rebuilds it).
"""

from __future__ import annotations

from pathlib import Path

from barge.consistency import Finding, finding
from barge.graph.layers import chain_id
from barge.graph.store import ImageStore, image_id_of

LOST_IMAGE = "pull, load or build it again, or remove it with rmi"


def check_graph(images: ImageStore, held: set[str]) -> tuple[list[Finding], dict[str, int]]:
    """Findings about images and layers; ``held``: the driver layers other records own (containers' rw layers)."""
    layers = {r["chain_id"]: r for r in images.db.query("SELECT * FROM layers")}
    found: list[Finding] = []
    all_images = images.all_images()
    for img in all_images:
        found += _image(images, img, layers)
    for row in layers.values():
        expected = chain_id(row["parent"], row["diff_id"])
        if row["chain_id"] != expected:
            found.append(finding("layers", row["chain_id"], f"its chain id should be {expected} (parent "
                                 f"{row['parent'] or 'none'}, diff {row['diff_id']})", left=LOST_IMAGE))
    pending = {r["cache_id"] for r in images.db.query("SELECT cache_id FROM pending_layers")}
    caches = {r["cache_id"]: r["chain_id"] for r in layers.values()}
    found += _driver_layers(images, caches, held, pending)
    found += _skeletons(images, caches, pending)
    return found, {"images": len(all_images), "layers": len(layers)}


def _image(images: ImageStore, img, layers: dict) -> list[Finding]:
    out = []
    if image_id_of(img.config_bytes) != img.id:
        out.append(finding("images", img.id, "its config does not hash to its id (the config was changed)",
                           left=LOST_IMAGE))
    chain, current = [], img.top_layer
    while current is not None:
        row = layers.get(current)
        if row is None:
            out.append(finding("images", img.id, f"layer {current} of its chain has no record", left=LOST_IMAGE))
            return out
        chain.append(row["diff_id"])
        current = row["parent"]
    if list(reversed(chain)) != img.diff_ids:
        out.append(finding("images", img.id, "its layers do not match the diff ids of its config", left=LOST_IMAGE))
    return out


def _driver_layers(images: ImageStore, caches: dict[str, str], held: set[str], pending: set[str]) -> list[Finding]:
    listed = images.pm.hook.barge_graph_layer_ids()
    if listed is None:  # the driver cannot list: only the records can be checked
        return []
    on_disk = set(listed)
    out = []
    for cache, chain in caches.items():
        if cache not in on_disk:
            out.append(finding("layers", chain, f"the {images.driver_name} driver lost its layer {cache}",
                               left=LOST_IMAGE + " (every image on this layer is broken)"))
    for cache in sorted(held - on_disk):
        out.append(finding("layers", cache, f"the {images.driver_name} driver lost a container's rw layer",
                           left="the container's files are gone: remove it with rm -f"))
    for cache in sorted(on_disk - set(caches) - held - pending):
        out.append(finding("layers", cache, f"the {images.driver_name} driver holds a layer no image or "
                           "container uses", remedy="remove the layer",
                           repair=lambda c=cache: _remove_layer(images, c)))
    return out


def _remove_layer(images: ImageStore, cache: str) -> str:
    images.pm.hook.barge_graph_remove(layer_id=cache)
    return "removed the layer"


def _skeletons(images: ImageStore, caches: dict[str, str], pending: set[str]) -> list[Finding]:
    tars: Path = images.layers.tars_dir
    out = []
    if images.layers.keep_tars:
        for cache, chain in caches.items():
            if not (tars / f"{cache}.split").is_file():
                out.append(finding("layers", chain, "its tar-split record is missing: save and push cannot give "
                                   "back its exact blob", left="remove the images on it and pull or load them again"))
    if tars.is_dir():
        for path in sorted(tars.iterdir()):
            cache = path.name.split(".", 1)[0]
            if cache not in caches and cache not in pending:
                out.append(finding("layers", str(path), "a tar-split record of no layer", remedy="remove it",
                                   repair=lambda p=path: (p.unlink(missing_ok=True), "removed it")[1]))
    return out
