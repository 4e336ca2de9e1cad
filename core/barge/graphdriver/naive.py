"""The shared naive diff half (moby's ``NaiveDiffDriver``).

For drivers that only implement the proto half: mount the layer and its
parent through :func:`barge.mount.mounted`, compare the trees, tar the
differences; apply a layer tar into the layer's mounted tree with
whiteouts that delete (the layer starts as a full view of its parent).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import BinaryIO, Iterator

from barge.archive import apply_layer, changes_dirs, changes_size, tar_changes, tar_directory
from barge.graphdriver import Change
from barge.mount import mounted


@contextlib.contextmanager
def _layer(driver, layer_id: str) -> Iterator[Path]:
    mounts = driver.get(layer_id)
    try:
        with mounted(mounts) as root:
            yield root
    finally:
        driver.put(layer_id)


@contextlib.contextmanager
def _pair(driver, layer_id: str, parent: str | None):
    with _layer(driver, layer_id) as root:
        if parent is None:
            yield root, None
        else:
            with _layer(driver, parent) as parent_root:
                yield root, parent_root


def diff(driver, layer_id: str, parent: str | None) -> Iterator[bytes]:
    """Tar of the changes of ``layer_id`` against ``parent`` (whole tree when None).

    A generator: the layers stay mounted while the caller reads it.
    """
    with _pair(driver, layer_id, parent) as (root, parent_root):
        if parent_root is None:
            yield from tar_directory(root)
        else:
            yield from tar_changes(root, changes_dirs(parent_root, root))


def changes(driver, layer_id: str, parent: str | None) -> list[Change]:
    with _pair(driver, layer_id, parent) as (root, parent_root):
        return changes_dirs(parent_root, root)


def apply_diff(driver, layer_id: str, parent: str | None, stream: BinaryIO) -> int:
    """Unpack a layer tar into the layer, which already shows its parent's files."""
    with _layer(driver, layer_id) as root:
        return apply_layer(stream, root, whiteouts="delete")


def diff_size(driver, layer_id: str, parent: str | None) -> int:
    with _pair(driver, layer_id, parent) as (root, parent_root):
        return changes_size(root, changes_dirs(parent_root, root))
