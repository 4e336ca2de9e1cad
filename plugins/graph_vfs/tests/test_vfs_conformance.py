"""vfs runs barge's graph driver conformance suite against itself."""

from barge.testing.graph_conformance import GraphDriverConformance


class TestVfs(GraphDriverConformance):
    driver_name = "vfs"
