"""Registration of the ``bridge`` network driver (entry point ``barge.network_drivers``)."""

from barge.netdriver.plugin import NetworkDriverPlugin
from barge_net_bridge.driver import BridgeDriver


class BridgePlugin(NetworkDriverPlugin):
    driver_class = BridgeDriver
