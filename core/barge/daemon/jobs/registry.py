"""Registry jobs: ``pull``, ``push``, ``search``, ``auth`` (Docker's jobs of the same names).

Routes hand over the raw ``X-Registry-Auth`` header; the jobs decode it
(:class:`barge.registry.auth.AuthConfig`). ``pull`` and ``push`` write
Docker's JSON progress messages to the job's stdout as they go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services
    from barge.engine import Engine


@dataclass
class PullArgs:
    #: ``fromImage`` as the client sent it (``docker.io/library/busybox``, ``127.0.0.1:5000/x``)
    image: str = ""
    #: ``tag``: a tag, or a digest (``sha256:...``); "" with no tag in ``image`` pulls every tag (``-a``)
    tag: str = ""
    platform: str = ""
    #: the raw ``X-Registry-Auth`` header
    auth: str = ""


@dataclass
class PushArgs:
    name: str = ""
    tag: str = ""
    auth: str = ""
    platform: str = ""


@dataclass
class SearchArgs:
    term: str = ""
    limit: int = 25
    filters: str | None = None
    auth: str = ""


@dataclass
class LoginArgs:
    body: dict[str, Any] = field(default_factory=dict)


def register(engine: "Engine", services: "Services") -> None:
    from barge.registry import jobs

    jobs.clean_leftovers(services)
    engine.register("pull", PullArgs, lambda job: jobs.pull(services, job))
    engine.register("push", PushArgs, lambda job: jobs.push(services, job))
    engine.register("search", SearchArgs, lambda job: jobs.search(services, job.args))
    engine.register("auth", LoginArgs, lambda job: jobs.login(services, job.args))
