"""``POST /images/prune`` (:mod:`barge.graph.prune`) on the fake graph driver and a real SQLite file."""

from __future__ import annotations

import io

import pytest

from barge.errors import InvalidParameter
from barge.graph.prune import prune_images
from tests.unit.test_graph import build_store, make_tar


@pytest.fixture
def users():
    return {}


@pytest.fixture
def store(tmp_path, users):
    s, _, _ = build_store(tmp_path, users=lambda image_id: users.get(image_id, []))
    yield s
    s.close()


def test_dangling_images_go_tagged_and_used_ones_stay(store, users):
    tagged = store.import_image(io.BytesIO(make_tar({"t": b"1"})), "kept")
    dangling = store.import_image(io.BytesIO(make_tar({"d": b"22"})))
    used = store.import_image(io.BytesIO(make_tar({"u": b"333"})))
    users[used.id] = ["c" * 64]
    answer = prune_images(store, {})
    # the image, then its layer, as rmi reports them
    assert answer["ImagesDeleted"][0] == {"Deleted": dangling.id} and len(answer["ImagesDeleted"]) == 2
    assert answer["SpaceReclaimed"] == dangling.size > 0
    assert {i.id for i in store.all_images()} == {tagged.id, used.id}
    assert prune_images(store, {}) == {"ImagesDeleted": None, "SpaceReclaimed": 0}


def test_dangling_false_takes_unused_tagged_images_and_filters_hold(store):
    old = store.import_image(io.BytesIO(make_tar({"o": b"1"})), "old", changes=["LABEL keep=no"])
    store.import_image(io.BytesIO(make_tar({"k": b"2"})), "keep", changes=["LABEL keep=yes"])
    answer = prune_images(store, {"dangling": ["false"], "label": ["keep=no"]})
    assert answer["ImagesDeleted"][:2] == [{"Untagged": "old:latest"}, {"Deleted": old.id}]
    assert [r.familiar() for i in store.all_images() for r in store.tags_of(i.id)] == ["keep:latest"]
    assert prune_images(store, {"dangling": ["false"], "until": ["1"]})["ImagesDeleted"] is None


@pytest.mark.parametrize("filters, text", [
    ({"bogus": ["x"]}, "invalid filter 'bogus'"),
    ({"dangling": ["maybe"]}, "invalid filter 'dangling=maybe'"),
    ({"until": ["bogus"]}, 'failed to parse value as time or duration: "bogus"'),
])
def test_bad_filters_are_refused_before_anything_goes(store, filters, text):
    store.import_image(io.BytesIO(make_tar({"d": b"1"})))
    with pytest.raises(InvalidParameter, match=text):
        prune_images(store, filters)
    assert len(store.all_images()) == 1


def test_until_takes_what_docker_prune_takes_as_dockerd_does(store):
    """``--filter until=`` as moby's ``getUntilFromPruneFilters`` reads it (shared by container and network prune)."""
    store.import_image(io.BytesIO(make_tar({"n": b"1"})), "new")
    for too_early in ("1h", "2000-01-02", "2000-01-02T03:04:05Z", "946782245"):
        assert prune_images(store, {"dangling": ["false"], "until": [too_early]})["ImagesDeleted"] is None
    with pytest.raises(InvalidParameter, match="^more than one until filter specified$"):
        prune_images(store, {"until": ["1h", "2h"]})
    assert prune_images(store, {"dangling": ["false"], "until": ["-1h"]})["ImagesDeleted"][0] == {
        "Untagged": "new:latest"}  # a negative duration is a time to come: the image is older than it
