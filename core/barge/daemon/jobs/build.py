"""Build jobs: ``build`` (``POST /build``), ``build_prune`` and ``build_cancel``.

``build`` reads the context from its stdin, writes the JSON stream to its
stdout and stops when the client goes (``job.cancelled``). Base images a
build does not have are pulled through the ``pull`` job, with the
credentials ``X-Registry-Config`` gave for their registry.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

from barge import reference
from barge.contracts.build import BuildArgs, BuildCancelArgs, BuildPruneArgs
from barge.contracts.registry import PullArgs

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services
    from barge.engine import Engine

#: The keys the docker CLI files Docker Hub's credentials under.
HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


def auth_header(configs: dict[str, dict], image: str) -> str:
    """The ``X-Registry-Auth`` of ``image``'s registry, from ``X-Registry-Config``'s entries."""
    try:
        domain = reference.parse(image).domain
    except Exception:  # noqa: BLE001 - a bad name fails in the pull itself, with its own message
        return ""
    keys = HUB_KEYS if domain == reference.DEFAULT_DOMAIN else (domain, f"https://{domain}", f"http://{domain}")
    for key, config in configs.items():
        bare = key.rstrip("/")
        if key in keys or bare in keys or bare.split("://", 1)[-1].split("/", 1)[0] == domain:
            return base64.urlsafe_b64encode(json.dumps(config).encode()).decode()
    return ""


def register(engine: "Engine", services: "Services") -> None:
    builder = services.builder

    def build(job) -> str:
        args: BuildArgs = job.args

        def pull(image: str, platform: str, out) -> None:
            ref = reference.parse(image).with_default_tag()  # one tag (latest by default), never every tag
            pull_args = PullArgs(image=ref.name, tag=ref.digest or ref.tag or "", platform=platform,
                                 auth=auth_header(args.auth_configs, image))
            engine.call("pull", pull_args, stdout=out)

        return builder.build(args, job.stdin, job.stdout, job.cancelled, pull)

    engine.register("build", BuildArgs, build)
    engine.register("build_prune", BuildPruneArgs, lambda job: builder.prune())
    engine.register("build_cancel", BuildCancelArgs, lambda job: builder.cancel(job.args.build_id))
