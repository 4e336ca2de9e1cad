"""The one adapter between pluggy's ``barge_exec_*`` hooks and an :class:`ExecDriver`.

A driver package's ``plugin.py`` subclasses :class:`ExecDriverPlugin` naming
its driver class, and registers it in ``barge.exec_drivers``. The hook
implementations are generated from :class:`ExecDriver`'s operations.
"""

from __future__ import annotations

from typing import ClassVar

from barge.execdriver.base import HOOK_PREFIX, ExecDriver
from barge.hooks import DriverPlugin, adapter_for


@adapter_for(ExecDriver, prefix=HOOK_PREFIX)
class ExecDriverPlugin(DriverPlugin):
    """Registers one exec driver instance with the plugin manager."""

    driver_class: ClassVar[type[ExecDriver]]
    driver: ExecDriver
