"""Exec jobs: create, start, inspect, resize (``docker exec``).

An attached start is two jobs: ``exec_prepare`` (every check, so errors are
HTTP errors) before the API takes the connection over, ``exec_launch``
after its 101 went out. The process's output must not reach the client
together with the 101's headers: docker-py reads the stream from the raw
socket under its HTTP reader, so bytes that reader buffered would be lost.

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
class Prepared:
    instance: Any
    container: Any
    state_dir: str
    process: Any


@dataclass
class ExecLaunchArgs:
    prepared: Prepared | None = None


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

    def prepare(job) -> Prepared:
        """Checks and the process to run; the instance is claimed (it starts once)."""
        a = job.args
        return Prepared(*svc.prepare(a.exec_id, detach=a.detach, console_size=a.console_size))

    def launch(job) -> StartTicket:
        """Attached: connect to the monitor first (it holds us until the process exists), then run it."""
        p = job.args.prepared
        inst = p.instance
        try:
            sock = svc.connect(inst, p.state_dir, stdin=inst.attach_stdin, stdout=inst.attach_stdout,
                               stderr=inst.attach_stderr)
        except BaseException:
            inst.claimed = False
            raise
        try:
            svc.launch(inst, p.container, p.state_dir, p.process)
        except BargeError as exc:
            if getattr(exc, "exit_code", None) is None:
                sock.close()
                raise
            return StartTicket(inst, p.container, sock, str(exc))
        except BaseException:
            sock.close()
            raise
        return StartTicket(inst, p.container, sock)

    def start_detached(job) -> None:
        """A watcher connection (no streams) first, then the process; the watcher records the exit."""
        p = prepare(job)
        inst = p.instance
        try:
            sock = svc.connect(inst, p.state_dir, stdin=False, stdout=False, stderr=False)
        except BaseException:
            inst.claimed = False
            raise
        try:
            svc.launch(inst, p.container, p.state_dir, p.process)
        except BaseException:
            sock.close()
            raise
        svc.watch(inst, sock)

    engine.register("exec_create", ExecCreateArgs, lambda job: svc.create(job.args.ref, job.args.body))
    engine.register("exec_start_detached", ExecStartArgs, start_detached)
    # attached starts: prepare (errors before the stream), then launch once the stream is taken over
    engine.register("exec_prepare", ExecStartArgs, prepare)
    engine.register("exec_launch", ExecLaunchArgs, launch)
    engine.register("exec_inspect", ExecIdArgs, lambda job: svc.inspect(job.args.exec_id))
    engine.register("exec_resize", ExecResizeArgs,
                    lambda job: svc.resize(job.args.exec_id, job.args.height, job.args.width))
