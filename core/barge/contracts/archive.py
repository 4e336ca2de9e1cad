"""Arguments of the file jobs: archive stat/get/put, export, changes, commit.

Shared by the API routes (which build them) and the job handlers in
:mod:`barge.daemon.jobs` (which take them): neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The header carrying a path's stat (base64 JSON) on HEAD and GET of an archive.
PATH_STAT_HEADER = "X-Docker-Container-Path-Stat"


@dataclass
class PathArgs:
    ref: str = ""
    path: str = ""


@dataclass
class PutArchiveArgs:
    ref: str = ""
    path: str = ""
    no_overwrite_dir_non_dir: bool = False
    copy_uid_gid: bool = False


@dataclass
class ContainerArgs:
    ref: str = ""


@dataclass
class CommitArgs:
    container: str = ""
    repo: str = ""
    tag: str = ""
    comment: str = ""
    author: str = ""
    pause: bool = True
    changes: list[str] = field(default_factory=list)
    config: dict[str, Any] | None = None
