"""The entry point (``barge.graph_drivers: hardlink``): one line of glue."""

from barge.graphdriver import GraphDriverPlugin
from barge_graph_example.driver import HardlinkDriver


class HardlinkPlugin(GraphDriverPlugin):
    driver_class = HardlinkDriver
