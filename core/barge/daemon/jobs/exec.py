"""Exec jobs: create, start, inspect, resize (``docker exec``).

An attached start is two jobs: ``exec_prepare`` (every check, so errors are
HTTP errors) before the API takes the connection over, ``exec_launch``
after its 101 went out; it returns an
:class:`barge.contracts.exec.ExecSession` whose ``finished`` and ``follow``
the route calls. The process's output must not reach the client together
with the 101's headers: docker-py reads the stream from the raw socket
under its HTTP reader, so bytes that reader buffered would be lost.

The service is ``services.containers.execs`` (a
:class:`barge.containers.exec.ExecService`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from barge.contracts.exec import ExecCreateArgs, ExecIdArgs, ExecLaunchArgs, ExecResizeArgs, ExecStartArgs

if TYPE_CHECKING:  # pragma: no cover
    from barge.containers.exec import PreparedStart
    from barge.daemon.services import Services
    from barge.engine import Engine


def register(engine: "Engine", services: "Services") -> None:
    svc = services.containers.execs

    def prepare(job) -> "PreparedStart":
        """Checks and the process to run; the instance is claimed (it starts once)."""
        a = job.args
        return svc.prepare(a.exec_id, detach=a.detach, console_size=a.console_size)

    engine.register("exec_create", ExecCreateArgs, lambda job: svc.create(job.args.ref, job.args.body))
    engine.register("exec_start_detached", ExecStartArgs, lambda job: svc.start_detached(prepare(job)))
    # attached starts: prepare (errors before the stream), then launch once the stream is taken over
    engine.register("exec_prepare", ExecStartArgs, prepare)
    engine.register("exec_launch", ExecLaunchArgs, lambda job: svc.start_attached(job.args.prepared))
    engine.register("exec_inspect", ExecIdArgs, lambda job: svc.inspect(job.args.exec_id))
    engine.register("exec_resize", ExecResizeArgs,
                    lambda job: svc.resize(job.args.exec_id, job.args.height, job.args.width))
