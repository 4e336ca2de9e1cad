"""Registration of the overlay driver (entry point ``barge.graph_drivers: overlay``)."""

from barge.graphdriver import GraphDriverPlugin
from barge_graph_overlay.driver import OverlayDriver


class OverlayPlugin(GraphDriverPlugin):
    driver_class = OverlayDriver
