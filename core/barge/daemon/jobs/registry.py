"""Registry jobs: ``pull``, ``push``, ``search``, ``auth`` (Docker's jobs of the same names).

Thin: they read the job's arguments, pick the registry's endpoints from
the daemon's ``[registry]`` settings, and hand over to
:mod:`barge.registry.pull`, :mod:`barge.registry.push` and the registry
client. Routes hand over the raw ``X-Registry-Auth`` header; the jobs
decode it (:class:`barge.registry.auth.AuthConfig`). ``pull`` and ``push``
write Docker's JSON progress messages to the job's stdout as they go
(``Pulling from``, ``Digest:``, ``Status: Downloaded newer image for``...).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from barge import reference
from barge.contracts.registry import DistributionArgs, LoginArgs, PullArgs, PushArgs, SearchArgs
from barge.errors import InvalidParameter
from barge.filters import parse_filters
from barge.registry.auth import AuthConfig
from barge.registry.endpoints import RegistryConfig, endpoints_for
from barge.registry.progress import Progress

if TYPE_CHECKING:  # pragma: no cover
    from barge.config import DaemonConfig
    from barge.daemon.services import Services
    from barge.engine import Engine
    from barge.graph.store import ImageStore

log = logging.getLogger("barge.registry")

SEARCH_FILTERS = frozenset({"is-official", "is-automated", "stars"})


def register(engine: "Engine", services: "Services") -> None:
    cfg, images = services.config, services.images
    engine.register("pull", PullArgs, lambda job: pull(cfg, images, job))
    engine.register("push", PushArgs, lambda job: push(cfg, images, job))
    engine.register("search", SearchArgs, lambda job: search(cfg, job.args))
    engine.register("auth", LoginArgs, lambda job: login(cfg, job.args))
    engine.register("distribution_inspect", DistributionArgs, lambda job: distribution(cfg, job.args))


def registry_config(cfg: "DaemonConfig") -> RegistryConfig:
    s = cfg.registry
    return RegistryConfig(insecure_registries=list(s.insecure_registries), mirrors=list(s.registry_mirrors),
                          max_concurrent_downloads=s.max_concurrent_downloads,
                          max_concurrent_uploads=s.max_concurrent_uploads)


def tmp_root(data_root: Path | str) -> Path:
    return Path(data_root) / "tmp"


def clean_leftovers(data_root: Path | str) -> None:
    """Temporary pull/push files a killed daemon left behind (call before serving)."""
    root = tmp_root(data_root)
    if root.is_dir():
        for entry in root.iterdir():
            if entry.name.startswith(("pull-", "push-")):
                shutil.rmtree(entry, ignore_errors=True)


def pull_reference(image: str, tag: str) -> tuple[reference.Reference, bool]:
    """``fromImage`` + ``tag`` -> (reference, all tags?), as moby's ``postImagesCreate``."""
    ref = reference.parse(image)
    if tag:
        if tag.startswith("sha256:") or ":" in tag:
            ref = reference.parse(f"{ref.name}@{tag}")
        else:
            ref = reference.parse(f"{ref.name}:{tag}")
    return ref, ref.tag is None and ref.digest is None


