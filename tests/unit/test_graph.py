"""The graph: layers, images, tags, rmi rules, filters, history, recovery.

Runs against the ``fake`` graph driver (a real entry point that keeps each
layer's tar as it came) and a real SQLite file.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import sys
import tarfile
import time
from pathlib import Path

import pytest

from barge.engine import hookimpl
from barge.engine.plugins import load_graph_plugin, make_plugin_manager, register_driver
from barge.errors import Conflict, ImageNotFound, InvalidParameter
from barge.filters import parse_filters, path_match
from barge.graph.layers import chain_id, chain_ids
from barge.graph.schema import SCHEMA
from barge.graph.store import ImageStore, image_id_of


def make_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Events:
    def __init__(self):
        self.seen: list[tuple[str, str, str]] = []

    @hookimpl
    def barge_image_event(self, action, image_id, name):
        self.seen.append((action, image_id, name))


def build_store(tmp_path: Path, users=None, clock_ns=time.time_ns, **driver_options) -> tuple[ImageStore, Events, Path]:
    pm = make_plugin_manager(load_extensions=False)
    home = tmp_path / "graph" / "fake"
    plugin = load_graph_plugin("fake", home, driver_options)
    register_driver(pm, plugin, "graph", "fake")
    events = Events()
    pm.register(events, name="test-events")
    store = ImageStore(tmp_path / "barge.db", pm, "fake", users=users, clock_ns=clock_ns)
    store.recover()
    return store, events, home


@pytest.fixture
def graph(tmp_path):
    store, events, home = build_store(tmp_path)
    yield store, events, home
    store.close()


def driver_layers(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir())


def kept_tars(store: ImageStore) -> list[str]:
    d = store.layers.tars_dir
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def counts(store: ImageStore) -> dict[str, int]:
    return {t: store.db.query_one(f"SELECT count(*) FROM {t}")[0] for t in ("layers", "images", "tags", "pending_layers")}


# ---------------------------------------------------------------------------


def test_chain_ids_follow_the_oci_definition():
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert chain_id(None, a) == a
    expected = "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    assert chain_ids([a, b]) == [a, expected]


def test_db_is_wal_versioned_with_foreign_keys(graph):
    store, _, _ = graph
    assert store.db.versions == {SCHEMA.name: SCHEMA.version}
    assert store.db.query_one("PRAGMA journal_mode")[0] == "wal"
    assert store.db.query_one("PRAGMA foreign_keys")[0] == 1


def test_import_records_content_addressed_image(graph):
    store, events, home = graph
    tar = make_tar({"etc/hello": b"hi"})
    img = store.import_image(io.BytesIO(tar), "busybox", None, changes=['CMD ["sh"]', "ENV A=1 B=two", "EXPOSE 80 53/udp",
                                                                        "LABEL a=b", "WORKDIR /srv", "USER nobody"])
    assert img.id == image_id_of(img.config_bytes) == "sha256:" + hashlib.sha256(img.config_bytes).hexdigest()
    cfg = json.loads(img.config_bytes)
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    assert cfg["rootfs"] == {"type": "layers", "diff_ids": [diff_id]}
    assert cfg["os"] == "linux" and cfg["architecture"] in ("amd64", "arm64") or cfg["architecture"]
    assert cfg["history"][0]["comment"] == "Imported from -" and "created_by" not in cfg["history"][0]
    assert cfg["created"].endswith("Z") and "T" in cfg["created"]
    c = cfg["config"]
    assert c["Cmd"] == ["sh"] and c["Env"] == ["A=1", "B=two"] and c["WorkingDir"] == "/srv" and c["User"] == "nobody"
    assert c["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}} and c["Labels"] == {"a": "b"}
    assert counts(store) == {"layers": 1, "images": 1, "tags": 1, "pending_layers": 0}
    assert len(driver_layers(home)) == 1
    assert ("import", img.id, "busybox:latest") in events.seen
    assert store.resolve("busybox:latest").id == img.id


def test_shell_form_and_message(graph):
    store, _, _ = graph
    img = store.import_image(io.BytesIO(make_tar({"a": b"1"})), message="my msg", changes=["ENTRYPOINT echo hi"])
    assert img.config["config"]["Entrypoint"] == ["/bin/sh", "-c", "echo hi"]
    assert img.config["comment"] == "my msg"
    assert store.inspect(img.id)["Comment"] == "my msg"


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_compressed_import_has_the_uncompressed_diff_id(graph, compress):
    store, _, _ = graph
    tar = make_tar({"f": b"x" * 5000})
    img = store.import_image(io.BytesIO(compress(tar)))
    assert img.diff_ids == ["sha256:" + hashlib.sha256(tar).hexdigest()]


def test_zstd_without_module_is_a_clear_error(graph, monkeypatch):
    monkeypatch.setitem(sys.modules, "zstandard", None)  # as if it were not installed: import fails
    store, _, home = graph
    with pytest.raises(InvalidParameter, match="zstandard"):
        store.import_image(io.BytesIO(b"\x28\xb5\x2f\xfd" + b"\0" * 100))
    assert counts(store)["layers"] == 0 and driver_layers(home) == []


def test_bad_change_writes_nothing(graph):
    store, _, home = graph
    with pytest.raises(InvalidParameter, match="run is not a valid change command"):
        store.import_image(io.BytesIO(make_tar({"a": b""})), changes=["RUN rm -rf /"])
    with pytest.raises(InvalidParameter, match="must be lowercase"):
        store.import_image(io.BytesIO(make_tar({"a": b""})), repo="BusyBox")
    assert counts(store) == {"layers": 0, "images": 0, "tags": 0, "pending_layers": 0}
    assert driver_layers(home) == []


def test_failed_apply_leaves_nothing(tmp_path):
    store, _, home = build_store(tmp_path, fail_apply=True)
    try:
        with pytest.raises(OSError, match="apply_diff failed"):
            store.import_image(io.BytesIO(make_tar({"a": b"1"})), "x")
        assert counts(store) == {"layers": 0, "images": 0, "tags": 0, "pending_layers": 0}
        assert driver_layers(home) == [] and kept_tars(store) == []
    finally:
        store.close()


def test_recover_removes_pending_and_orphan_layers(tmp_path):
    store, _, home = build_store(tmp_path)
    keep = store.import_image(io.BytesIO(make_tar({"keep": b"1"})), "keep")
    # a daemon killed mid-import: pending row committed, driver layer created
    with store.db.write() as conn:
        conn.execute("INSERT INTO pending_layers VALUES ('deadbeef', ?)", (time.time(),))
    store.pm.hook.barge_graph_create(layer_id="deadbeef", parent=None)
    # a daemon killed mid-load: a layer recorded, its image not yet
    orphan = store.layers.create(io.BytesIO(make_tar({"orphan": b"2"})), None)
    store.layers.tars_dir.mkdir(exist_ok=True)
    (store.layers.tars_dir / "feedface.split.part").write_bytes(b"half")
    assert len(driver_layers(home)) == 3
    store.close()

    store, _, home = build_store(tmp_path)  # build_store calls recover()
    try:
        assert counts(store) == {"layers": 1, "images": 1, "tags": 1, "pending_layers": 0}
        assert store.layers.get(orphan.chain_id) is None
        assert driver_layers(home) == [store.layers.get(keep.top_layer).cache_id]
        assert kept_tars(store) == []  # the stray skeleton is gone
    finally:
        store.close()


def test_same_layer_is_stored_once_and_released_with_the_last_image(graph):
    store, _, home = graph
    tar = make_tar({"same": b"1"})
    a = store.import_image(io.BytesIO(tar), "a", changes=["CMD a"])
    b = store.import_image(io.BytesIO(tar), "b", changes=["CMD b"])
    assert a.id != b.id and a.top_layer == b.top_layer
    assert counts(store)["layers"] == 1 and len(driver_layers(home)) == 1
    assert store.delete("a") == [{"Untagged": "a:latest"}, {"Deleted": a.id}]
    assert len(driver_layers(home)) == 1
    assert store.delete("b") == [{"Untagged": "b:latest"}, {"Deleted": b.id}, {"Deleted": b.top_layer}]
    assert driver_layers(home) == [] and counts(store)["layers"] == 0 and kept_tars(store) == []


def test_layer_diff_gives_back_the_applied_tar(graph):
    store, _, _ = graph
    tar = make_tar({"k": b"v"})
    img = store.import_image(io.BytesIO(gzip.compress(tar)))
    layer = store.layers.get(img.top_layer)
    assert not store.layers.keep_tars  # fake claims REPRODUCES_EXACT_DIFFS: no skeleton kept
    assert b"".join(store.layers.diff(layer)) == tar


def test_resolve_by_id_prefix_name_and_digest(graph):
    store, _, _ = graph
    img = store.import_image(io.BytesIO(make_tar({"a": b"1"})), "foo/bar", "v1")
    hex_ = img.id[7:]
    for name in (img.id, hex_, "sha256:" + hex_[:5], hex_[:12], hex_[:1], "foo/bar:v1", "docker.io/foo/bar:v1"):
        assert store.resolve(name).id == img.id, name
    with store.db.write() as conn:
        conn.execute("INSERT INTO repo_digests VALUES ('docker.io/foo/bar', ?, ?, 0)", ("sha256:" + "d" * 64, img.id))
    assert store.resolve("foo/bar@sha256:" + "d" * 64).id == img.id
    with pytest.raises(ImageNotFound, match="No such image: foo/bar"):
        store.resolve("foo/bar")  # latest is not tagged
    with pytest.raises(ImageNotFound, match="No such image: nothere:1"):
        store.resolve("nothere:1")


def test_tag_moves_and_leaves_old_image_dangling(graph):
    store, events, _ = graph
    a = store.import_image(io.BytesIO(make_tar({"a": b"1"})), "app")
    b = store.import_image(io.BytesIO(make_tar({"b": b"2"})))
    store.tag(b.id, "app")
    assert store.resolve("app").id == b.id
    assert store.list_images(filters={"dangling": ["true"]})[0]["Id"] == a.id
    assert ("tag", b.id, "app:latest") in events.seen
    with pytest.raises(ImageNotFound):
        store.tag("missing", "app")
    with pytest.raises(InvalidParameter):
        store.tag(b.id, "App")


def test_rmi_multi_repo_conflict_and_force(graph):
    store, _, home = graph
    img = store.import_image(io.BytesIO(make_tar({"a": b"1"})), "one")
    store.tag(img.id, "two", "x")
    short = img.id[7:19]
    with pytest.raises(Conflict) as exc:
        store.delete(short)
    assert str(exc.value) == f"conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
    assert store.delete("two:x") == [{"Untagged": "two:x"}]
    store.tag(img.id, "two", "x")
    records = store.delete(short, force=True)
    assert {"Untagged": "one:latest"} in records and {"Untagged": "two:x"} in records
    assert {"Deleted": img.id} in records
    assert counts(store) == {"layers": 0, "images": 0, "tags": 0, "pending_layers": 0} and driver_layers(home) == []


def test_rmi_by_id_of_single_repository_removes_its_tag(graph):
    store, _, _ = graph
    img = store.import_image(io.BytesIO(make_tar({"a": b"1"})), "solo")
    assert store.delete(img.id) == [{"Untagged": "solo:latest"}, {"Deleted": img.id}, {"Deleted": img.top_layer}]


def test_rmi_refuses_images_with_children(graph):
    store, _, _ = graph
    parent = store.import_image(io.BytesIO(make_tar({"a": b"1"})), "parent")
    child_config = json.dumps({"rootfs": {"type": "layers", "diff_ids": parent.diff_ids}, "created": "2030-01-01T00:00:00Z"}).encode()
    child_id = image_id_of(child_config)
    with store.db.write() as conn:
        store._insert_image(conn, child_id, child_config, parent.top_layer, parent.id)
    short = parent.id[7:19]
    for force in (False, True):
        with pytest.raises(Conflict) as exc:
            store.delete(parent.id, force=force)
        assert str(exc.value) == f"conflict: unable to delete {short} (cannot be forced) - image has dependent child images"
    # untagging by name is allowed; the parent then goes with its child (prune)
    assert store.delete("parent") == [{"Untagged": "parent:latest"}]
    records = store.delete(child_id)
    assert records[0] == {"Deleted": child_id} and {"Deleted": parent.id} in records
    assert counts(store)["images"] == 0 and counts(store)["layers"] == 0


def test_rmi_image_in_use_by_a_container(tmp_path):
    users: dict[str, list] = {}
    store, _, _ = build_store(tmp_path, users=lambda image_id: users.get(image_id, []))
    try:
        img = store.import_image(io.BytesIO(make_tar({"a": b"1"})), "used")
        users[img.id] = ["c" * 64]
        with pytest.raises(Conflict, match=r'unable to remove repository reference "used" \(must force\) - container cccccccccccc'):
            store.delete("used")
        with pytest.raises(Conflict, match="must be forced\\) - image is being used by stopped container cccccccccccc"):
            store.delete(img.id)
        users[img.id] = [("d" * 64, True)]
        with pytest.raises(Conflict, match="cannot be forced\\) - image is being used by running container dddddddddddd"):
            store.delete(img.id, force=True)
        users[img.id] = ["c" * 64]
        assert {"Deleted": img.id} in store.delete(img.id, force=True)
    finally:
        store.close()


def test_noprune_keeps_the_untagged_parent(graph):
    store, _, _ = graph
    parent = store.import_image(io.BytesIO(make_tar({"a": b"1"})))
    child_config = json.dumps({"rootfs": {"type": "layers", "diff_ids": parent.diff_ids}, "created": "2030-01-01T00:00:00Z"}).encode()
    child_id = image_id_of(child_config)
    with store.db.write() as conn:
        store._insert_image(conn, child_id, child_config, parent.top_layer, parent.id)
    assert store.delete(child_id, prune=False) == [{"Deleted": child_id}]
    assert store.get(parent.id) is not None


def test_list_hides_intermediate_images_unless_all(graph):
    store, _, _ = graph
    parent = store.import_image(io.BytesIO(make_tar({"a": b"1"})))
    child_config = json.dumps({"rootfs": {"type": "layers", "diff_ids": parent.diff_ids}, "created": "2030-01-01T00:00:00Z"}).encode()
    child_id = image_id_of(child_config)
    with store.db.write() as conn:
        store._insert_image(conn, child_id, child_config, parent.top_layer, parent.id)
    assert [s["Id"] for s in store.list_images()] == [child_id]
    listed = store.list_images(all=True)
    assert [s["Id"] for s in listed] == [child_id, parent.id]  # newest first
    assert listed[0]["ParentId"] == parent.id


class FakeClock:
    """A clock that moves only when told (nanoseconds, as ``time.time_ns``)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now_ns = int(start * 1_000_000_000)

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * 1_000_000_000)


