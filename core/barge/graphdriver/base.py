"""Base class of graph drivers: moby's ProtoDriver plus the diff half.

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


class GraphDriver(ABC):
    """One storage driver instance, rooted at ``home`` (``<data_root>/graph/<name>``).

    The constructor checks that the driver can work here and raises
    :class:`barge.errors.DriverNotSupported` with the reason when it cannot.
    ``options`` is the driver's table from ``daemon.toml`` (``[graph.<name>]``).
    """

    name: ClassVar[str]
    api_version: ClassVar[int] = API_VERSION
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: Option names the driver accepts in its ``[graph.<name>]`` table, with a help text.
    options_schema: ClassVar[Mapping[str, str]] = {}

    def __init__(self, home: Path, options: Mapping[str, Any] | None = None):
        self.home = Path(home)
        self.options = dict(options or {})

    # -- proto half -------------------------------------------------------

    @abstractmethod
    def create(self, layer_id: str, parent: str | None) -> None: ...

    def create_rw(self, layer_id: str, parent: str | None) -> None:
        self.create(layer_id, parent)

    @abstractmethod
    def remove(self, layer_id: str) -> None: ...

    @abstractmethod
    def get(self, layer_id: str) -> list[Mount]: ...

    def put(self, layer_id: str) -> None:
        """Drivers that hand out mount descriptions hold nothing to release."""

    @abstractmethod
    def exists(self, layer_id: str) -> bool: ...

    def status(self) -> list[tuple[str, str]]:
        return []

    def metadata(self, layer_id: str) -> dict[str, str]:
        return {}

    def cleanup(self) -> None:
        """Nothing is mounted by a driver that only describes mounts."""

    # -- diff half: the shared naive implementation -----------------------

    def diff(self, layer_id: str, parent: str | None) -> Iterator[bytes]:
        from barge.graphdriver import naive

        return naive.diff(self, layer_id, parent)

    def changes(self, layer_id: str, parent: str | None) -> list[Change]:
        from barge.graphdriver import naive

        return naive.changes(self, layer_id, parent)

    def apply_diff(self, layer_id: str, parent: str | None, stream: BinaryIO) -> int:
        from barge.graphdriver import naive

        return naive.apply_diff(self, layer_id, parent, stream)

    def diff_size(self, layer_id: str, parent: str | None) -> int:
        from barge.graphdriver import naive

        return naive.diff_size(self, layer_id, parent)
