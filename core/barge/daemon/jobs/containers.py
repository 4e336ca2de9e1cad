"""Container jobs: typed arguments, each handler one call into the container service.

The API's container routes run these; so can tests and extension code. The
service is ``services.containers`` (a
:class:`barge.containers.service.ContainerService`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from barge.containers import filters as filters_mod
from barge.containers.logs import LogOptions

if TYPE_CHECKING:  # pragma: no cover
    from barge.containers.service import ContainerService
    from barge.daemon.services import Services
    from barge.engine import Engine


@dataclass
class CreateArgs:
    body: dict[str, Any] = field(default_factory=dict)
    name: str = ""


@dataclass
class RefArgs:
    ref: str = ""


@dataclass
class StopArgs:
    ref: str = ""
    timeout: int | None = None
    signal: str | None = None


@dataclass
class KillArgs:
    ref: str = ""
    signal: str | None = None


@dataclass
class RemoveArgs:
    ref: str = ""
    force: bool = False
    volumes: bool = False


@dataclass
class WaitArgs:
    ref: str = ""
    condition: str = "not-running"


@dataclass
class AttachArgs:
    ref: str = ""
    stream: bool = False
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    detach_keys: str | None = None


@dataclass
class LogsArgs:
    ref: str = ""
    options: LogOptions = field(default_factory=LogOptions)


@dataclass
class ListArgs:
    all: bool = False
    limit: int = -1
    size: bool = False
    filters: str | None = None


@dataclass
class PruneArgs:
    filters: str | None = None


@dataclass
class InspectArgs:
    ref: str = ""
    size: bool = False


@dataclass
class RenameArgs:
    ref: str = ""
    name: str = ""


@dataclass
class UpdateArgs:
    ref: str = ""
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class TopArgs:
    ref: str = ""
    ps_args: str = ""


@dataclass
class ResizeArgs:
    ref: str = ""
    height: int = 0
    width: int = 0


def register(engine: "Engine", services: "Services") -> None:
    svc: "ContainerService" = services.containers

    def listing(job) -> list[dict[str, Any]]:
        a = job.args
        query = filters_mod.ListQuery(all=a.all, limit=a.limit, filters=filters_mod.parse(a.filters))
        return svc.list(query, size=a.size)

    engine.register("container_create", CreateArgs, lambda job: svc.create(job.args.body, job.args.name))
    engine.register("container_start", RefArgs, lambda job: svc.start(job.args.ref))
    engine.register("container_stop", StopArgs, lambda job: svc.stop(job.args.ref, job.args.timeout, job.args.signal))
    engine.register("container_restart", StopArgs,
                    lambda job: svc.restart(job.args.ref, job.args.timeout, job.args.signal))
    engine.register("container_kill", KillArgs, lambda job: svc.kill(job.args.ref, job.args.signal))
    engine.register("container_pause", RefArgs, lambda job: svc.pause(job.args.ref))
    engine.register("container_unpause", RefArgs, lambda job: svc.unpause(job.args.ref))
    engine.register("container_remove", RemoveArgs,
                    lambda job: svc.remove(job.args.ref, job.args.force, job.args.volumes))
    # returns a concurrent.futures.Future of (StatusCode, error): the API awaits it without a thread
    engine.register("container_wait", WaitArgs, lambda job: svc.wait(job.args.ref, job.args.condition))
    # returns an AttachTicket whose future is a socket connected to the container's monitor
    engine.register("container_attach", AttachArgs, lambda job: svc.attach(
        job.args.ref, stream=job.args.stream, stdin=job.args.stdin, stdout=job.args.stdout,
        stderr=job.args.stderr, detach_keys=job.args.detach_keys))
    # returns (container, LogReader)
    engine.register("container_logs", LogsArgs, lambda job: svc.logs(job.args.ref, job.args.options))
    engine.register("container_list", ListArgs, listing)
    engine.register("container_prune", PruneArgs,
                    lambda job: svc.prune(filters_mod.parse(job.args.filters, filters_mod.PRUNE_FILTERS)))
    engine.register("container_inspect", InspectArgs, lambda job: svc.inspect(job.args.ref, job.args.size))
    engine.register("container_rename", RenameArgs, lambda job: svc.rename(job.args.ref, job.args.name))
    engine.register("container_update", UpdateArgs, lambda job: svc.update(job.args.ref, job.args.body))
    engine.register("container_top", TopArgs, lambda job: svc.top(job.args.ref, job.args.ps_args))
    # returns (container, sample function)
    engine.register("container_stats", RefArgs, lambda job: svc.stats(job.args.ref))
    engine.register("container_resize", ResizeArgs,
                    lambda job: svc.resize(job.args.ref, job.args.height, job.args.width))
