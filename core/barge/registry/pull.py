"""``pull``: a manifest, its config, its missing layers; one transaction records the image.

Order of work, after moby's ``pull_v2``:

1. resolve the reference (index -> this platform's manifest), verify every
   digest (manifest, config, blobs);
2. the config gives the layers' diff IDs, so the chain IDs are known before
   any download: layers already here are ``Already exists``;
3. missing layers download in parallel (``max_concurrent_downloads``) into
   temporary files, their digests checked as they stream (a dropped
   connection resumes with ``Range``); the lowest layer not yet unpacked
   is decompressed and unpacked *while* it downloads, reading its file as
   it grows (:class:`GrowingFile`); a digest that does not match at the end
   aborts that unpack. Each is checked against its diff ID and kept as a
   *prepared* layer;
4. the prepared layers, the image, its tag, its repo digest and the blob
   records go into the daemon's db in ONE transaction. Anything failing before
   that leaves nothing: the prepared layers are discarded, the temporary
   files removed, and a killed daemon's leftovers are pending layers that
   the next start removes.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import json
import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from barge import reference
from barge.errors import BargeError, InvalidParameter, NotFound
from barge.graph.layers import PreparedLayer, chain_ids
from barge.registry import distmeta, mediatypes
from barge.registry.auth import AuthConfig
from barge.registry.client import EndpointUnreachable, RegistryDenied, RegistryUnauthorized, Repository
from barge.registry.endpoints import RegistryConfig, endpoints_for
from barge.registry.progress import Progress

log = logging.getLogger("barge.registry.pull")

#: an image config larger than this is not an image config
CONFIG_LIMIT = 8 << 20
#: the chain ids being unpacked by some pull; a second pull of the same layers waits
_busy: dict[str, threading.Lock] = {}
_busy_lock = threading.Lock()


def short(digest: str) -> str:
    return digest.partition(":")[2][:12]


def fetch_config(repo: Repository, digest: str, size: int | None) -> bytes:
    """An image config, whole and verified (pull, distribution inspect); one whose descriptor gives no size or
    more than CONFIG_LIMIT is refused unread."""
    if not isinstance(size, int):
        raise InvalidParameter(f"image config {digest}: the manifest gives no size")
    if size > CONFIG_LIMIT:
        raise InvalidParameter(f"image config {digest} is too large ({size} bytes)")
    buf = io.BytesIO()
    repo.fetch_blob(digest, buf, size)
    return buf.getvalue()


@dataclass
class Plan:
    """One image to pull: where from, what, and what we already have."""

    ref: reference.Reference
    repo: Repository
    manifest_digest: str
    config_bytes: bytes
    layers: list[Any]  # mediatypes descriptors, bottom first
    diff_ids: list[str]
    chains: list[str] = field(default_factory=list)


class Puller:
    def __init__(self, images, cfg: RegistryConfig, tmp_root: Path, progress: Progress):
        images.db.require(distmeta.SCHEMA)
        self.images = images
        self.cfg = cfg
        self.tmp_root = Path(tmp_root)
        self.progress = progress

    # -- resolving ------------------------------------------------------------

    def resolve(self, ref: reference.Reference, auth: AuthConfig, platform: str) -> Plan:
        """Manifest and config of ``ref`` (tag or digest), from the first endpoint that answers
        (mirrors first for docker.io; https, then http for an insecure registry)."""
        last: BaseException | None = None
        for endpoint in endpoints_for(ref.domain, self.cfg):
            repo = Repository(endpoint, ref.path, auth, ("pull",), self.cfg, display=ref.familiar_name)
            try:
                repo.ping()
                return self._resolve_at(repo, ref, platform)
            except EndpointUnreachable as exc:
                last = exc
            except (RegistryUnauthorized, RegistryDenied) as exc:
                if endpoint.mirror:
                    last = exc
                    continue
                raise RegistryDenied(f"pull access denied for {ref.familiar_name}, repository does not exist or "
                                     f"may require 'docker login': {exc}") from None
            except BargeError as exc:
                if not endpoint.mirror:
                    raise
                last = exc
                log.info("mirror %s failed for %s: %s; trying the next endpoint", endpoint.url, ref, exc)
        raise last or NotFound(f"no endpoint for {ref.domain}")

    def _resolve_at(self, repo: Repository, ref: reference.Reference, platform: str) -> Plan:
        body, media_type, digest = repo.get_manifest(ref.digest or ref.tag or "latest")
        manifest = mediatypes.parse_manifest(body, media_type)
        top_digest = digest
        if isinstance(manifest, mediatypes.Index):
            chosen = mediatypes.select_platform(manifest, platform or None)
            body, media_type, _ = repo.get_manifest(chosen.digest)
            manifest = mediatypes.parse_manifest(body, media_type)
            if isinstance(manifest, mediatypes.Index):
                raise InvalidParameter(f"{ref}: a manifest list inside a manifest list is not an image")
        config_bytes = fetch_config(repo, manifest.config.digest, manifest.config.size)
        try:
            config = json.loads(config_bytes)
            diff_ids = list(config["rootfs"]["diff_ids"])
        except (ValueError, KeyError, TypeError):
            raise InvalidParameter(f"{ref}: the image config is not a valid image config") from None
        if platform:
            want = mediatypes.parse_platform(platform)
            if (config.get("os"), config.get("architecture")) != (want.os, want.architecture):
                raise NotFound(f"image with reference {ref} was found but does not match the specified platform: "
                               f"wanted {want.os}/{want.architecture}, "
                               f"actual: {config.get('os')}/{config.get('architecture')}")
        if len(diff_ids) != len(manifest.layers):
            raise InvalidParameter(f"{ref}: the manifest has {len(manifest.layers)} layers, "
                                   f"the config {len(diff_ids)} diff IDs")
        for d in diff_ids:
            if not isinstance(d, str) or not d.startswith("sha256:") or len(d) != 71:
                raise InvalidParameter(f"{ref}: invalid diff ID {d!r} in the image config")
        return Plan(ref, repo, top_digest, config_bytes, list(manifest.layers), diff_ids, chain_ids(diff_ids))

    # -- fetching -------------------------------------------------------------

    def pull(self, plan: Plan) -> tuple[str, bool]:
        """Download, unpack and record ``plan``; return (image id, whether anything new was stored)."""
        image_id = "sha256:" + hashlib.sha256(plan.config_bytes).hexdigest()
        present = [self.images.layers.get(c) is not None for c in plan.chains]
        have_image = self.images.get(image_id) is not None and all(present)
        for desc, here in zip(plan.layers, present):
            self.progress.status("Already exists" if here else "Pulling fs layer", short(desc.digest))
        missing = [i for i, here in enumerate(present) if not here]
        locks = self._hold(plan.chains[i] for i in missing)
        work = self.tmp_root / f"pull-{os.getpid()}-{threading.get_ident()}-{short(image_id)}"
        prepared: list[PreparedLayer] = []
        try:
            # another pull may have stored them while we waited
            present = [self.images.layers.get(c) is not None for c in plan.chains]
            missing = [i for i, here in enumerate(present) if not here]
            if missing:
                work.mkdir(parents=True, exist_ok=True)
                prepared = self._fetch_and_unpack(plan, missing, work)
            top = plan.chains[-1] if plan.chains else None
            tags = [plan.ref] if plan.ref.tag and not plan.ref.digest else []
            digest_ref = reference.Reference(plan.ref.domain, plan.ref.path, None, plan.manifest_digest)

            def blob_records(conn) -> None:
                for desc, diff_id in zip(plan.layers, plan.diff_ids):
                    distmeta.add(conn, distmeta.BlobRecord(desc.digest, diff_id, plan.ref.domain, plan.ref.path,
                                                           desc.media_type, desc.size))

            tag_moved = any(self._tag_target(t) != image_id for t in tags)
            image_id, _ = self.images.add_pulled(plan.config_bytes, top, prepared, tags, [digest_ref], blob_records)
            prepared = []
        finally:
            for p in prepared:  # not recorded: discard
                self.images.layers.abort(p)
            shutil.rmtree(work, ignore_errors=True)
            for lock in locks:
                lock.release()
        return image_id, not have_image or tag_moved

    def _tag_target(self, ref: reference.Reference) -> str | None:
        row = self.images.db.query_one("SELECT image_id FROM tags WHERE repo = ? AND tag = ?", (ref.name, ref.tag))
        return row["image_id"] if row else None

    @staticmethod
    def _hold(chains) -> list[threading.Lock]:
        held = []
        for chain in sorted(set(chains)):
            with _busy_lock:
                lock = _busy.setdefault(chain, threading.Lock())
            lock.acquire()
            held.append(lock)
        return held

    def _fetch_and_unpack(self, plan: Plan, missing: list[int], work: Path) -> list[PreparedLayer]:
        files = {i: GrowingFile(work / f"{i}.blob") for i in missing}
        cancel = threading.Event()
        #: the first real failure: what the user is told (the other downloads only stop because of it)
        first: list[BaseException] = []

        def download(i: int) -> None:
            desc = plan.layers[i]
            sid = short(desc.digest)
            growing = files[i]
            try:
                if cancel.is_set():
                    raise PullCancelled("pull cancelled")
                def report(n: int) -> None:
                    if cancel.is_set():  # another layer failed: stop this download too
                        raise PullCancelled("pull cancelled")
                    self.progress.bytes("Downloading", sid, n, desc.size)

                with growing.writer() as fh:
                    plan.repo.fetch_blob(desc.digest, fh, desc.size, progress=report)
                self.progress.status("Verifying Checksum", sid)
                self.progress.status("Download complete", sid)
                growing.finish()
            except BaseException as exc:  # noqa: BLE001 - the first failure is raised by the pull itself
                if not isinstance(exc, PullCancelled):
                    with _busy_lock:
                        first.append(exc)
                growing.finish(exc)
                cancel.set()

        workers = max(1, int(self.cfg.max_concurrent_downloads or 3))
        for i in missing[workers:]:
            self.progress.status("Waiting", short(plan.layers[i].digest))
        prepared: list[PreparedLayer] = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pull") as pool:
            for i in missing:
                pool.submit(download, i)
            try:
                parent: str | PreparedLayer | None = None
                for i in range(len(plan.layers)):
                    if i not in files:
                        parent = plan.chains[i]
                        continue
                    parent = self._unpack(plan, i, files[i], parent)
                    prepared.append(parent)
                    files[i].path.unlink(missing_ok=True)
            except BaseException as exc:
                cancel.set()
                for f in files.values():
                    f.abandon()
                for p in prepared:
                    self.images.layers.abort(p)
                if isinstance(exc, PullCancelled) and first:
                    raise first[0] from None
                raise
        return prepared

    def _unpack(self, plan: Plan, i: int, growing: "GrowingFile", parent) -> PreparedLayer:
        desc = plan.layers[i]
        sid = short(desc.digest)
        with growing.reader(lambda n: self.progress.bytes("Extracting", sid, n, desc.size)) as reader:
            layer = self.images.layers.apply(reader, parent, expected_diff_id=plan.diff_ids[i])
        self.progress.status("Pull complete", sid)
        return layer


class PullCancelled(InvalidParameter):
    """Another layer failed; this download or unpack stopped because of it."""


class GrowingFile:
    """A blob file one thread downloads while another reads it.

    The reader blocks at the current end of the file until more arrives or
    the download finishes; a download that failed (digest mismatch,
    truncated, registry gone) makes the reader raise that error, so a layer
    unpacked from a bad blob is aborted, never recorded.
    """

    def __init__(self, path: Path):
        self.path = path
        self._cond = threading.Condition()
        self._done = False
        self._error: BaseException | None = None
        self._abandoned = False
        path.touch()

    def writer(self):
        return _NotifyingWriter(open(self.path, "r+b", buffering=0), self._cond)

    def finish(self, error: BaseException | None = None) -> None:
        with self._cond:
            self._done, self._error = True, error
            self._cond.notify_all()

    def abandon(self) -> None:
        """The puller gave up: a reader still waiting stops."""
        with self._cond:
            self._abandoned = True
            self._cond.notify_all()

    def reader(self, report) -> "_GrowingReader":
        return _GrowingReader(self, report)


class _NotifyingWriter:
    def __init__(self, raw, cond: threading.Condition):
        self._raw = raw
        self._cond = cond

    def write(self, data) -> int:
        n = self._raw.write(data)
        with self._cond:
            self._cond.notify_all()
        return n

    def __getattr__(self, name):  # seek/read/truncate for a resumed fetch
        return getattr(self._raw, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._raw.close()


class _GrowingReader(io.RawIOBase):
    def __init__(self, growing: GrowingFile, report):
        self._g = growing
        self._raw = open(growing.path, "rb", buffering=0)
        self._report = report
        self._n = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while True:
            n = self._raw.readinto(b)
            if n:
                self._n += n
                self._report(self._n)
                return n
            g = self._g
            with g._cond:
                if g._abandoned:
                    raise PullCancelled("pull cancelled")
                if g._done:
                    if g._error is not None:
                        raise g._error
                    n = self._raw.readinto(b)  # the last bytes may have come with the notice
                    if n:
                        self._n += n
                        return n
                    return 0
                g._cond.wait(1.0)

    def close(self) -> None:
        self._raw.close()
        super().close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
