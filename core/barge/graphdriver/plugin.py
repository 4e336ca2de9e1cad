"""The one adapter between pluggy's ``barge_graph_*`` hooks and a :class:`GraphDriver`.

Every driver package's ``plugin.py`` is a subclass naming its driver class;
the entry point ``barge.graph_drivers`` points at that subclass. Loading it
constructs the driver, which may raise ``DriverNotSupported``. The hook
implementations are generated from :class:`GraphDriver`'s operations.
"""

from __future__ import annotations

from typing import ClassVar

from barge.graphdriver.base import HOOK_PREFIX, GraphDriver
from barge.hooks import DriverPlugin, adapter_for


@adapter_for(GraphDriver, prefix=HOOK_PREFIX)
class GraphDriverPlugin(DriverPlugin):
    """Registers one graph driver instance with the plugin manager."""

    driver_class: ClassVar[type[GraphDriver]]
    driver: GraphDriver
