"""Exec jobs: create, start, inspect, resize (``docker exec``).

:func:`register` creates the :class:`barge.containers.exec.ExecService`,
registers it with the plugin manager (it forgets a removed container's
instances on ``destroy``) and gives the container service its ``ExecIDs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from barge.containers.exec import ExecService
from barge.errors import BargeError

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services
    from barge.engine import Engine


@dataclass
class ExecCreateArgs:
    ref: str = ""
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExecStartArgs:
    exec_id: str = ""
    detach: bool = False
    console_size: list[int] | None = None


@dataclass
class ExecIdArgs:
    exec_id: str = ""


@dataclass
class ExecResizeArgs:
    exec_id: str = ""
    height: int = 0
    width: int = 0


@dataclass
class StartTicket:
    """What an attached start hands the API: the instance, its container and a connected monitor socket.

    ``error`` is Docker's message when the command could not be run (the
    exit code, 126 or 127, is recorded already); the socket then only
    carries the exit.
    """

    instance: Any
    container: Any
    sock: Any
    error: str = ""


def containers_of(services: "Services"):
    return services.containers


def register(engine: "Engine", services: "Services") -> None:
    svc = services.extra.get("exec")
    if svc is None:
        svc = ExecService(containers_of(services))
        services.pm.register(svc, name="barge-exec")
        services.extra["exec"] = svc
        svc.svc.exec_ids = svc.ids_for

    def start(job) -> StartTicket | None:
        """Attached: connect to the monitor first, then run; detached: a watcher records the exit."""
        a = job.args
        inst, c, state_dir, process = svc.prepare(a.exec_id, detach=a.detach, console_size=a.console_size)
        try:
            if a.detach:
                sock = svc.connect(inst, state_dir, stdin=False, stdout=False, stderr=False)
            else:
                sock = svc.connect(inst, state_dir, stdin=inst.attach_stdin, stdout=inst.attach_stdout,
                                   stderr=inst.attach_stderr)
        except BaseException:
            inst.claimed = False
            raise
        try:
            svc.launch(inst, c, state_dir, process)
        except BargeError as exc:
            if getattr(exc, "exit_code", None) is None or a.detach:
                sock.close()
                raise
            return StartTicket(inst, c, sock, str(exc))
        except BaseException:
            sock.close()
            raise
        if a.detach:
            svc.watch(inst, sock)
            return None
        return StartTicket(inst, c, sock)

    engine.register("exec_create", ExecCreateArgs, lambda job: svc.create(job.args.ref, job.args.body))
    # returns a StartTicket (attached) or None (detached)
    engine.register("exec_start", ExecStartArgs, start)
    engine.register("exec_inspect", ExecIdArgs, lambda job: svc.inspect(job.args.exec_id))
    engine.register("exec_resize", ExecResizeArgs,
                    lambda job: svc.resize(job.args.exec_id, job.args.height, job.args.width))
