"""The classic build cache: a step is skipped when an image already made it (moby's image cache).

Locally, the step's image is a child of the current image whose
``container_config`` matches the step's config (moby's ``compare``: the
command, which for COPY and ADD carries the sources' checksum, the
environment, user, labels, ports, volumes, entrypoint; barge also compares
the working directory, shell, healthcheck, stop signal and ONBUILD
triggers, which moby ignores). The newest match wins. Once a step misses,
the rest of its stage builds (``reset`` at each FROM).

With ``cachefrom`` the history of the given images seeds the cache (moby's
``ImageCache``): a local match counts only when one of them descends from
it; otherwise an image whose history continues the current image's with
this step's ``CreatedBy`` is used, the image restored from its layers if
it is not the last step.
"""

from __future__ import annotations

import logging
from typing import Any

from barge.graph.store import canonical_json, image_id_of

log = logging.getLogger("barge.builder")

_COMPARED = ("User", "Cmd", "Env", "Labels", "ExposedPorts", "Entrypoint", "Volumes", "AttachStdout",
             "AttachStderr", "Tty", "WorkingDir", "Shell", "Healthcheck", "StopSignal", "OnBuild")


def _normal(value: Any) -> Any:
    """Empty and absent are the same to the cache (Go's nil and empty slices and maps)."""
    return None if value in (None, [], {}, "", False) else value


def same_config(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if not a or not b or a.get("OpenStdin") or b.get("OpenStdin"):
        return False
    for key in _COMPARED:
        left, right = _normal(a.get(key)), _normal(b.get(key))
        if key in ("ExposedPorts", "Volumes"):
            left, right = sorted(left or {}), sorted(right or {})
        if left != right:
            return False
    return True


class ImageCache:
    def __init__(self, images, cache_from: list[str], nocache: bool):
        self.images = images
        self.nocache = nocache
        self.busted = False
        #: with ``cachefrom``, only those images (found or not) make the cache, as in moby
        self.restricted = bool(cache_from)
        self.sources = []
        for name in cache_from:
            try:
                self.sources.append(images.resolve(name))
            except Exception:  # noqa: BLE001 - moby skips a cachefrom image it cannot find
                log.debug("cachefrom image %s not found", name)

    def reset(self) -> None:
        self.busted = False

    def probe(self, parent_id: str, config: dict[str, Any]) -> str:
        """The image that made this step already, or "" (and later steps of the stage miss too)."""
        if self.nocache or self.busted:
            return ""
        found = self._lookup(parent_id, config)
        if not found:
            self.busted = True
        return found

    def _lookup(self, parent_id: str, config: dict[str, Any]) -> str:
        local = self._local(parent_id, config)
        if not self.restricted:
            return local
        if local and any(self._descends(source, local) for source in self.sources):
            return local
        return self._from_sources(parent_id, config)

    def _local(self, parent_id: str, config: dict[str, Any]) -> str:
        if parent_id:
            siblings = self.images.children(parent_id)
        else:
            siblings = [img.id for img in self.images.all_images() if img.parent is None]
        best = None
        for image_id in siblings:
            img = self.images.get(image_id)
            if img is None or not same_config(img.config.get("container_config"), config):
                continue
            if best is None or img.created > best.created:
                best = img
        return best.id if best is not None else ""

    def _descends(self, image, ancestor_id: str) -> bool:
        current = image
        while current is not None:
            if current.id == ancestor_id:
                return True
            current = self.images.get(current.parent) if current.parent else None
        return False

    def _from_sources(self, parent_id: str, config: dict[str, Any]) -> str:
        parent = self.images.get(parent_id) if parent_id else None
        history = list(parent.config.get("history") or []) if parent is not None else []
        created_by = " ".join(config.get("Cmd") or [])
        for target in self.sources:
            target_history = target.config.get("history") or []
            if len(target_history) <= len(history) or target_history[:len(history)] != history:
                continue
            if parent is not None and not _layers_prefix(parent, target):
                continue
            if target_history[len(history)].get("created_by", "") != created_by:
                continue
            if len(target_history) == len(history) + 1:
                return target.id
            self.sources = [target]  # as moby: keep to one target from here on
            return self._restore(parent, target, len(history), config)
        return ""

    def _restore(self, parent, target, index: int, config: dict[str, Any]) -> str:
        """An image for step ``index`` of ``target``'s history, on ``parent`` (moby's ``restoreCachedImage``)."""
        entry = target.config["history"][index]
        diff_ids = list(parent.diff_ids) if parent is not None else []
        layer_index = sum(1 for h in target.config["history"][:index + 1] if not h.get("empty_layer"))
        if not entry.get("empty_layer"):
            diff_ids.append(target.diff_ids[layer_index - 1])
        chain = self.images.layers.chain(target.top_layer)
        top = chain[len(diff_ids) - 1].chain_id if diff_ids else None
        body = {
            "architecture": target.config.get("architecture"), "os": target.config.get("os"),
            "config": config, "created": entry.get("created"), "author": target.config.get("author", ""),
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": (list(parent.config.get("history") or []) if parent is not None else []) + [entry],
        }
        config_bytes = canonical_json({k: v for k, v in body.items() if v not in (None, "")})
        image_id = image_id_of(config_bytes)
        with self.images.db.write() as conn:
            self.images._insert_image(conn, image_id, config_bytes, top, parent.id if parent is not None else None)
        return image_id


def _layers_prefix(parent, target) -> bool:
    return list(target.diff_ids[:len(parent.diff_ids)]) == list(parent.diff_ids)
