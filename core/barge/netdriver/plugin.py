"""The one adapter between pluggy's ``barge_network_*`` hooks and a :class:`NetworkDriver`.

A driver package's ``plugin.py`` subclasses :class:`NetworkDriverPlugin`
naming its driver class, and registers it in ``barge.network_drivers``. The
hook implementations are generated from :class:`NetworkDriver`'s operations.
"""

from __future__ import annotations

from typing import ClassVar

from barge.hooks import DriverPlugin, adapter_for
from barge.netdriver.base import HOOK_PREFIX, NetworkDriver


@adapter_for(NetworkDriver, prefix=HOOK_PREFIX)
class NetworkDriverPlugin(DriverPlugin):
    """Registers one network driver instance with the plugin manager."""

    driver_class: ClassVar[type[NetworkDriver]]
    driver: NetworkDriver