@pytest.fixture
def clocked(tmp_path):
    """An image store on a :class:`FakeClock`: images made a second apart without waiting one."""
    clock = FakeClock()
    store, _, _ = build_store(tmp_path, clock_ns=clock)
    yield store, clock
    store.close()


def test_list_filters(clocked):
    store, clock = clocked
    old = store.import_image(io.BytesIO(make_tar({"a": b"1"})), "busybox", changes=["LABEL tier=base"])
    clock.advance(1)
    mid = store.import_image(io.BytesIO(make_tar({"b": b"2"})), "busybox", "1.36", changes=["LABEL tier=app kind=web"])
    clock.advance(1)
    new = store.import_image(io.BytesIO(make_tar({"c": b"3"})), "registry.local:5000/team/app")
    dangling = store.import_image(io.BytesIO(make_tar({"d": b"4"})))

    def ids(**f):
        return [s["Id"] for s in store.list_images(filters={k: v if isinstance(v, list) else [v] for k, v in f.items()})]

    assert ids(dangling="true") == [dangling.id]
    assert set(ids(dangling="false")) == {old.id, mid.id, new.id}
    assert ids(label="tier=app") == [mid.id]
    assert set(ids(label="tier")) == {old.id, mid.id}
    assert ids(label=["tier", "kind=web"]) == [mid.id]
    assert ids(before="busybox:1.36") == [old.id]
    assert set(ids(since="busybox:1.36")) == {new.id, dangling.id}
    assert set(ids(reference="busy*")) == {old.id, mid.id}
    assert ids(reference="busybox:1.*") == [mid.id]
    assert ids(reference="registry.local:5000/*/app") == [new.id]
    assert ids(reference="team*") == []
    summary = store.list_images(filters={"reference": ["busybox:1.36"]})[0]
    assert summary["RepoTags"] == ["busybox:1.36"] and summary["Labels"] == {"tier": "app", "kind": "web"}
    assert set(summary) == {"Id", "ParentId", "RepoTags", "RepoDigests", "Created", "Size", "SharedSize", "Labels", "Containers"}
    with pytest.raises(ImageNotFound):
        ids(before="nothere")
    with pytest.raises(InvalidParameter, match="invalid filter 'dangling=maybe'"):
        ids(dangling="maybe")


