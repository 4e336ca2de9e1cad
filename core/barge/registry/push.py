"""``push``: an image's layers, config and manifest to a registry repository.

For each layer, cheapest first (after moby's ``push_v2``): a blob the
registry already has in this repository (``HEAD``) is skipped ("Layer
already exists"); one it has in another repository is mounted ("Mounted
from ..."); only otherwise is the layer compressed (gzip, from the exact
tar the layer store rebuilds) into a temporary file and uploaded, in
chunks when large. Layers go up in parallel (``max_concurrent_uploads``);
then the config blob and a Docker schema 2 manifest, whose digest is
reported as Docker does (``<tag>: digest: sha256:... size: N`` and an
``aux`` message).
"""

from __future__ import annotations

import concurrent.futures
import gzip
import hashlib
import io
import json
import logging
import os
import shutil
import threading
from pathlib import Path

from barge import reference
from barge.errors import ImageNotFound, NotFound
from barge.registry import distmeta, mediatypes
from barge.registry.auth import AuthConfig
from barge.registry.client import Repository, first_answering, pinged
from barge.registry.endpoints import RegistryConfig, endpoints_for
from barge.registry.progress import Progress

log = logging.getLogger("barge.registry.push")

#: uploads larger than this go in PATCH chunks of this size
CHUNK = 32 << 20
GZIP_LEVEL = 1  # fast: the registry's bytes are what they are, any valid gzip does
#: blobs a schema 2 manifest may name as they are (others are compressed again)
GZIP_TYPES = (mediatypes.DOCKER_LAYER, mediatypes.OCI_LAYER_GZIP)


def short(digest: str) -> str:
    return digest.partition(":")[2][:12]


