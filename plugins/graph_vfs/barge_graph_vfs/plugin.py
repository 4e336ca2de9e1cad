"""Registration of the vfs driver (entry point ``barge.graph_drivers: vfs``)."""

from barge.graphdriver import GraphDriverPlugin
from barge_graph_vfs.driver import VfsDriver


class VfsPlugin(GraphDriverPlugin):
    driver_class = VfsDriver
