"""``docker save`` and ``docker load`` archives, in the layout Docker 25+ writes.

One tar holds both an OCI image layout (``oci-layout``, ``index.json``,
``blobs/sha256/<hex>`` for layers, configs and manifests) and Docker's own
``manifest.json`` (and the legacy ``repositories``), whose paths point into
the same blobs. Load reads ``manifest.json``, so archives from Docker 1.10
to 24 (``<id>/layer.tar``, ``<hex>.json``) load too.

A layer blob's digest is its diff ID, so a blob must be the exact tar the
layer came from (see :mod:`barge.graph.layers` on kept tars); a layer that
does not reproduce makes save fail with that reason rather than write an
archive no one can load.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from barge import reference
from barge.errors import BargeError, ImageNotFound, InvalidParameter
from barge.graph.layers import Layer, chain_ids
from barge.graph.store import Image, ImageStore, image_id_of

CHUNK = 1 << 20

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
ANN_IMAGE_NAME = "io.containerd.image.name"
ANN_REF_NAME = "org.opencontainers.image.ref.name"


class Writer:
    """A tar target: anything with ``write(bytes)``."""

    def __init__(self, out):
        self._out = out

    def write(self, data: bytes) -> int:
        self._out.write(bytes(data))
        return len(data)


def _json(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o644
    tf.addfile(info, io.BytesIO(data))


def _add_dir(tf: tarfile.TarFile, name: str, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = int(mtime)
    tf.addfile(info)


# ---------------------------------------------------------------------------
# save
# ---------------------------------------------------------------------------


@dataclass
class _Saved:
    image: Image
    refs: list[reference.Reference] = field(default_factory=list)


def _select(store: ImageStore, names: list[str]) -> list[_Saved]:
    """Images to save with the tags each carries (moby's tarexporter ``parseNames``)."""
    chosen: dict[str, _Saved] = {}

    def add(img: Image, ref: reference.Reference | None) -> None:
        entry = chosen.setdefault(img.id, _Saved(img))
        if ref is not None and ref.tag and ref not in entry.refs:
            entry.refs.append(ref)

    for name in names:
        ref = None
        if not reference.is_full_id(name):
            try:
                ref = reference.parse(name)
            except InvalidParameter:
                if not reference.is_image_id_prefix(name):
                    raise
        if ref is not None and ref.tag is None and ref.digest is None:
            rows = store.db.query("SELECT tag, image_id FROM tags WHERE repo = ? ORDER BY tag", (ref.name,))
            if rows:
                for row in rows:
                    img = store.get(row["image_id"])
                    if img is not None:
                        add(img, reference.Reference(ref.domain, ref.path, row["tag"]))
                continue
        try:
            img = store.resolve(name)
        except ImageNotFound:
            if ref is not None and ref.tag is None and ref.digest is None:
                raise ImageNotFound(name) from None  # moby searches the bare name: "No such image: x"
            raise
        if ref is not None:
            full = ref if ref.digest else ref.with_default_tag()
            add(img, full if full in store.tags_of(img.id) else None)
        else:
            add(img, None)
    return list(chosen.values())


def save(store: ImageStore, names: list[str], out) -> None:
    """Write the archive of ``names`` to ``out`` (``write(bytes)``), streaming.

    Long on purpose: the archive written in one pass, in its order (per image
    its layers, config and manifest blobs; then index.json, manifest.json,
    oci-layout, repositories), each name written once.
    """
    if not names:
        raise InvalidParameter("no images given to save")
    selected = _select(store, names)
    store.tmp_dir.mkdir(parents=True, exist_ok=True)
    now = time.time()
    with tempfile.TemporaryDirectory(prefix="save-", dir=store.tmp_dir) as scratch:
        tf = tarfile.open(fileobj=Writer(out), mode="w|", format=tarfile.PAX_FORMAT, bufsize=CHUNK,
                          copybufsize=CHUNK)
        written: set[str] = set()
        sizes: dict[str, int] = {}
        manifest_json, index_entries, repositories = [], [], {}
        _add_dir(tf, "blobs/", now)
        _add_dir(tf, "blobs/sha256/", now)
        for entry in selected:
            img = entry.image
            layers = store.layer_chain(img)
            layer_descs, layer_paths = [], []
            for layer in layers:
                hex_ = layer.diff_id.split(":", 1)[1]
                path = f"blobs/sha256/{hex_}"
                if path not in written:
                    size = _write_layer(store, tf, layer, path, Path(scratch), now)
                    written.add(path)
                    sizes[path] = size
                size = sizes[path]
                layer_descs.append({"mediaType": MT_LAYER, "digest": layer.diff_id, "size": size})
                layer_paths.append(path)
            config_hex = img.id.split(":", 1)[1]
            config_path = f"blobs/sha256/{config_hex}"
            if config_path not in written:
                _add_bytes(tf, config_path, img.config_bytes, now)
                written.add(config_path)
            manifest = _json({
                "schemaVersion": 2,
                "mediaType": MT_MANIFEST,
                "config": {"mediaType": MT_CONFIG, "digest": img.id, "size": len(img.config_bytes)},
                "layers": layer_descs,
            })
            manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
            manifest_path = f"blobs/sha256/{manifest_digest.split(':', 1)[1]}"
            if manifest_path not in written:
                _add_bytes(tf, manifest_path, manifest, now)
                written.add(manifest_path)
            desc = {"mediaType": MT_MANIFEST, "digest": manifest_digest, "size": len(manifest)}
            if entry.refs:
                for ref in entry.refs:
                    index_entries.append({**desc, "annotations": {ANN_IMAGE_NAME: str(ref), ANN_REF_NAME: ref.tag}})
                    if layers:
                        repositories.setdefault(ref.familiar_name, {})[ref.tag] = layers[-1].diff_id.split(":", 1)[1]
            else:
                index_entries.append(desc)
            manifest_json.append({
                "Config": config_path,
                "RepoTags": [r.familiar() for r in entry.refs] or None,
                "Layers": layer_paths,
            })
        _add_bytes(tf, "index.json", _json({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": index_entries}), now)
        _add_bytes(tf, "manifest.json", _json(manifest_json), now)
        _add_bytes(tf, "oci-layout", _json({"imageLayoutVersion": "1.0.0"}), now)
        if repositories:
            _add_bytes(tf, "repositories", _json(repositories), now)
        tf.close()
    for entry in selected:
        store.event("save", entry.image.id, entry.refs[0].familiar() if entry.refs else entry.image.id)


def _write_layer(store: ImageStore, tf: tarfile.TarFile, layer: Layer, path: str, scratch: Path, mtime: float) -> int:
    """Spool the driver's diff (tar headers need the size), check it, add it."""
    spool = scratch / "layer.tar"
    sha = hashlib.sha256()
    size = 0
    with open(spool, "wb") as fh:
        for chunk in store.layers.diff(layer):
            fh.write(chunk)
            sha.update(chunk)
            size += len(chunk)
    digest = "sha256:" + sha.hexdigest()
    if digest != layer.diff_id:
        spool.unlink()
        raise BargeError(
            f"cannot save layer {layer.diff_id}: the {store.driver_name} graph driver reproduced it as {digest}; "
            "an archive with this layer would fail digest verification on load"
        )
    info = tarfile.TarInfo(path)
    info.size = size
    info.mode = 0o644
    info.mtime = int(mtime)
    with open(spool, "rb") as fh:
        tf.addfile(info, fh)
    spool.unlink()
    return size


# ---------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------


class _Spool:
    """An incoming archive unpacked to a private directory, names checked.

    Only regular files are written, each under the spool root; symbolic links
    (older archives link duplicate layers) are kept as a name map and
    resolved inside the archive, never on disk.
    """

    def __init__(self, root: Path):
        self.root = root
        self.files: dict[str, Path] = {}
        self.links: dict[str, str] = {}

    @staticmethod
    def _clean(name: str) -> str:
        # Names only key a map (files land at spool-chosen paths), so clamping is safe.
        norm = posixpath.normpath("/" + name).lstrip("/")
        if not norm:
            raise InvalidParameter(f"invalid archive entry name {name!r}")
        return norm

    def fill(self, stream: BinaryIO) -> None:
        try:
            tf = tarfile.open(fileobj=stream, mode="r|*", bufsize=CHUNK, copybufsize=CHUNK)
        except tarfile.TarError as exc:
            raise InvalidParameter(f"invalid tar archive: {exc}") from None
        count = 0
        try:
            for member in tf:
                name = self._clean(member.name)
                if member.isreg():
                    count += 1
                    target = self.root / f"f{count}"
                    src = tf.extractfile(member)
                    assert src is not None
                    with open(target, "wb") as fh:
                        shutil.copyfileobj(src, fh, CHUNK)
                    self.files[name] = target
                elif member.issym():
                    self.links[name] = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname)).lstrip("/")
                elif member.islnk():
                    self.links[name] = self._clean(member.linkname)
        except tarfile.TarError as exc:
            raise InvalidParameter(f"invalid tar archive: {exc}") from None

    def path(self, name: str) -> Path:
        name = self._clean(name)
        for _ in range(16):
            if name in self.files:
                return self.files[name]
            if name not in self.links:
                break
            name = self.links[name]
        raise InvalidParameter(f"invalid archive: {name} is missing")

    def has(self, name: str) -> bool:
        try:
            self.path(name)
        except InvalidParameter:
            return False
        return True

    def read_json(self, name: str):
        try:
            return json.loads(self.path(name).read_bytes())
        except ValueError as exc:
            raise InvalidParameter(f"invalid archive: {name}: {exc}") from None


def _message(out, text: str) -> None:
    out.write(_json({"stream": text}) + b"\r\n")


def load(store: ImageStore, stream: BinaryIO, out, quiet: bool = False) -> list[str]:
    """Load every image of an archive; stream ``{"stream": ...}`` lines to ``out``.

    Each layer is verified against the config's ``rootfs.diff_ids`` as it is
    unpacked; on a mismatch nothing of that image is kept. Returns the
    loaded image IDs.
    """
    store.tmp_dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="load-", dir=store.tmp_dir))
    try:
        spool = _Spool(root)
        spool.fill(stream)
        entries = _entries(spool)
        loaded = []
        for config_name, repo_tags, layer_names in entries:
            loaded.append(_load_one(store, spool, config_name, repo_tags, layer_names, out))
        return loaded
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _entries(spool: _Spool) -> list[tuple[str, list[str], list[str]]]:
    if spool.has("manifest.json"):
        manifest = spool.read_json("manifest.json")
        if not isinstance(manifest, list):
            raise InvalidParameter("invalid archive: manifest.json is not a list")
        out = []
        for m in manifest:
            if not isinstance(m, dict) or "Config" not in m:
                raise InvalidParameter("invalid archive: manifest.json entry without Config")
            out.append((m["Config"], list(m.get("RepoTags") or []), list(m.get("Layers") or [])))
        return out
    if spool.has("index.json"):
        return _oci_entries(spool)
    raise InvalidParameter("invalid archive: neither manifest.json nor index.json found")


