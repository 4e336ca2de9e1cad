"""``system check`` of the graph against the fake driver: what it finds, what ``--repair`` does and leaves."""

from __future__ import annotations

import io
import shutil

from barge.graph.check import check_graph
from tests.unit.test_graph import build_store, make_tar


def problems(store, held=frozenset()):
    found, _counts = check_graph(store, set(held))
    return found


def test_a_whole_graph_has_no_finding(tmp_path):
    store, _events, _home = build_store(tmp_path)
    store.import_image(io.BytesIO(make_tar({"a": b"1"})), "one")
    found, counts = check_graph(store, set())
    assert found == []
    assert counts == {"images": 1, "layers": 1}
    store.close()


def test_a_leaked_driver_layer_is_found_and_removed(tmp_path):
    store, _events, home = build_store(tmp_path)
    store.import_image(io.BytesIO(make_tar({"a": b"1"})), "one")
    store.pm.hook.barge_graph_create(layer_id="leaked", parent=None)
    store.pm.hook.barge_graph_create(layer_id="container-rw", parent=None)
    [f] = problems(store, held={"container-rw"})  # a container's rw layer is no leak
    assert (f.area, f.object) == ("layers", "leaked")
    assert "no image or container uses" in f.problem
    assert f.repair() == "removed the layer"
    assert not (home / "leaked").exists()
    assert problems(store, held={"container-rw"}) == []
    store.close()


def test_a_layer_the_driver_lost_is_left_with_what_to_do(tmp_path):
    store, _events, home = build_store(tmp_path)
    img = store.import_image(io.BytesIO(make_tar({"a": b"1"})), "one")
    cache = store.layer_chain(img)[0].cache_id
    shutil.rmtree(home / cache)
    [f] = problems(store)
    assert f.repair is None and "lost its layer" in f.problem and "pull, load or build" in f.left
    store.close()


def test_a_changed_config_is_found(tmp_path):
    store, _events, _home = build_store(tmp_path)
    img = store.import_image(io.BytesIO(make_tar({"a": b"1"})), "one")
    with store.db.write() as conn:
        conn.execute("UPDATE images SET config = ? WHERE id = ?", (img.config_bytes + b" ", img.id))
    [f] = problems(store)
    assert f.object == img.id and "does not hash to its id" in f.problem
    store.close()


def test_a_layer_being_made_is_no_leak(tmp_path):
    store, _events, _home = build_store(tmp_path)
    with store.layers.scratch(None) as cache:
        assert cache in store.pm.hook.barge_graph_layer_ids()
        assert problems(store) == []
    store.close()