def test_parse_filters_accepts_both_json_forms_and_rejects_junk():
    assert parse_filters('{"dangling":{"true":true}}') == {"dangling": ["true"]}
    assert parse_filters('{"label":["a=b","c"]}') == {"label": ["a=b", "c"]}
    assert parse_filters("") == {}
    with pytest.raises(InvalidParameter, match="invalid filter"):
        parse_filters("{not json")
    with pytest.raises(InvalidParameter, match="invalid filter 'color'"):
        parse_filters('{"color":["red"]}')
    assert path_match("busy*", "busybox") and not path_match("*", "foo/bar") and path_match("*/*", "foo/bar")
    assert path_match("b[a-u]sy?ox", "busybox") and not path_match("b[^u]sybox", "busybox")


def test_inspect_and_history_shapes(graph):
    store, _, home = graph
    img = store.import_image(io.BytesIO(make_tar({"a": b"1"})), "shape", "t", message="hello")
    data = store.inspect("shape:t")
    for key in ("Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "DockerVersion", "Author", "Config",
                "Architecture", "Os", "Size", "GraphDriver", "RootFS", "Metadata"):
        assert key in data, key
    assert data["RepoTags"] == ["shape:t"] and data["Comment"] == "hello"
    assert data["GraphDriver"]["Name"] == "fake" and data["GraphDriver"]["Data"]["Dir"].startswith(str(home))
    assert data["RootFS"] == {"Type": "layers", "Layers": img.diff_ids}
    assert data["Metadata"]["LastTagTime"].endswith("Z")
    hist = store.history(img.id)
    assert hist == [{"Id": img.id, "Created": int(img.created), "CreatedBy": "", "Tags": ["shape:t"],
                     "Size": store.layers.get(img.top_layer).size, "Comment": "hello"}]


