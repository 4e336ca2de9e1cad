"""Base class of graph drivers: moby's ProtoDriver plus the diff half.

This class *is* the graph driver contract: every method marked
``@operation`` is dispatched by core as the hook ``barge_graph_<method>``
(:func:`barge.hooks.hookspecs_for` generates the hook specifications from
it, :func:`barge.hooks.adapter_for` the plugin's implementations), and its
docstring is that hook's documentation.

Subclasses implement the proto half. The diff half defaults to the shared
naive implementation (:mod:`barge.graphdriver.naive`), which mounts layers
and walks them; a driver with a native diff overrides it and lists
``NATIVE_DIFF`` in ``capabilities``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Iterator, Mapping

from barge.graphdriver import API_VERSION, Change, Mount
from barge.hooks import operation

#: Every operation below is dispatched as the hook ``barge_graph_<method>``.
HOOK_PREFIX = "barge_graph_"


class GraphDriver(ABC):
    """One storage driver instance, rooted at ``home`` (``<data_root>/graph/<name>``).

    The constructor checks that the driver can work here and raises
    :class:`barge.errors.DriverNotSupported` with the reason when it cannot.
    ``options`` is the driver's table from ``daemon.toml`` (``[graph.<name>]``).
    A layer is named by an opaque ``layer_id`` (the driver's cache id), never
    by content digest.
    """

    name: ClassVar[str]
    api_version: ClassVar[int] = API_VERSION
    #: Option names the driver accepts in its ``[graph.<name>]`` table, with a help text.
    options_schema: ClassVar[Mapping[str, str]] = {}

    def __init__(self, home: Path, options: Mapping[str, Any] | None = None):
        self.home = Path(home)
        self.options = dict(options or {})

    @property
    @operation
    def capabilities(self) -> frozenset[str]:
        """Return the driver's capabilities, constants from ``barge.graphdriver``.

        For example ``{NATIVE_DIFF}`` when diffs do not go through the shared
        naive implementation. Data, not code: a driver sets
        ``capabilities = frozenset({...})`` as a class attribute.
        """
        return frozenset()

    # -- proto half -------------------------------------------------------

    @operation
    @abstractmethod
    def create(self, layer_id: str, parent: str | None) -> None:
        """Create an empty read-only image layer ``layer_id`` on top of ``parent``.

        Called by the graph before a layer tar is applied with
        ``barge_graph_apply_diff``. ``parent`` is the layer id of the layer
        below, or ``None`` for a base layer. Raises ``FileExistsError`` when the
        layer exists and ``barge.errors.NotFound`` when ``parent`` does not.
        """

    @operation
    def create_rw(self, layer_id: str, parent: str | None) -> None:
        """Create a writable layer (a container's root file system) on ``parent``.

        Like ``barge_graph_create``, but the layer will be mounted read-write
        and is never the parent of another layer.
        """
        self.create(layer_id, parent)

    @operation
    @abstractmethod
    def remove(self, layer_id: str) -> None:
        """Remove layer ``layer_id`` and everything the driver keeps for it.

        Idempotent: removing a layer that does not exist succeeds. Called after
        the graph's tables no longer reference the layer, and when cleaning up a
        layer whose creation did not finish.
        """

    @operation
    @abstractmethod
    def get(self, layer_id: str) -> list[Mount]:
        """Describe how to mount the layer's full file system; mount nothing.

        Returns a list of :class:`barge.graphdriver.Mount` (type, source,
        options), applied in order onto one target, as containerd snapshotters
        return ``[]mount.Mount``. Whoever needs the files performs the mounts:
        the exec driver inside a container's own mount namespace, or core's
        mount helper for cp, commit and export. Reference counted together with
        ``barge_graph_put``. Raises ``barge.errors.NotFound`` for an unknown
        layer.
        """

    @operation
    def put(self, layer_id: str) -> None:
        """Release one reference taken by ``barge_graph_get``.

        Drivers that hand out mount descriptions hold nothing to release.
        """
        return None

    @abstractmethod
    def exists(self, layer_id: str) -> bool:
        """Whether the driver holds layer ``layer_id`` (for the driver itself and its tests; not a hook)."""

    @operation
    def layer_ids(self) -> list[str] | None:
        """Return the id of every layer the driver holds, or ``None`` when it cannot list them.

        ``barge system check`` compares them with the records: a layer no
        record names is leaked (``--repair`` removes it), a record whose
        layer is gone is broken. The ids are the ``layer_id`` given to
        ``create``/``create_rw``; work files of the driver are not layers.
        """
        return None

    @operation
    def status(self) -> list[tuple[str, str]]:
        """Return (key, value) pairs describing the driver, shown by ``barge info``.

        For example ``[("Backing Filesystem", "extfs"), ("Supports d_type",
        "true")]``.
        """
        return []

    @operation
    def metadata(self, layer_id: str) -> dict[str, str]:
        """Return driver details of one layer, shown as ``GraphDriver.Data``.

        For overlay: ``LowerDir``, ``UpperDir``, ``WorkDir``, ``MergedDir``.
        """
        return {}

    @operation
    def cleanup(self) -> None:
        """Release what the driver holds at daemon shutdown.

        Nothing is mounted by a driver that only describes mounts.
        """
        return None

    # -- diff half: the shared naive implementation -----------------------

    @operation
    def diff(self, layer_id: str, parent: str | None) -> Iterator[bytes]:
        """Return the changes of ``layer_id`` against ``parent`` as a tar stream.

        The tar is uncompressed and uses ``.wh.<name>`` whiteouts and
        ``.wh..wh..opq`` opaque-directory markers, as Docker layers do. With
        ``parent`` ``None`` the tar holds the whole file system. Yields chunks of
        bytes.
        """
        from barge.graphdriver import naive

        return naive.diff(self, layer_id, parent)

    @operation
    def changes(self, layer_id: str, parent: str | None) -> list[Change]:
        """Return the paths changed in ``layer_id`` against ``parent``.

        A list of :class:`barge.graphdriver.Change` (path, kind: modify, add,
        delete), sorted by path; the answer of ``docker diff``.
        """
        from barge.graphdriver import naive

        return naive.changes(self, layer_id, parent)

    @operation
    def apply_diff(self, layer_id: str, parent: str | None, stream: BinaryIO) -> int:
        """Unpack a layer tar from ``stream`` into the empty layer ``layer_id``.

        The tar is uncompressed and untrusted: entries that would land outside
        the layer (``..``, absolute paths, symlink escapes) must not be written
        outside it. Whiteouts and opaque markers are converted to the driver's
        own form. Returns the size in bytes of the unpacked content.
        """
        from barge.graphdriver import naive

        return naive.apply_diff(self, layer_id, parent, stream)

    @operation
    def diff_size(self, layer_id: str, parent: str | None) -> int:
        """Return the size in bytes of the changes of ``layer_id`` against ``parent``."""
        from barge.graphdriver import naive

        return naive.diff_size(self, layer_id, parent)
