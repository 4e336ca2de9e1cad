"""Jobs on a container's files: cp (stat, get, put), export, diff, and commit.

Streaming jobs write the tar to ``job.stdout`` from one thread, which holds
the container's root (a mount, or its running view) until the end. The
services are ``services.containers.files``
(:class:`barge.containers.archive.ContainerFiles`) and
``services.containers.commits`` (:class:`barge.containers.commit.CommitService`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from barge.contracts.archive import CommitArgs, ContainerArgs, PathArgs, PutArchiveArgs

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services
    from barge.engine import Engine


def register(engine: "Engine", services: "Services") -> None:
    files = services.containers.files
    committer = services.containers.commits

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
