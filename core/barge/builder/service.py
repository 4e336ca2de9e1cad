"""The build service: ``POST /build`` from the context to the tagged image, and its clean-up.

A build works in a private directory under the data root's ``tmp``
(``build-*``: the context, downloads, mount points), removed when it ends
and, after a crash, at the next start with the step containers the journal
names. Tags are checked before anything runs and moved only when the
build succeeded (moby's ``Tagger``).
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from barge import reference
from barge.builder.build import Build, Pull
from barge.builder.context import receive
from barge.builder.journal import BuildJournal
from barge.builder.output import BuildOutput
from barge.builder.steps import StepRunner, short_id
from barge.errors import BargeError, InvalidParameter

if TYPE_CHECKING:  # pragma: no cover
    from barge.containers.service import ContainerService
    from barge.contracts.build import BuildArgs
    from barge.graph.store import ImageStore

log = logging.getLogger("barge.builder")

SCRATCH_PREFIX = "build-"


def build_tags(names: list[str]) -> list[reference.Reference]:
    """moby's ``sanitizeRepoAndTags``: parsed, ``latest`` added, no digest, duplicates dropped."""
    out: list[reference.Reference] = []
    for name in names:
        if not name:
            continue
        ref = reference.parse(name)
        if ref.digest:
            raise InvalidParameter("build tag cannot contain a digest")
        ref = ref.with_default_tag()
        if ref not in out:
            out.append(ref)
    return out


class BuildService:
    def __init__(self, images: "ImageStore", containers: "ContainerService", pm, journal: BuildJournal,
                 tmp_dir: Path):
        self.images = images
        self.containers = containers
        self.pm = pm
        self.journal = journal
        self.tmp_dir = tmp_dir
        self._running: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def recover(self) -> dict[str, int]:
        """Before serving: step containers and work directories a killed daemon left behind."""
        removed = 0
        for cid in self.journal.leftovers():
            try:
                self.containers.removal.remove(cid, force=True, volumes=True)
                removed += 1
            except BargeError as exc:
                if getattr(exc, "status", 0) != 404:
                    log.warning("removing build container %s left by a killed daemon failed: %s", cid[:12], exc)
                    continue
            self.journal.drop(cid)
        dirs = 0
        if self.tmp_dir.is_dir():
            for entry in self.tmp_dir.iterdir():
                if entry.name.startswith(SCRATCH_PREFIX):
                    shutil.rmtree(entry, ignore_errors=True)
                    dirs += 1
        return {"containers": removed, "directories": dirs}

    def build(self, options: "BuildArgs", stdin: BinaryIO, stdout, cancelled: threading.Event, pull: Pull) -> str:
        """The build's JSON stream to ``stdout``; returns the image id. ``pull`` fetches missing base images
        (with the request's registry credentials)."""
        out = BuildOutput(stdout, quiet=options.quiet, want_aux=options.want_aux)
        tags = build_tags(options.tags)
        if options.build_id:
            with self._lock:
                self._running[options.build_id] = cancelled
        scratch = self.tmp_dir / f"{SCRATCH_PREFIX}{secrets.token_hex(8)}"
        scratch.mkdir(parents=True, mode=0o700)
        try:
            context = receive(stdin, options.dockerfile, options.remote, scratch, progress=out.progress,
                              cancel=cancelled)
            for warning in context.dockerfile.warnings:
                out.stdout(warning)
            runner = StepRunner(self.containers, self.images, self.pm, self.journal, out, options, cancelled)
            build = Build(options=options, context=context, images=self.images, containers=self.containers,
                          runner=runner, out=out, pull=pull, tmp_dir=scratch / "tmp", cancelled=cancelled)
            try:
                image_id = build.run()
            finally:
                if options.force_remove or cancelled.is_set():
                    runner.remove_all()
                for cid in runner.temporary:  # a failed step's container stays, as dockerd keeps it
                    self.journal.drop(cid)
            out.stdout(f"Successfully built {short_id(image_id)}\n")
            for ref in tags:
                self.images.tag(image_id, ref.name, ref.tag)
                out.stdout(f"Successfully tagged {ref.familiar()}\n")
            out.result(image_id)
            return image_id
        except BaseException:
            out.release_held()
            raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            if options.build_id:
                with self._lock:
                    self._running.pop(options.build_id, None)

    def cancel(self, build_id: str) -> None:
        """``POST /build/cancel``: a running build with that ``buildid`` stops (unknown ids: nothing)."""
        with self._lock:
            event = self._running.get(build_id)
        if event is not None:
            event.set()

    def prune(self) -> dict[str, Any]:
        """``POST /build/prune``: the classic builder keeps no cache apart from images; nothing to free."""
        return {"CachesDeleted": None, "SpaceReclaimed": 0}