def pull(cfg: "DaemonConfig", images: "ImageStore", job) -> None:
    from barge.registry.pull import Puller

    args = job.args
    ref, all_tags = pull_reference(args.image, args.tag)
    auth = AuthConfig.from_header(args.auth)
    progress = Progress(job.stdout)
    tmp = tmp_root(cfg.data_root)
    tmp.mkdir(parents=True, exist_ok=True)
    puller = Puller(images, registry_config(cfg), tmp, progress)
    if all_tags:
        from barge.registry.client import Repository, first_answering

        tags = sorted(first_answering(endpoints_for(ref.domain, puller.cfg), lambda ep: Repository(
            ep, ref.path, auth, ("pull",), puller.cfg, display=ref.familiar_name).tags()))
        refs = [reference.Reference(ref.domain, ref.path, t, None) for t in tags]
        progress.status(f"Pulling from {ref.path}")
    else:
        refs = [ref]
    newer = False
    for r in refs:
        plan = puller.resolve(r, auth, args.platform)  # before any output: its errors are the daemon's answer
        progress.header(f"Pulling from {r.path}", r.tag or r.digest)
        _, new = puller.pull(plan)
        newer = newer or new
        progress.status(f"Digest: {plan.manifest_digest}")
    shown = reference.Reference(ref.domain, ref.path, None, None).familiar() if all_tags else ref.familiar()
    images.event("pull", shown, shown)  # one per request, new or not, named as asked (dockerd's)
    if newer:
        progress.status(f"Status: Downloaded newer image for {shown}")
    else:
        progress.status(f"Status: Image is up to date for {shown}")


def push(cfg: "DaemonConfig", images: "ImageStore", job) -> None:
    from barge.registry.push import Pusher

    args = job.args
    ref = reference.parse(args.name)
    if ref.digest:
        raise InvalidParameter("cannot push a digest reference")
    auth = AuthConfig.from_header(args.auth)
    progress = Progress(job.stdout)
    tmp = tmp_root(cfg.data_root)
    tmp.mkdir(parents=True, exist_ok=True)
    pusher = Pusher(images, registry_config(cfg), tmp, progress)
    tag = args.tag or ref.tag or ""
    pusher.push(ref, tag, auth, args.platform)
    asked = reference.Reference(ref.domain, ref.path, tag or None, None).familiar()
    images.event("push", asked, asked)  # one per request, named as asked (dockerd's)


def search(cfg: "DaemonConfig", args: SearchArgs) -> list[dict[str, Any]]:
    from barge.registry.client import first_answering
    from barge.registry.client import search as search_registry
    from barge.registry.endpoints import search_endpoints, split_search_term

    term = (args.term or "").strip()
    if not term:
        raise InvalidParameter("term is required")
    filters = parse_filters(args.filters, SEARCH_FILTERS)
    limit = int(args.limit or 25)
    if not 1 <= limit <= 100:
        raise InvalidParameter(f"limit {limit} is outside the range of [1, 100]")
    domain, query = split_search_term(term)
    rcfg = registry_config(cfg)
    auth = AuthConfig.from_header(args.auth)
    results = first_answering(search_endpoints(domain, rcfg),
                              lambda ep: search_registry(ep, query, limit, auth, rcfg))
    stars = 0
    for value in filters.get("stars", []):
        try:
            stars = int(value)
        except ValueError:
            raise InvalidParameter(f"invalid filter 'stars={value}'") from None
    out = []
    for r in results:
        if r.get("star_count", 0) < stars:
            continue
        if any(bool(r.get("is_official")) != (v.lower() == "true") for v in filters.get("is-official", [])):
            continue
        if any(bool(r.get("is_automated")) != (v.lower() == "true") for v in filters.get("is-automated", [])):
            continue
        out.append(r)
    return out[:limit]


def distribution(cfg: "DaemonConfig", args: DistributionArgs) -> dict[str, Any]:
    from barge.registry.inspect import distribution_inspect

    return distribution_inspect(registry_config(cfg), args.name, AuthConfig.from_header(args.auth))


def login(cfg: "DaemonConfig", args: LoginArgs) -> dict[str, Any]:
    from barge.registry.client import first_answering
    from barge.registry.client import login as login_registry

    auth = AuthConfig.from_json(args.body or {})
    server = auth.serveraddress or "https://index.docker.io/v1/"
    host = server.split("://", 1)[-1].rstrip("/").split("/", 1)[0]
    domain = reference.DEFAULT_DOMAIN if host in ("index.docker.io", "registry-1.docker.io", "docker.io") else host
    rcfg = registry_config(cfg)
    return first_answering(endpoints_for(domain, rcfg), lambda ep: login_registry(ep, auth, rcfg))
