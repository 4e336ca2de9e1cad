"""The example driver runs barge's conformance suite, as a third party would."""

import os

from barge.testing.graph_conformance import GraphDriverConformance, LayerTar


class TestHardlink(GraphDriverConformance):
    driver_name = "hardlink"

    def test_image_layers_share_inodes_but_apply_never_writes_through(self, graph):
        graph.layer("a", None, LayerTar().file("shared", b"one").file("edited", b"old"))
        graph.layer("b", "a", LayerTar().file("edited", b"new"))
        with graph.view("a") as a, graph.view("b") as b:
            assert os.stat(a / "shared").st_ino == os.stat(b / "shared").st_ino
            assert (a / "edited").read_bytes() == b"old"
            assert (b / "edited").read_bytes() == b"new"

    def test_rw_layer_is_a_real_copy(self, graph):
        graph.layer("img", None, LayerTar().file("f", b"image"))
        graph.create_rw(layer_id="rw", parent="img")
        with graph.view("rw") as rw:
            with open(rw / "f", "r+b") as fh:
                fh.write(b"CHANGE")
        with graph.view("img") as img:
            assert (img / "f").read_bytes() == b"image"
