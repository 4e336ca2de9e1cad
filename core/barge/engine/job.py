"""Jobs: the unit of work the daemon runs, named, with typed arguments.

A job is like a UNIX process: a name, arguments, an environment, stdin,
stdout and stderr, and a status when it ends. API routes and tests run jobs;
nothing else reaches into the daemon's services. Arguments are dataclasses,
not string maps (moby dropped its untyped Engine/Job layer for that reason).

Handlers are synchronous, as pluggy and the drivers are; the API server runs
them in worker threads.
"""

from __future__ import annotations

import enum
import io
import logging
import threading
from dataclasses import dataclass, field, is_dataclass
from typing import Any, BinaryIO, Callable, Mapping, Protocol

from barge.errors import BargeError, NoSpace, NotFound, is_no_space

log = logging.getLogger(__name__)


class Writer(Protocol):
    def write(self, data: bytes) -> Any: ...


class JobStatus(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


@dataclass
class Job:
    """One run of a handler. ``result`` holds what the handler returned."""

    name: str
    args: Any
    env: Mapping[str, str] = field(default_factory=dict)
    stdin: BinaryIO = field(default_factory=lambda: io.BytesIO(b""))
    stdout: Writer = field(default_factory=_Discard)
    stderr: Writer = field(default_factory=_Discard)
    status: JobStatus = JobStatus.PENDING
    result: Any = None
    error: BaseException | None = None
    #: Set when the client went away (or asked to cancel): a long job stops at its next check.
    cancelled: threading.Event = field(default_factory=threading.Event)


Handler = Callable[[Job], Any]


@dataclass(frozen=True)
class _Registration:
    handler: Handler
    args_type: type


class Engine:
    """Handlers by job name, and the plugin manager they dispatch hooks through."""

    def __init__(self, pm=None):
        self.pm = pm
        self._handlers: dict[str, _Registration] = {}
        self._lock = threading.Lock()

    def register(self, name: str, args_type: type, handler: Handler) -> None:
        if not is_dataclass(args_type):
            raise TypeError(f"job {name}: arguments must be a dataclass, not {args_type!r}")
        with self._lock:
            if name in self._handlers:
                raise ValueError(f"job {name} is already registered")
            self._handlers[name] = _Registration(handler, args_type)

    def handler(self, name: str, args_type: type) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`register`."""

        def decorate(fn: Handler) -> Handler:
            self.register(name, args_type, fn)
            return fn

        return decorate

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def job(self, name: str, args: Any = None, **streams: Any) -> Job:
        reg = self._handlers.get(name)
        if reg is None:
            raise NotFound(f"no such job: {name}")
        if args is None:
            args = reg.args_type()
        if not isinstance(args, reg.args_type):
            raise TypeError(f"job {name} takes {reg.args_type.__name__}, not {type(args).__name__}")
        return Job(name=name, args=args, **streams)

    def run(self, job: Job) -> Any:
        """Run ``job`` to its end; return its result or raise its error."""
        reg = self._handlers[job.name]
        job.status = JobStatus.RUNNING
        if self.pm is not None:
            self.pm.hook.barge_job_started(job=job)
        try:
            job.result = reg.handler(job)
            job.status = JobStatus.OK
            return job.result
        except BaseException as exc:
            job.status = JobStatus.FAILED
            if isinstance(exc, OSError) and is_no_space(exc):
                # A full disk no service named: say which job it stopped (never a bare 500).
                job.error = NoSpace.wrap(f"{job.name.replace('_', ' ')} failed", exc)
                log.debug("%s", job.error, exc_info=exc)
                raise job.error from exc
            job.error = exc
            raise
        finally:
            if self.pm is not None:
                self.pm.hook.barge_job_finished(job=job)

    def call(self, name: str, args: Any = None, **streams: Any) -> Any:
        """Create and run a job in one step."""
        return self.run(self.job(name, args, **streams))


__all__ = ["BargeError", "Engine", "Job", "JobStatus"]
