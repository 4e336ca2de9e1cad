"""Jobs on a container's files: cp (stat, get, put), export, diff, and commit.

Streaming jobs write the tar to ``job.stdout`` from one thread, which holds
the container's root (a mount, or its running view) until the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from barge.containers.archive import ContainerFiles
from barge.containers.commit import CommitService

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services
    from barge.engine import Engine


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


def containers_of(services: "Services"):
    return services.containers


def register(engine: "Engine", services: "Services") -> None:
    containers = containers_of(services)
    files = services.extra.setdefault("files", ContainerFiles(containers))
    committer = services.extra.setdefault("commit", CommitService(containers, services.images))

    def commit(job) -> dict[str, str]:
        a = job.args
        image_id = committer.commit(a.container, repo=a.repo, tag=a.tag, comment=a.comment, author=a.author,
                                    pause=a.pause, changes=a.changes, config=a.config)
        return {"Id": image_id}

    # returns a barge.containers.archive.PathStat
    engine.register("container_archive_stat", PathArgs, lambda job: files.stat(job.args.ref, job.args.path))
    engine.register("container_archive_get", PathArgs,
                    lambda job: files.get_archive(job.args.ref, job.args.path, job.stdout))
    engine.register("container_archive_put", PutArchiveArgs, lambda job: files.put_archive(
        job.args.ref, job.args.path, job.stdin, job.args.no_overwrite_dir_non_dir, job.args.copy_uid_gid))
    engine.register("container_export", ContainerArgs, lambda job: files.export(job.args.ref, job.stdout))
    engine.register("container_changes", ContainerArgs, lambda job: files.changes(job.args.ref))
    engine.register("commit", CommitArgs, commit)
