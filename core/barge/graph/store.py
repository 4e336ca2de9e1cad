"""The image store: images, their tags and digests, on top of the layer store.

An image is content addressed: its ID is ``sha256:`` + the sha256 of the
exact config bytes, which are stored as they came. Tags map a full
repository name and tag to an image; repository digests map a name and a
manifest digest to one. Everything that must not be half-done (an image with
its top layer and tag, a delete with its untags and layer releases) is one
transaction.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import platform
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable

from barge import filters as filters_mod
from barge import reference
from barge.db import Database
from barge.errors import ImageNotFound, InvalidParameter
from barge.graph import changes as changes_mod
from barge.graph.layers import Layer, LayerStore
from barge.graph.schema import SCHEMA
from barge.timefmt import from_unix, parse_rfc3339, rfc3339_nano

log = logging.getLogger(__name__)

#: ``users(image_id)`` returns the containers using an image: container ids
#: (treated as stopped) or ``(container_id, running)`` pairs.
UsersFn = Callable[[str], list]

_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
            "armv6l": "arm", "i386": "386", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x",
            "riscv64": "riscv64"}


def go_arch() -> str:
    machine = platform.machine().lower()
    return _GO_ARCH.get(machine, machine)


def image_id_of(config: bytes) -> str:
    return "sha256:" + hashlib.sha256(config).hexdigest()


def canonical_json(obj: Any) -> bytes:
    """Compact JSON as Go's encoder writes it (HTML characters left alone)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Image:
    id: str
    config_bytes: bytes
    top_layer: str | None
    parent: str | None
    created: float
    size: int
    last_tag_time: str | None

    @cached_property
    def config(self) -> dict[str, Any]:
        return json.loads(self.config_bytes)

    @property
    def diff_ids(self) -> list[str]:
        return list((self.config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def labels(self) -> dict[str, str]:
        return (self.config.get("config") or {}).get("Labels") or {}


class ImageStore:
    """Images and layers of one daemon: ``ImageStore(db, pm, driver_name)``.

    ``db`` is the daemon's :class:`Database`, or the path of its file, which
    the store then opens and closes itself.
    """

    def __init__(self, db: Database | Path | str, pm, driver_name: str, users: UsersFn | None = None,
                 clock_ns: Callable[[], int] = time.time_ns):
        self._owns_db = not isinstance(db, Database)
        self.db: Database = db if isinstance(db, Database) else Database(db)
        self.db.require(SCHEMA)
        self.pm = pm
        self.driver_name = driver_name
        self.layers = LayerStore(self.db, pm, self.db.path.parent / "layer-tars")
        self.users: UsersFn = users or (lambda image_id: [])
        #: Stamps images and tags (``created``, ordering, since/before); tests pass a fake one.
        self.clock_ns = clock_ns
        #: Where spooled uploads (load) go: beside the db, on the data root.
        self.tmp_dir = self.db.path.parent / "tmp"

    # -- life cycle -------------------------------------------------------

    def recover(self) -> dict[str, int]:
        """Clean up what a killed daemon left: unfinished layers, orphans, spools."""
        if self.tmp_dir.is_dir():
            import shutil

            for entry in self.tmp_dir.iterdir():
                if entry.name.startswith("load-"):
                    shutil.rmtree(entry, ignore_errors=True)
        return self.layers.recover()

    def close(self) -> None:
        if self._owns_db:
            self.db.close()

    def event(self, action: str, image_id: str, name: str) -> None:
        self.pm.hook.barge_image_event(action=action, image_id=image_id, name=name)

    # -- reading ----------------------------------------------------------

    @staticmethod
    def _row_image(row) -> Image:
        return Image(row["id"], bytes(row["config"]), row["top_layer"], row["parent"], row["created"],
                     row["size"], row["last_tag_time"])

    def get(self, image_id: str) -> Image | None:
        row = self.db.query_one("SELECT * FROM images WHERE id = ?", (image_id,))
        return self._row_image(row) if row else None

    def all_images(self) -> list[Image]:
        return [self._row_image(r) for r in self.db.query("SELECT * FROM images")]

    def resolve(self, name: str) -> Image:
        """Find an image by full ID, ``sha256:`` ID, unique ID prefix, name[:tag] or name@digest."""
        if not name:
            raise ImageNotFound(name)
        if reference.is_full_id(name):
            image_id = name if name.startswith("sha256:") else "sha256:" + name
            img = self.get(image_id)
            if img is None:
                raise ImageNotFound(name)
            return img
        ref = None
        try:
            ref = reference.parse(name)
        except InvalidParameter:
            if not reference.is_image_id_prefix(name):
                raise
        if ref is not None:
            if ref.digest:
                row = self.db.query_one(
                    "SELECT image_id FROM repo_digests WHERE repo = ? AND digest = ?", (ref.name, ref.digest)
                )
            else:
                row = self.db.query_one(
                    "SELECT image_id FROM tags WHERE repo = ? AND tag = ?", (ref.name, ref.tag or reference.DEFAULT_TAG)
                )
            if row is not None:
                img = self.get(row["image_id"])
                if img is not None:
                    return img
        if reference.is_image_id_prefix(name):
            prefix = name if name.startswith("sha256:") else "sha256:" + name
            rows = self.db.query("SELECT id FROM images WHERE id >= ? AND id < ? LIMIT 2", (prefix, prefix + "g"))
            if len(rows) == 1:
                img = self.get(rows[0]["id"])
                if img is not None:
                    return img
        # Docker names the missing image with its default tag: "No such image: nothere:latest"
        raise ImageNotFound(ref.with_default_tag().familiar() if ref is not None else name)

    def tags_of(self, image_id: str) -> list[reference.Reference]:
        rows = self.db.query("SELECT repo, tag FROM tags WHERE image_id = ? ORDER BY created, repo, tag", (image_id,))
        return [self._ref(r["repo"], tag=r["tag"]) for r in rows]

    def digests_of(self, image_id: str) -> list[reference.Reference]:
        rows = self.db.query("SELECT repo, digest FROM repo_digests WHERE image_id = ? ORDER BY created, repo", (image_id,))
        return [self._ref(r["repo"], digest=r["digest"]) for r in rows]

    @staticmethod
    def _ref(repo: str, tag: str | None = None, digest: str | None = None) -> reference.Reference:
        domain, _, path = repo.partition("/")
        return reference.Reference(domain, path, tag, digest)

    def children(self, image_id: str) -> list[str]:
        return [r["id"] for r in self.db.query("SELECT id FROM images WHERE parent = ?", (image_id,))]

    def layer_chain(self, img: Image) -> list[Layer]:
        return self.layers.chain(img.top_layer)

    # -- import -----------------------------------------------------------

    def import_image(
        self,
        stream: BinaryIO,
        repo: str | None = None,
        tag: str | None = None,
        message: str = "",
        changes: Iterable[str] = (),
        src: str = "-",
    ) -> Image:
        """``docker import``: one layer from a rootfs tar, a fresh config, an optional tag.

        Arguments are checked before the stream is read, so bad input writes
        nothing.
        """
        ref = reference.parse_repo_and_tag(repo, tag) if repo else None
        container_config = changes_mod.apply_changes(changes_mod.empty_container_config(), list(changes))
        prepared = self.layers.apply(stream, None)
        try:
            created = rfc3339_nano(self.clock_ns())
            comment = message or f"Imported from {src}"
            config = {
                "architecture": go_arch(),
                "comment": comment,
                "config": container_config,
                "created": created,
                "history": [{"created": created, "comment": comment}],
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [prepared.diff_id]},
            }
            config_bytes = canonical_json(config)
            image_id = image_id_of(config_bytes)
            with self.db.write() as conn:
                self.layers.record(conn, prepared)
                self._insert_image(conn, image_id, config_bytes, prepared.chain_id, None)
                if ref is not None:
                    self._set_tag(conn, ref, image_id)
        except BaseException:
            self.layers.abort(prepared)
            raise
        self.layers.finish(prepared)
        if ref is not None:  # dockerd's order: the tag, then the import
            self.event("tag", image_id, ref.familiar())
        self.event("import", image_id, ref.familiar() if ref else image_id)
        img = self.get(image_id)
        assert img is not None
        return img

    def add_pulled(self, config_bytes: bytes, top: str | None, prepared: list, tags: list[reference.Reference],
                   repo_digests: list[reference.Reference], extra=None) -> tuple[str, list[str]]:
        """Record an image a pull made: its new layers (in order), the image, its tags and repo
        digest, and ``extra(conn)`` (distribution metadata), in ONE transaction.

        Returns ``(image id, ids of images that lost a tag to it)``. On failure the
        prepared layers are discarded: nothing of the pull is left.
        """
        image_id = image_id_of(config_bytes)
        replaced: list[str] = []
        try:
            with self.db.write() as conn:
                for p in prepared:
                    self.layers.record(conn, p)
                self._insert_image(conn, image_id, config_bytes, top, None)
                for ref in tags:
                    old = self._set_tag(conn, ref, image_id)
                    if old:
                        replaced.append(old)
                for ref in repo_digests:
                    conn.execute("INSERT OR REPLACE INTO repo_digests (repo, digest, image_id, created)"
                                 " VALUES (?, ?, ?, ?)", (ref.name, ref.digest, image_id, self.clock_ns() / 1e9))
                if extra is not None:
                    extra(conn)
        except BaseException:
            for p in prepared:
                self.layers.abort(p)
            raise
        for p in prepared:
            self.layers.finish(p)
        return image_id, replaced  # dockerd tags a pulled image without a tag event (the pull is announced)

    def add_repo_digest(self, ref: reference.Reference, image_id: str) -> None:
        """After a push: the image is known by its manifest digest there too (RepoDigests)."""
        with self.db.write() as conn:
            conn.execute("INSERT OR REPLACE INTO repo_digests (repo, digest, image_id, created) VALUES (?, ?, ?, ?)",
                         (ref.name, ref.digest, image_id, self.clock_ns() / 1e9))

    def _insert_image(self, conn, image_id: str, config_bytes: bytes, top: str | None, parent: str | None) -> None:
        config = json.loads(config_bytes)
        size = 0
        current = top
        while current is not None:
            row = conn.execute("SELECT parent, size FROM layers WHERE chain_id = ?", (current,)).fetchone()
            size += row["size"]
            current = row["parent"]
        conn.execute(
            "INSERT OR IGNORE INTO images (id, config, top_layer, parent, created, size, added) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (image_id, config_bytes, top, parent, parse_rfc3339(config.get("created")), size, self.clock_ns() / 1e9),
        )

    def _set_tag(self, conn, ref: reference.Reference, image_id: str) -> str | None:
        """Point ``ref`` at ``image_id``; return the image it pointed at before, if another."""
        old = conn.execute("SELECT image_id FROM tags WHERE repo = ? AND tag = ?", (ref.name, ref.tag)).fetchone()
        conn.execute(
            "INSERT INTO tags (repo, tag, image_id, created) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(repo, tag) DO UPDATE SET image_id = excluded.image_id, created = excluded.created",
            (ref.name, ref.tag, image_id, self.clock_ns() / 1e9),
        )
        conn.execute("UPDATE images SET last_tag_time = ? WHERE id = ?", (rfc3339_nano(self.clock_ns()), image_id))
        if old is not None and old["image_id"] != image_id:
            return old["image_id"]
        return None

    # -- tag --------------------------------------------------------------

    def tag(self, source: str, repo: str, tag: str | None = None) -> reference.Reference:
        img = self.resolve(source)
        ref = reference.parse_repo_and_tag(repo, tag)
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM images WHERE id = ?", (img.id,)).fetchone() is None:
                raise ImageNotFound(source)
            self._set_tag(conn, ref, img.id)
        self.event("tag", img.id, ref.familiar())
        return ref

    # -- delete -----------------------------------------------------------

    def delete(self, name: str, force: bool = False, prune: bool = True) -> list[dict[str, str]]:
        """``docker rmi`` (:class:`barge.graph.deletion.ImageDeletion`)."""
        from barge.graph.deletion import ImageDeletion

        return ImageDeletion(self).run(name, force, prune)

    # -- list, inspect, history -------------------------------------------

    def list_images(self, all: bool = False, filters: filters_mod.Filters | None = None) -> list[dict[str, Any]]:
        """``GET /images/json`` summaries, newest first."""
        show_all, filters = all, filters or {}
        every = builtins.all  # the parameter ``all`` (Docker's name) shadows the builtin
        dangling = filters_mod.dangling_value(filters.get("dangling", []))
        before = [self.resolve(n).created for n in filters.get("before", [])]
        since = [self.resolve(n).created for n in filters.get("since", [])]
        until = [_until_time(v) for v in filters.get("until", [])]
        patterns = filters.get("reference", [])
        with self.db.read() as conn:
            images = [self._row_image(r) for r in conn.execute("SELECT * FROM images").fetchall()]
            tag_rows = conn.execute("SELECT repo, tag, image_id FROM tags ORDER BY created, repo, tag").fetchall()
            digest_rows = conn.execute("SELECT repo, digest, image_id FROM repo_digests ORDER BY created, repo").fetchall()
            parents = {r["parent"] for r in conn.execute("SELECT parent FROM images WHERE parent IS NOT NULL")}
        tags: dict[str, list[reference.Reference]] = {}
        for r in tag_rows:
            tags.setdefault(r["image_id"], []).append(self._ref(r["repo"], tag=r["tag"]))
        digests: dict[str, list[reference.Reference]] = {}
        for r in digest_rows:
            digests.setdefault(r["image_id"], []).append(self._ref(r["repo"], digest=r["digest"]))
        out = []
        for img in images:
            if before and not every(img.created < t for t in before):
                continue
            if since and not every(img.created > t for t in since):
                continue
            if until and not every(img.created < t for t in until):
                continue
            if "label" in filters and not filters_mod.labels_match(img.labels, filters["label"]):
                continue
            img_tags, img_digests = tags.get(img.id, []), digests.get(img.id, [])
            if patterns:
                img_tags = [r for r in img_tags if any(filters_mod.reference_matches(p, r.familiar(), r.familiar_name) for p in patterns)]
                img_digests = [r for r in img_digests if any(filters_mod.reference_matches(p, r.familiar(), r.familiar_name) for p in patterns)]
                if not img_tags and not img_digests:
                    continue
            is_dangling = not tags.get(img.id) and not digests.get(img.id)
            if dangling is True and not is_dangling:
                continue
            if dangling is False and is_dangling:
                continue
            if is_dangling and not show_all and img.id in parents and dangling is None:
                continue  # an intermediate image, shown with all=1
            out.append({
                "Containers": -1,
                "Created": int(img.created),
                "Id": img.id,
                "Labels": img.labels or None,  # an image without labels: null, as dockerd gives it
                "ParentId": img.parent or "",
                "RepoDigests": [r.familiar() for r in img_digests],
                "RepoTags": [r.familiar() for r in img_tags],
                "SharedSize": -1,
                "Size": img.size,
            })
        created = {img.id: img.created for img in images}  # newest first, to the nanosecond (dockerd: the second)
        out.sort(key=lambda s: (created[s["Id"]], s["Id"]), reverse=True)
        return out

    def inspect(self, name: str) -> dict[str, Any]:
        """``GET /images/{name}/json``."""
        img = self.resolve(name)
        cfg = img.config
        top = self.layers.get(img.top_layer) if img.top_layer else None
        data = self.pm.hook.barge_graph_metadata(layer_id=top.cache_id) if top else {}
        out: dict[str, Any] = {
            "Id": img.id,
            "RepoTags": [r.familiar() for r in self.tags_of(img.id)],
            "RepoDigests": [r.familiar() for r in self.digests_of(img.id)],
            "Parent": img.parent or "",
            "Comment": cfg.get("comment", ""),
            "Created": cfg.get("created") or from_unix(img.created),
            "Container": cfg.get("container", ""),
            "ContainerConfig": cfg.get("container_config") or changes_mod.empty_container_config(),
            "DockerVersion": cfg.get("docker_version", ""),
            "Author": cfg.get("author", ""),
            "Config": cfg.get("config"),
            "Architecture": cfg.get("architecture", ""),
            "Os": cfg.get("os", ""),
            "Size": img.size,
            "VirtualSize": img.size,  # the API route drops it from API 1.44, as moby
            "GraphDriver": {"Data": data or {}, "Name": self.driver_name},
            "RootFS": {"Type": (cfg.get("rootfs") or {}).get("type", "layers"), "Layers": img.diff_ids},
            "Metadata": {"LastTagTime": img.last_tag_time or "0001-01-01T00:00:00Z"},
        }
        if cfg.get("variant"):
            out["Variant"] = cfg["variant"]
        if cfg.get("os.version"):
            out["OsVersion"] = cfg["os.version"]
        return out

    def history(self, name: str) -> list[dict[str, Any]]:
        """``GET /images/{name}/history``: newest first; older entries have ID ``<missing>``."""
        img = self.resolve(name)
        layers = self.layer_chain(img)
        entries: list[dict[str, Any]] = []
        layer_index = 0
        for h in img.config.get("history") or []:
            size = 0
            if not h.get("empty_layer"):
                if layer_index < len(layers):
                    size = layers[layer_index].size
                layer_index += 1
            entries.insert(0, {
                "Id": "<missing>",
                "Created": int(parse_rfc3339(h.get("created"))),
                "CreatedBy": h.get("created_by", ""),
                "Tags": None,
                "Size": size,
                "Comment": h.get("comment", ""),
            })
        current: Image | None = img
        for entry in entries:
            if current is None:
                break
            entry["Id"] = current.id
            entry["Tags"] = [r.familiar() for r in self.tags_of(current.id)] or None
            current = self.get(current.parent) if current.parent else None
        return entries


def _until_time(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        t = parse_rfc3339(value)
        if not t:
            raise InvalidParameter(f"invalid filter 'until={value}'") from None
        return t