class Pusher:
    def __init__(self, images, cfg: RegistryConfig, tmp_root: Path, progress: Progress):
        images.db.require(distmeta.SCHEMA)
        self.images = images
        self.cfg = cfg
        self.tmp_root = Path(tmp_root)
        self.progress = progress

    def push(self, ref: reference.Reference, tag: str, auth: AuthConfig, platform: str = "") -> None:
        repo_name = reference.Reference(ref.domain, ref.path, None, None)
        if tag:
            tags = [tag]
        else:
            tags = sorted(t.tag for t in self._local_tags(repo_name))
            if not tags:
                raise ImageNotFound(f"An image does not exist locally with the tag: {repo_name.familiar_name}")
        if platform:  # barge's images are single-platform: the one asked for must be the image's
            want = mediatypes.parse_platform(platform)
            for t in tags:
                config = self._image(reference.Reference(ref.domain, ref.path, t, None)).config
                if (config.get("os"), config.get("architecture")) != (want.os, want.architecture):
                    raise NotFound(f"image with reference {ref.familiar_name}:{t} was found but does not match "
                                   f"the specified platform: wanted {want.os}/{want.architecture}, "
                                   f"actual: {config.get('os')}/{config.get('architecture')}")
        self.progress.status(f"The push refers to repository [{repo_name.name}]")
        repo = self._repository(ref, auth)
        for t in tags:
            self._push_tag(repo, reference.Reference(ref.domain, ref.path, t, None))

    def _local_tags(self, repo_name: reference.Reference) -> list[reference.Reference]:
        rows = self.images.db.query("SELECT tag FROM tags WHERE repo = ? ORDER BY tag", (repo_name.name,))
        return [reference.Reference(repo_name.domain, repo_name.path, r["tag"], None) for r in rows]

    def _repository(self, ref: reference.Reference, auth: AuthConfig) -> Repository:
        endpoints = [e for e in endpoints_for(ref.domain, self.cfg) if not e.mirror]  # never push to a mirror
        return first_answering(endpoints, lambda ep: pinged(
            Repository(ep, ref.path, auth, ("pull", "push"), self.cfg, display=ref.familiar_name)))

    def _image(self, ref: reference.Reference):
        try:
            return self.images.resolve(ref.familiar())
        except ImageNotFound:
            raise ImageNotFound(f"tag does not exist: {ref.familiar()}") from None

    def _push_tag(self, repo: Repository, ref: reference.Reference) -> None:
        img = self._image(ref)
        layers = self.images.layer_chain(img)
        for layer in layers:
            self.progress.status("Preparing", short(layer.diff_id))
        workers = max(1, int(self.cfg.max_concurrent_uploads or 5))
        work = self.tmp_root / f"push-{os.getpid()}-{threading.get_ident()}"
        work.mkdir(parents=True, exist_ok=True)
        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push") as pool:
                futures = [pool.submit(self._push_layer, repo, ref, layer, work) for layer in layers]
                descriptors = [f.result() for f in futures]
        finally:
            shutil.rmtree(work, ignore_errors=True)
        config_bytes = img.config_bytes
        config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        if repo.blob_size(config_digest) is None:
            repo.upload_blob(io.BytesIO(config_bytes), config_digest, len(config_bytes))
        manifest = {
            "schemaVersion": 2,
            "mediaType": mediatypes.DOCKER_MANIFEST,
            "config": {"mediaType": mediatypes.DOCKER_CONFIG, "size": len(config_bytes), "digest": config_digest},
            "layers": descriptors,
        }
        body = json.dumps(manifest, indent=3).encode()
        digest = repo.put_manifest(ref.tag, body, mediatypes.DOCKER_MANIFEST)
        self.images.add_repo_digest(reference.Reference(ref.domain, ref.path, None, digest), img.id)
        self.progress.status(f"{ref.tag}: digest: {digest} size: {len(body)}")
        self.progress.aux({"Tag": ref.tag, "Digest": digest, "Size": len(body)})

    def _push_layer(self, repo: Repository, ref: reference.Reference, layer, work: Path) -> dict:
        sid = short(layer.diff_id)
        db = self.images.db
        known = [r for r in distmeta.known(db, layer.diff_id, ref.domain) if r.media_type in GZIP_TYPES]
        for rec in known:
            if rec.repo == ref.path:
                if repo.blob_size(rec.digest) is not None:
                    self.progress.status("Layer already exists", sid)
                    return {"mediaType": _docker_type(rec.media_type), "size": rec.size, "digest": rec.digest}
                distmeta.forget(db, rec.registry, rec.repo, rec.digest)
        for rec in known:
            if rec.repo != ref.path and repo.mount_blob(rec.digest, rec.repo):
                self.progress.status(f"Mounted from {rec.repo}", sid)
                self._remember(rec.digest, layer.diff_id, ref, rec.media_type, rec.size)
                return {"mediaType": _docker_type(rec.media_type), "size": rec.size, "digest": rec.digest}
        self.progress.status("Pushing", sid)
        path = work / f"{sid}.tar.gz"
        digest, size = self._compress(layer, path)
        if repo.blob_size(digest) is None:
            with open(path, "rb") as fh:
                repo.upload_blob(fh, digest, size, progress=lambda n: self.progress.bytes("Pushing", sid, n, size),
                                 chunk_size=CHUNK)
        path.unlink(missing_ok=True)
        self.progress.status("Pushed", sid)
        self._remember(digest, layer.diff_id, ref, mediatypes.DOCKER_LAYER, size)
        return {"mediaType": mediatypes.DOCKER_LAYER, "size": size, "digest": digest}

    def _remember(self, digest: str, diff_id: str, ref: reference.Reference, media_type: str, size: int) -> None:
        distmeta.record(self.images.db, distmeta.BlobRecord(digest, diff_id, ref.domain, ref.path, media_type, size))

    def _compress(self, layer, path: Path) -> tuple[str, int]:
        """The layer's exact tar, gzip'ed into ``path``; returns (digest, size) of the compressed bytes."""
        sha = hashlib.sha256()
        size = 0
        with open(path, "wb") as raw:
            writer = _HashingWriter(raw, sha)
            with gzip.GzipFile(fileobj=writer, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as gz:
                for chunk in self.images.layers.diff(layer):
                    gz.write(chunk)
            size = writer.count
        return "sha256:" + sha.hexdigest(), size


def _docker_type(media_type: str) -> str:
    """A schema 2 manifest names Docker's layer types; OCI ones map across."""
    return {mediatypes.OCI_LAYER_GZIP: mediatypes.DOCKER_LAYER}.get(media_type, media_type)


class _HashingWriter:
    def __init__(self, raw, sha):
        self._raw = raw
        self._sha = sha
        self.count = 0

    def write(self, data) -> int:
        self._sha.update(data)
        self.count += len(data)
        return self._raw.write(data)

    def flush(self) -> None:
        self._raw.flush()


