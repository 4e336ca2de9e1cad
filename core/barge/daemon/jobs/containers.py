"""Container jobs: typed arguments, each handler one call into a part of the container service.

The API's container routes run these; so can tests and extension code. The
service is ``services.containers`` (a
:class:`barge.containers.service.ContainerService`); ``attach`` and ``logs``
return session handles (:class:`barge.contracts.containers.AttachSession`,
:class:`barge.contracts.containers.LogSession`) the route drives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from barge.containers import filters as filters_mod
from barge.contracts.containers import (
    AttachArgs,
    CreateArgs,
    InspectArgs,
    KillArgs,
    ListArgs,
    LogsArgs,
    PruneArgs,
    RefArgs,
    RemoveArgs,
    RenameArgs,
    ResizeArgs,
    StopArgs,
    TopArgs,
    UpdateArgs,
    WaitArgs,
)

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services
    from barge.engine import Engine


def register(engine: "Engine", services: "Services") -> None:
    svc = services.containers
    life, removal, queries = svc.lifecycle, svc.removal, svc.queries

    def listing(job) -> list[dict[str, Any]]:
        a = job.args
        query = filters_mod.ListQuery(all=a.all, limit=a.limit, filters=filters_mod.parse(a.filters))
        return queries.list(query, size=a.size)

    engine.register("container_create", CreateArgs, lambda job: svc.creator.create(job.args.body, job.args.name))
    engine.register("container_start", RefArgs, lambda job: life.start(job.args.ref))
    engine.register("container_stop", StopArgs, lambda job: life.stop(job.args.ref, job.args.timeout, job.args.signal))
    engine.register("container_restart", StopArgs,
                    lambda job: life.restart(job.args.ref, job.args.timeout, job.args.signal))
    engine.register("container_kill", KillArgs, lambda job: life.kill(job.args.ref, job.args.signal))
    engine.register("container_pause", RefArgs, lambda job: life.pause(job.args.ref))
    engine.register("container_unpause", RefArgs, lambda job: life.unpause(job.args.ref))
    engine.register("container_remove", RemoveArgs,
                    lambda job: removal.remove(job.args.ref, job.args.force, job.args.volumes, job.args.link))
    # returns a concurrent.futures.Future of (StatusCode, error): the API awaits it without a thread
    engine.register("container_wait", WaitArgs, lambda job: svc.supervisor.wait(job.args.ref, job.args.condition))
    # returns an AttachSession whose future is a socket connected to the container's monitor
    engine.register("container_attach", AttachArgs, lambda job: svc.attachments.attach(
        job.args.ref, stream=job.args.stream, stdin=job.args.stdin, stdout=job.args.stdout,
        stderr=job.args.stderr, detach_keys=job.args.detach_keys))
    # returns a LogSession
    engine.register("container_logs", LogsArgs, lambda job: queries.logs(job.args.ref, job.args.options))
    engine.register("container_list", ListArgs, listing)
    engine.register("container_prune", PruneArgs,
                    lambda job: removal.prune(filters_mod.parse(job.args.filters, filters_mod.PRUNE_FILTERS)))
    engine.register("container_inspect", InspectArgs, lambda job: queries.inspect(job.args.ref, job.args.size))
    engine.register("container_rename", RenameArgs, lambda job: life.rename(job.args.ref, job.args.name))
    engine.register("container_update", UpdateArgs, lambda job: life.update(job.args.ref, job.args.body))
    engine.register("container_top", TopArgs, lambda job: queries.top(job.args.ref, job.args.ps_args))
    # returns (container, sample function)
    engine.register("container_stats", RefArgs, lambda job: queries.stats(job.args.ref))
    engine.register("container_resize", ResizeArgs,
                    lambda job: svc.attachments.resize(job.args.ref, job.args.height, job.args.width))