def test_history_marks_older_entries_missing(graph):
    store, _, _ = graph
    base = store.import_image(io.BytesIO(make_tar({"a": b"1"})))
    config = {
        "created": "2030-01-01T00:00:00Z",
        "rootfs": {"type": "layers", "diff_ids": base.diff_ids},
        "history": [
            {"created": "2020-01-01T00:00:00Z", "created_by": "ADD rootfs"},
            {"created": "2030-01-01T00:00:00Z", "created_by": "CMD sh", "empty_layer": True},
        ],
    }
    raw = json.dumps(config).encode()
    with store.db.write() as conn:
        store._insert_image(conn, image_id_of(raw), raw, base.top_layer, None)
    hist = store.history(image_id_of(raw))
    assert [h["Id"] for h in hist] == [image_id_of(raw), "<missing>"]
    assert hist[0]["Size"] == 0 and hist[1]["Size"] > 0 and hist[1]["CreatedBy"] == "ADD rootfs"
    assert hist[1]["Created"] == 1577836800


def test_concurrent_imports_of_one_layer_store_it_once(graph):
    import threading

    store, _, home = graph
    tar = make_tar({"shared": b"z" * 100_000})
    errors, ids = [], []

    def work(i):
        try:
            ids.append(store.import_image(io.BytesIO(tar), f"c{i}", changes=[f"CMD c{i}"]).id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(ids)) == 6
    assert counts(store) == {"layers": 1, "images": 6, "tags": 6, "pending_layers": 0}
    assert len(driver_layers(home)) == 1 and kept_tars(store) == []
