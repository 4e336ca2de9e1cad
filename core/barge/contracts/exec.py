"""Arguments and results of the exec jobs (create, prepare, launch, inspect, resize).

Shared by the API routes (which build them) and the job handlers in
:mod:`barge.daemon.jobs` (which take them): neither imports the other.
An attached start is two jobs: ``exec_prepare`` returns a
:class:`PreparedExec` (every check done, the instance claimed),
``exec_launch`` takes it and returns an :class:`ExecSession` streaming the
process; the exec service implements both protocols.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


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


class PreparedExec(Protocol):
    """An attached start checked and claimed: how to proxy it once the connection is taken over."""

    @property
    def tty(self) -> bool:
        """The exec has a terminal: its output is raw, not multiplexed."""

    @property
    def stdin(self) -> bool:
        """The client's stdin goes to the process."""

    @property
    def stdout(self) -> bool:
        """The process's stdout goes to the client."""

    @property
    def stderr(self) -> bool:
        """The process's stderr goes to the client."""

    @property
    def detach_keys(self) -> str:
        """The exec's detach keys ("": the default)."""

    def release(self) -> None:
        """The start did not happen (the connection could not be taken over): it may be started again."""


@dataclass
class ExecLaunchArgs:
    prepared: PreparedExec | None = None


class ExecSession(Protocol):
    """An attached start running: a socket connected to the container's monitor."""

    @property
    def sock(self) -> Any:
        """Frames out (the exit frame last), stdin in."""

    @property
    def error(self) -> str:
        """Docker's message when the command could not be run (its exit code, 126 or 127, is
        recorded already; the socket then only carries the exit); "" otherwise."""

    def finished(self, exit_code: int) -> None:
        """The exit frame came: record the exit code (before the client sees EOF); blocking."""

    def follow(self) -> None:
        """The client left before the exit: record it when it comes; blocking."""

    def detached(self) -> None:
        """The client left with the detach keys: the ``exec_detach`` event, then :meth:`follow`; blocking."""
