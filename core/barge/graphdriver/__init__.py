"""The graph driver contract shared by core and every storage driver.

A driver package subclasses :class:`GraphDriver` (its ``driver.py``) and
exposes it through :class:`GraphDriverPlugin` (its ``plugin.py``), registered
in the entry-point group ``barge.graph_drivers``. Drivers that cannot diff
natively inherit the shared naive diff from :mod:`barge.graphdriver.naive`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from barge.archive.change import Change, ChangeKind  # defined with the diff code; drivers import them from here

#: Version of the contract below; a driver built for another refuses to load.
API_VERSION = 1

#: Capability: the driver computes diff/changes itself (no naive walk).
NATIVE_DIFF = "native-diff"
#: Capability: the same layer content always produces the same diff tar.
REPRODUCES_EXACT_DIFFS = "reproduces-exact-diffs"


@dataclass(frozen=True)
class Mount:
    """One mount to perform, as containerd's ``mount.Mount``.

    ``type`` is a file system type (``overlay``, ``tmpfs``) or ``bind``;
    ``options`` are mount(8)-style words (``ro``, ``rbind``,
    ``lowerdir=...``).
    """

    type: str
    source: str
    options: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {"Type": self.type, "Source": self.source, "Options": list(self.options)}


from barge.graphdriver.base import GraphDriver  # noqa: E402
from barge.graphdriver.plugin import GraphDriverPlugin  # noqa: E402

__all__ = [
    "API_VERSION",
    "NATIVE_DIFF",
    "REPRODUCES_EXACT_DIFFS",
    "Change",
    "ChangeKind",
    "GraphDriver",
    "GraphDriverPlugin",
    "Mount",
]
