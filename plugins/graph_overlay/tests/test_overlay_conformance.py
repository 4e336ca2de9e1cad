"""overlay runs barge's graph driver conformance suite against itself."""

from barge.testing.graph_conformance import GraphDriverConformance


class TestOverlay(GraphDriverConformance):
    driver_name = "overlay"
