"""A child image: a parent image, a diff on top of it, a new config and one more history entry.

Shared by ``docker commit`` and the builder's steps (moby's ``CommitImage``
and ``NewChildImage``). The diff is stored as a layer through the layer
store (hashed while it is applied, crash-safe through ``pending_layers``);
an empty diff gives no layer and an ``empty_layer`` history entry, as
Docker's does. Layer, image, parent link and tag go in one transaction.
"""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass, field
from typing import Any, Iterable

from barge.archive.stream import IterReader
from barge.graph.store import canonical_json, go_arch, image_id_of
from barge.timefmt import rfc3339_nano

#: The diff ID of an empty tar (1024 zero bytes): no change, no layer.
EMPTY_TAR_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"


@dataclass
class ChildSpec:
    """What the new image says about itself."""

    config: dict[str, Any]
    created_by: str
    author: str = ""
    comment: str = ""
    #: the builder's: the step's container and its config (``container``, ``container_config``)
    container: str = ""
    container_config: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def commit_child(images, parent, top_layer: str | None, diff: Iterable[bytes] | None, spec: ChildSpec,
                 target=None) -> str:
    """Store ``diff`` (tar chunks; None: known to be empty) on ``top_layer`` and record the child image.

    ``parent`` is the parent image (or None: FROM scratch). Returns the new image's id.
    """
    layers = images.layers
    prepared = None
    if diff is not None:
        stream = io.BufferedReader(IterReader(iter(diff)), buffer_size=1 << 20)
        try:
            prepared = layers.apply(stream, top_layer)
        finally:
            stream.close()
        if prepared.diff_id == EMPTY_TAR_DIFF_ID:
            layers.abort(prepared)
            prepared = None
    try:
        config_bytes = canonical_json(child_config(layers, parent, top_layer, prepared, spec))
        image_id = image_id_of(config_bytes)
        new_top = prepared.chain_id if prepared is not None else top_layer
        with images.db.write() as conn:
            if prepared is not None:
                layers.record(conn, prepared)
            images._insert_image(conn, image_id, config_bytes, new_top, parent.id if parent is not None else None)
            if target is not None:
                images._set_tag(conn, target, image_id)
    except BaseException:
        if prepared is not None:
            layers.abort(prepared)
        raise
    if prepared is not None:
        layers.finish(prepared)
    return image_id


def child_config(layers, parent, top_layer: str | None, prepared, spec: ChildSpec) -> dict[str, Any]:
    """The child's image config: the parent's, its legacy fields replaced, one history entry more."""
    base = copy.deepcopy(parent.config) if parent is not None else {
        "architecture": go_arch(), "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers.chain(top_layer)]},
    }
    for legacy in ("container", "container_config", "docker_version", "id", "parent", "author", "comment"):
        base.pop(legacy, None)
    created = rfc3339_nano()
    entry: dict[str, Any] = {"created": created, "created_by": spec.created_by}
    if spec.author:
        entry["author"] = spec.author
    if spec.comment:
        entry["comment"] = spec.comment
    if prepared is None:
        entry["empty_layer"] = True
    base["config"] = spec.config
    base["created"] = created
    if spec.author:
        base["author"] = spec.author
    if spec.comment:
        base["comment"] = spec.comment
    if spec.container:
        base["container"] = spec.container
    if spec.container_config is not None:
        base["container_config"] = spec.container_config
    base.update(spec.extra)
    base["history"] = list(base.get("history") or []) + [entry]
    rootfs = dict(base.get("rootfs") or {"type": "layers"})
    rootfs["diff_ids"] = list(rootfs.get("diff_ids") or []) + ([prepared.diff_id] if prepared is not None else [])
    base["rootfs"] = rootfs
    return base
