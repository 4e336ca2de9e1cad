"""Image jobs: list, inspect, history, tag, rmi, prune, import, save, load.

Each job takes a typed dataclass and calls the image store
(``services.images``); streaming jobs write Docker's JSON messages (or the
tar archive, for save) to ``job.stdout``.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from barge.contracts.images import (
    HistoryArgs,
    ImageInspectArgs,
    ImagePruneArgs,
    ImagesArgs,
    ImportArgs,
    LoadArgs,
    RmiArgs,
    SaveArgs,
    TagArgs,
)
from barge.contracts.messages import json_message
from barge.errors import InvalidParameter, NotFound
from barge.graph import saveload
from barge.graph.prune import prune_images


def register(engine, services) -> None:
    """Register the image jobs; handlers read ``services.images`` when they run. Long on purpose:
    one short handler per image job, each beside the others and registered together."""

    def store():
        if services.images is None:
            raise RuntimeError("the image store is not ready")
        return services.images

    def images(job) -> list[dict]:
        return store().list_images(all=job.args.all, filters=job.args.filters)

    def image_inspect(job) -> dict:
        return store().inspect(job.args.name)

    def history(job) -> list[dict]:
        return store().history(job.args.name)

    def tag(job) -> str:
        return store().tag(job.args.name, job.args.repo, job.args.tag or None).familiar()

    def rmi(job) -> list[dict]:
        return store().delete(job.args.name, force=job.args.force, prune=job.args.prune)

    def image_prune(job) -> dict:
        return prune_images(store(), job.args.filters)

    def import_(job) -> str:
        a: ImportArgs = job.args
        if a.src in ("", "-"):
            img = store().import_image(job.stdin, a.repo or None, a.tag or None, a.message, a.changes, src="-")
        else:
            url = a.src if "://" in a.src else "http://" + a.src
            scheme = urllib.parse.urlsplit(url).scheme
            if scheme not in ("http", "https"):
                raise InvalidParameter(f"fromSrc must be - or an http(s) URL, not {a.src}")
            job.stdout.write(json_message(status="Downloading from " + url))
            try:
                response = urllib.request.urlopen(url, timeout=60)
            except urllib.error.HTTPError as exc:
                raise NotFound(f"Get {url}: {exc.code} {exc.reason}") from None
            except (urllib.error.URLError, OSError) as exc:
                raise InvalidParameter(f"Get {url}: {getattr(exc, 'reason', exc)}") from None
            with response:
                img = store().import_image(response, a.repo or None, a.tag or None, a.message, a.changes, src=url)
        job.stdout.write(json_message(status=img.id))
        return img.id

    def save(job) -> None:
        saveload.save(store(), list(job.args.names), job.stdout)

    def load(job) -> list[str]:
        return saveload.load(store(), job.stdin, job.stdout, quiet=job.args.quiet)

    engine.register("images", ImagesArgs, images)
    engine.register("image_inspect", ImageInspectArgs, image_inspect)
    engine.register("history", HistoryArgs, history)
    engine.register("tag", TagArgs, tag)
    engine.register("rmi", RmiArgs, rmi)
    engine.register("image_prune", ImagePruneArgs, image_prune)
    engine.register("import", ImportArgs, import_)
    engine.register("save", SaveArgs, save)
    engine.register("load", LoadArgs, load)
