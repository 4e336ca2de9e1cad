"""Arguments of the registry jobs: pull, push, search, auth.

Shared by the API routes (which build them) and the job handlers in
:mod:`barge.daemon.jobs` (which take them): neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
class DistributionArgs:
    #: ``GET /distribution/{name}/json``: the image reference and the raw ``X-Registry-Auth`` header
    name: str = ""
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