def _blob_name(digest: str) -> str:
    algorithm, _, hex_ = digest.partition(":")
    return f"blobs/{algorithm}/{hex_}"


def _oci_entries(spool: _Spool) -> list[tuple[str, list[str], list[str]]]:
    """A plain OCI layout: follow the index to image manifests (nested indexes too)."""
    out: dict[str, tuple[str, list[str], list[str]]] = {}

    def walk(index: dict, depth: int) -> None:
        for desc in index.get("manifests") or []:
            mt = desc.get("mediaType", "")
            name = (desc.get("annotations") or {}).get(ANN_IMAGE_NAME)
            if mt in (MT_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json") and depth < 4:
                if spool.has(_blob_name(desc["digest"])):
                    walk(spool.read_json(_blob_name(desc["digest"])), depth + 1)
                continue
            if not spool.has(_blob_name(desc["digest"])):
                continue
            manifest = spool.read_json(_blob_name(desc["digest"]))
            config = _blob_name(manifest["config"]["digest"])
            layers = [_blob_name(layer["digest"]) for layer in manifest.get("layers") or []]
            entry = out.setdefault(config, (config, [], layers))
            if name and name not in entry[1]:
                entry[1].append(name)

    walk(spool.read_json("index.json"), 0)
    return list(out.values())


def _load_one(store: ImageStore, spool: _Spool, config_name: str, repo_tags: list[str],
              layer_names: list[str], out) -> str:
    refs = [reference.parse_tagged(t) for t in repo_tags]  # bad names fail before any write
    config_bytes = spool.path(config_name).read_bytes()
    try:
        config = json.loads(config_bytes)
    except ValueError as exc:
        raise InvalidParameter(f"invalid image config {config_name}: {exc}") from None
    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    if len(diff_ids) != len(layer_names):
        raise InvalidParameter(
            f"invalid manifest, layers length mismatch: expected {len(diff_ids)}, got {len(layer_names)}"
        )
    image_id = image_id_of(config_bytes)
    chains = chain_ids(diff_ids)
    created: list[str] = []
    try:
        parent: str | None = None
        for diff_id, chain, name in zip(diff_ids, chains, layer_names):
            if store.layers.get(chain) is None:
                with open(spool.path(name), "rb") as fh:
                    layer = store.layers.create(fh, parent, expected_diff_id=diff_id)
                created.append(layer.chain_id)
            parent = chain
        moved: list[tuple[reference.Reference, str]] = []
        with store.db.write() as conn:
            store._insert_image(conn, image_id, config_bytes, parent, None)
            for ref in refs:
                old = store._set_tag(conn, ref, image_id)
                if old is not None:
                    moved.append((ref, old))
    except BaseException:
        _release(store, created)
        raise
    for ref, old in moved:
        _message(out, f"The image {ref.familiar()} already exists, renaming the old one with ID {old} to empty string\n")
    store.event("load", image_id, refs[0].familiar() if refs else image_id)
    for ref in refs:  # dockerd tags a loaded image without a tag event
        _message(out, f"Loaded image: {ref.familiar()}\n")
    if not refs:
        _message(out, f"Loaded image ID: {image_id}\n")
    return image_id


def _release(store: ImageStore, created: list[str]) -> None:
    """Drop the layers a failed load created (those no image took)."""
    if not created:
        return
    with store.db.write() as conn:
        released = store.layers.release_unused(conn, created[-1])
    store.layers.remove_driver_layers(released)
