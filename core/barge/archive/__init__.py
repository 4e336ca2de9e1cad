"""Layer tars: unpack untrusted ones safely and fast, produce them from trees.

* :func:`apply_layer` unpacks an uncompressed layer tar into a directory,
  never writing outside it, converting whiteouts with a pluggable format
  (``"delete"`` for full-copy drivers, ``"overlay"`` for overlayfs uppers).
* :func:`tar_directory` and :func:`tar_changes` produce layer tars.
* :func:`changes_dirs` and :func:`overlay_changes` compute ``docker diff``.

No ``tar`` subprocess: a small header reader and writer live here.
"""

from barge.archive.apply import apply_layer
from barge.archive.change import Change, ChangeKind
from barge.archive.changes import changes_dirs, changes_size, overlay_changes
from barge.archive.errors import ArchiveError
from barge.archive.pack import tar_changes, tar_directory
from barge.archive.whiteouts import (
    OPAQUE_XATTR,
    WHITEOUT_OPAQUE,
    WHITEOUT_PREFIX,
    DeleteWhiteouts,
    OverlayWhiteouts,
)

__all__ = [
    "ArchiveError",
    "Change",
    "ChangeKind",
    "DeleteWhiteouts",
    "OPAQUE_XATTR",
    "OverlayWhiteouts",
    "WHITEOUT_OPAQUE",
    "WHITEOUT_PREFIX",
    "apply_layer",
    "changes_dirs",
    "changes_size",
    "overlay_changes",
    "tar_changes",
    "tar_directory",
]
