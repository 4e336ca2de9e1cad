"""barge.graphdriver.naive through a minimal bind-only driver."""

from __future__ import annotations

import io
import os
import shutil
import tarfile

from barge.graphdriver import ChangeKind, GraphDriver, Mount, naive
from barge.testing.conformance import LayerTar


class CopyDriver(GraphDriver):
    name = "copy-test"

    def create(self, layer_id, parent):
        if parent:
            shutil.copytree(self.home / parent, self.home / layer_id, symlinks=True)
        else:
            (self.home / layer_id).mkdir()

    def remove(self, layer_id):
        shutil.rmtree(self.home / layer_id, ignore_errors=True)

    def get(self, layer_id):
        return [Mount("bind", str(self.home / layer_id), ("rbind",))]

    def exists(self, layer_id):
        return (self.home / layer_id).is_dir()


def test_naive_diff_half(tmp_path):
    d = CopyDriver(tmp_path)
    d.create("a", None)
    assert naive.apply_diff(d, "a", None, LayerTar().file("x", b"1").file("y", b"22").stream()) == 3
    d.create("b", "a")
    naive.apply_diff(d, "b", "a", LayerTar().whiteout("x").file("z", b"333").stream())
    kinds = {c.path: c.kind for c in naive.changes(d, "b", "a")}
    assert kinds == {"/x": ChangeKind.DELETE, "/z": ChangeKind.ADD}
    assert naive.diff_size(d, "b", "a") == 3
    names = tarfile.open(fileobj=io.BytesIO(b"".join(naive.diff(d, "b", "a")))).getnames()
    assert names == [".wh.x", "z"]
    assert sorted(tarfile.open(fileobj=io.BytesIO(b"".join(naive.diff(d, "b", None)))).getnames()) == ["y", "z"]
    assert sorted(os.listdir(tmp_path / "b")) == ["y", "z"]
