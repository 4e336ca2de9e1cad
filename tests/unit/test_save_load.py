"""``docker save`` / ``docker load`` archives: the Docker 25+ combined layout,
the older ``manifest.json`` layout and a plain OCI layout."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from barge.errors import ImageNotFound, InvalidParameter
from barge.graph import saveload
from barge.graph.layers import chain_ids
from tests.unit.test_graph import build_store, counts, driver_layers, make_tar


@pytest.fixture
def graph(tmp_path):
    store, events, home = build_store(tmp_path)
    yield store, events, home
    store.close()


def save_bytes(store, names) -> bytes:
    out = io.BytesIO()
    saveload.save(store, names, out)
    return out.getvalue()


def load_bytes(store, data: bytes) -> tuple[list[str], list[dict]]:
    out = io.BytesIO()
    ids = saveload.load(store, io.BytesIO(data), out)
    lines = [json.loads(line) for line in out.getvalue().split(b"\r\n") if line]
    return ids, lines


def members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf if m.isreg()}


def build_archive(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return buf.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_config(diff_ids: list[str], **extra) -> bytes:
    cfg = {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
           "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cfg.update(extra)
    return json.dumps(cfg).encode()


def test_save_writes_docker_and_oci_layout(graph):
    store, events, _ = graph
    img = store.import_image(io.BytesIO(make_tar({"bin/sh": b"#!"})), "busybox")
    store.tag(img.id, "busybox", "1.36")
    data = save_bytes(store, ["busybox:latest", "busybox:1.36"])
    files = members(data)
    for name, blob in files.items():
        if name.startswith("blobs/sha256/"):
            assert sha(blob) == "sha256:" + name.rsplit("/", 1)[1], name
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    manifest = json.loads(files["manifest.json"])
    assert manifest == [{
        "Config": f"blobs/sha256/{img.id[7:]}",
        "RepoTags": ["busybox:latest", "busybox:1.36"],
        "Layers": [f"blobs/sha256/{img.diff_ids[0][7:]}"],
    }]
    index = json.loads(files["index.json"])
    names = [(m["annotations"]["io.containerd.image.name"], m["annotations"]["org.opencontainers.image.ref.name"]) for m in index["manifests"]]
    assert names == [("docker.io/library/busybox:latest", "latest"), ("docker.io/library/busybox:1.36", "1.36")]
    oci_manifest = json.loads(files["blobs/sha256/" + index["manifests"][0]["digest"][7:]])
    assert oci_manifest["config"]["digest"] == img.id
    assert [layer["digest"] for layer in oci_manifest["layers"]] == img.diff_ids
    assert "busybox" in json.loads(files["repositories"])
    assert ("save", img.id, "busybox:latest") in events.seen


def test_save_load_round_trip(graph):
    store, _, home = graph
    a = store.import_image(io.BytesIO(make_tar({"a": b"1" * 3000})), "foo/app", "v1", changes=["LABEL x=y"])
    store.tag(a.id, "other")
    b = store.import_image(io.BytesIO(make_tar({"b": b"2"})))
    data = save_bytes(store, ["foo/app", "other", b.id[7:19]])
    for name in ("foo/app:v1", "other:latest"):
        store.delete(name)
    store.delete(b.id)
    assert counts(store) == {"layers": 0, "images": 0, "tags": 0, "pending_layers": 0} and driver_layers(home) == []

    ids, lines = load_bytes(store, data)
    assert ids == [a.id, b.id]
    assert lines == [{"stream": "Loaded image: foo/app:v1\n"}, {"stream": "Loaded image: other:latest\n"},
                     {"stream": f"Loaded image ID: {b.id}\n"}]
    assert store.get(a.id).config_bytes == a.config_bytes
    assert {t.familiar() for t in store.tags_of(a.id)} == {"foo/app:v1", "other:latest"}
    assert store.inspect(b.id)["RepoTags"] == []
    assert not list(store.tmp_dir.iterdir())  # spool removed


def test_save_by_repository_name_takes_all_its_tags(graph):
    store, _, _ = graph
    a = store.import_image(io.BytesIO(make_tar({"a": b"1"})), "multi", "1")
    b = store.import_image(io.BytesIO(make_tar({"b": b"2"})), "multi", "2")
    manifest = json.loads(members(save_bytes(store, ["multi"]))["manifest.json"])
    assert {m["Config"].rsplit("/", 1)[1] for m in manifest} == {a.id[7:], b.id[7:]}
    with pytest.raises(ImageNotFound):
        save_bytes(store, ["nothere"])


def test_load_legacy_layout_with_compressed_and_linked_layers(graph):
    store, _, _ = graph
    l0, l1 = make_tar({"base": b"0"}), make_tar({"top": b"1"})
    config = image_config([sha(l0), sha(l1)])
    hex_cfg = sha(config)[7:]
    archive = build_archive(
        {
            "aaa/layer.tar": gzip.compress(l0),
            "bbb/layer.tar": l1,
            f"{hex_cfg}.json": config,
            "manifest.json": json.dumps([{"Config": f"{hex_cfg}.json", "RepoTags": ["legacy:1"],
                                          "Layers": ["aaa/layer.tar", "ccc/layer.tar"]}]).encode(),
        },
        links={"ccc/layer.tar": "../bbb/layer.tar"},
    )
    ids, lines = load_bytes(store, archive)
    assert ids == [sha(config)] and lines == [{"stream": "Loaded image: legacy:1\n"}]
    img = store.resolve("legacy:1")
    chain = store.layer_chain(img)
    assert [layer.chain_id for layer in chain] == chain_ids([sha(l0), sha(l1)])
    assert chain[1].parent == chain[0].chain_id


def test_load_plain_oci_layout(graph):
    store, _, _ = graph
    layer = make_tar({"x": b"y"})
    config = image_config([sha(layer)])
    manifest = json.dumps({"schemaVersion": 2, "mediaType": saveload.MT_MANIFEST,
                           "config": {"mediaType": saveload.MT_CONFIG, "digest": sha(config), "size": len(config)},
                           "layers": [{"mediaType": saveload.MT_LAYER, "digest": sha(layer), "size": len(layer)}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": saveload.MT_MANIFEST, "digest": sha(manifest),
                        "size": len(manifest), "annotations": {saveload.ANN_IMAGE_NAME: "docker.io/library/oci:only"}}]}).encode()
    archive = build_archive({"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index,
                             f"blobs/sha256/{sha(config)[7:]}": config, f"blobs/sha256/{sha(layer)[7:]}": layer,
                             f"blobs/sha256/{sha(manifest)[7:]}": manifest})
    ids, _ = load_bytes(store, archive)
    assert store.resolve("oci:only").id == ids[0] == sha(config)


def test_load_with_corrupted_layer_records_nothing(graph):
    store, _, home = graph
    good, claimed = make_tar({"good": b"1"}), make_tar({"other": b"2"})
    config = image_config([sha(good), sha(claimed)])
    archive = build_archive({
        "l0.tar": good, "l1.tar": make_tar({"tampered": b"3"}), "c.json": config,
        "manifest.json": json.dumps([{"Config": "c.json", "RepoTags": ["bad:1"], "Layers": ["l0.tar", "l1.tar"]}]).encode(),
    })
    with pytest.raises(InvalidParameter, match="digest mismatch"):
        load_bytes(store, archive)
    assert counts(store) == {"layers": 0, "images": 0, "tags": 0, "pending_layers": 0}
    assert driver_layers(home) == []
    assert not list(store.tmp_dir.iterdir())


def test_load_keeps_existing_layers_on_failure(graph):
    store, _, _ = graph
    base = store.import_image(io.BytesIO(make_tar({"base": b"0"})), "base")
    config = image_config([base.diff_ids[0], sha(make_tar({"x": b"1"}))])
    archive = build_archive({
        "l0.tar": b"unused: the layer exists", "l1.tar": make_tar({"y": b"2"}), "c.json": config,
        "manifest.json": json.dumps([{"Config": "c.json", "RepoTags": [], "Layers": ["l0.tar", "l1.tar"]}]).encode(),
    })
    with pytest.raises(InvalidParameter, match="digest mismatch"):
        load_bytes(store, archive)
    assert counts(store) == {"layers": 1, "images": 1, "tags": 1, "pending_layers": 0}


def test_load_moves_an_existing_tag(graph):
    store, _, _ = graph
    old = store.import_image(io.BytesIO(make_tar({"old": b"1"})), "moving")
    layer = make_tar({"new": b"2"})
    config = image_config([sha(layer)])
    archive = build_archive({"l.tar": layer, "c.json": config, "manifest.json": json.dumps(
        [{"Config": "c.json", "RepoTags": ["moving:latest"], "Layers": ["l.tar"]}]).encode()})
    _, lines = load_bytes(store, archive)
    assert lines == [
        {"stream": f"The image moving:latest already exists, renaming the old one with ID {old.id} to empty string\n"},
        {"stream": "Loaded image: moving:latest\n"},
    ]
    assert store.resolve("moving").id == sha(config)
    assert store.inspect(old.id)["RepoTags"] == []


@pytest.mark.parametrize("archive, message", [
    (b"not a tar at all" * 100, "invalid"),
    (build_archive({"hello": b"x"}), "neither manifest.json nor index.json"),
    (build_archive({"manifest.json": b"{"}), "invalid archive"),
    (build_archive({"manifest.json": b'[{"Config":"missing.json","Layers":[]}]'}), "missing.json is missing"),
])
def test_load_rejects_bad_archives(graph, archive, message):
    store, _, _ = graph
    with pytest.raises(InvalidParameter, match=message):
        load_bytes(store, archive)
    assert counts(store)["images"] == 0


def test_load_layer_count_mismatch(graph):
    store, _, _ = graph
    config = image_config([sha(b"a"), sha(b"b")])
    archive = build_archive({"c.json": config, "l.tar": make_tar({}),
                             "manifest.json": b'[{"Config":"c.json","Layers":["l.tar"]}]'})
    with pytest.raises(InvalidParameter, match="layers length mismatch"):
        load_bytes(store, archive)
