"""The differential suite's comparison (tests/differential/compare.py) and its accepted list, without daemons."""

from __future__ import annotations

import re

from tests.differential.compare import Accepted, load_accepted, normalize, shape_diff, unaccepted


def test_shapes_part_on_keys_and_kinds_not_values():
    assert shape_diff({"a": 1, "b": "x", "c": [1]}, {"a": 2.5, "b": "y", "c": [3, 4]}) == []
    assert shape_diff({"a": None}, {"a": []}) == ["a: dockerd has null, barge has list"]
    assert shape_diff({"a": {"b": 1}}, {"a": {"c": 1}}) == ["a.b: missing in barge", "a.c: barge only"]
    assert shape_diff({"a": True}, {"a": 1}) == ["a: dockerd has bool, barge has number"]


def test_lists_compare_the_union_of_their_elements():
    ref = [{"Id": "x", "Labels": None}, {"Id": "y", "Labels": {"a": "b"}}]
    assert shape_diff(ref, [{"Id": "z", "Labels": {}}]) == ["[].Labels: dockerd has null|object, barge has object"]
    assert shape_diff([], [{"Id": "z"}]) == []  # an empty list says nothing of its elements
    assert shape_diff([{"a": [{"b": 1}]}], [{"a": [{"c": 1}]}]) == ["[].a[].b: missing in barge", "[].a[].c: barge only"]


def test_objects_keyed_by_ids_compare_as_one_key():
    assert shape_diff({"Containers": {"a" * 64: {"Name": "x"}}}, {"Containers": {"b" * 64: {"Name": "y"}}}) == []
    assert shape_diff({"C": {"a" * 64: {"N": 1}}}, {"C": {"b" * 64: {"N": "1"}}}) == ["C.<id>.N: dockerd has number, "
                                                                                       "barge has string"]


def test_error_texts_lose_their_ids():
    cid = "c" * 64
    assert normalize(f"No such container: {cid[:12]} ", {cid: "<c>", cid[:12]: "<c>"}) == "No such container: <c>"
    assert normalize("image " + "d" * 64 + " is used", {}) == "image <id> is used"


def test_a_spot_covers_what_is_beneath_it_and_fields_match_anywhere():
    accepted = Accepted({"GET /info: Runtimes": "r"}, {"GraphDriver.Data": "d"}, {})
    lines = ["Runtimes.runc: missing in barge", "GraphDriver.Data.Dir: barge only", "Swarm: missing in barge"]
    assert unaccepted("GET /info", lines, accepted) == ["GET /info: Swarm: missing in barge"]
    assert unaccepted("GET /x", ["[].GraphDriver.Data.LowerDir: missing in barge"], accepted) == []
    assert unaccepted("GET /x", ["GraphDriverX.Data: barge only"], accepted) != []
    assert accepted.used == {"GET /info: Runtimes", "GraphDriver.Data"}


def test_every_accepted_entry_has_a_reason_and_its_patterns_compile():
    accepted = load_accepted()
    assert accepted.spots and accepted.rules
    for table in (accepted.spots, accepted.fields, accepted.rules):
        for key, reason in table.items():
            assert isinstance(reason, str) and len(reason) > 20, key
    for key in accepted.spots:
        assert re.fullmatch(r"(GET|HEAD|POST|PUT|DELETE) /\S+: \S.*", key), key
    for ref_pattern, barge_pattern, reason in accepted.texts:
        re.compile(ref_pattern), re.compile(barge_pattern)
        assert len(reason) > 20
    assert not set(accepted.spots) & set(accepted.fields)
