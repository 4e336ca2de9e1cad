"""The one adapter between pluggy's hooks and a :class:`GraphDriver`.

Every driver package's ``plugin.py`` is a subclass naming its driver class;
the entry point ``barge.graph_drivers`` points at that subclass. Loading it
constructs the driver, which may raise ``DriverNotSupported``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Iterator, Mapping

from barge.engine.hookspecs import hookimpl
from barge.graphdriver import Change, Mount
from barge.graphdriver.base import GraphDriver


class GraphDriverPlugin:
    """Registers one graph driver instance with the plugin manager."""

    driver_class: ClassVar[type[GraphDriver]]

    def __init__(self, home: Path, options: Mapping[str, Any] | None = None):
        self.driver = self.driver_class(Path(home), options or {})

    @hookimpl
    def barge_graph_name(self) -> str:
        return self.driver.name

    @hookimpl
    def barge_graph_capabilities(self) -> frozenset[str]:
        return self.driver.capabilities

    @hookimpl
    def barge_graph_create(self, layer_id: str, parent: str | None) -> bool:
        self.driver.create(layer_id, parent)
        return True

    @hookimpl
    def barge_graph_create_rw(self, layer_id: str, parent: str | None) -> bool:
        self.driver.create_rw(layer_id, parent)
        return True

    @hookimpl
    def barge_graph_remove(self, layer_id: str) -> bool:
        self.driver.remove(layer_id)
        return True

    @hookimpl
    def barge_graph_get(self, layer_id: str) -> list[Mount]:
        return self.driver.get(layer_id)

    @hookimpl
    def barge_graph_put(self, layer_id: str) -> bool:
        self.driver.put(layer_id)
        return True

    @hookimpl
    def barge_graph_exists(self, layer_id: str) -> bool:
        return self.driver.exists(layer_id)

    @hookimpl
    def barge_graph_status(self) -> list[tuple[str, str]]:
        return self.driver.status()

    @hookimpl
    def barge_graph_metadata(self, layer_id: str) -> dict[str, str]:
        return self.driver.metadata(layer_id)

    @hookimpl
    def barge_graph_cleanup(self) -> bool:
        self.driver.cleanup()
        return True

    @hookimpl
    def barge_graph_diff(self, layer_id: str, parent: str | None) -> Iterator[bytes]:
        return self.driver.diff(layer_id, parent)

    @hookimpl
    def barge_graph_changes(self, layer_id: str, parent: str | None) -> list[Change]:
        return self.driver.changes(layer_id, parent)

    @hookimpl
    def barge_graph_apply_diff(self, layer_id: str, parent: str | None, stream: BinaryIO) -> int:
        return self.driver.apply_diff(layer_id, parent, stream)

    @hookimpl
    def barge_graph_diff_size(self, layer_id: str, parent: str | None) -> int:
        return self.driver.diff_size(layer_id, parent)
