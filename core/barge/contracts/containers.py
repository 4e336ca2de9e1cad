"""Arguments of the container jobs, the log options a ``logs`` job takes, and the session
handles the long-lived ones return (attach, logs).

Shared by the API routes (which build them) and the job handlers in
:mod:`barge.daemon.jobs` (which take them): neither imports the other.
The handles are protocols: the container service implements them, the
routes only call them (from a worker thread where they block).
"""

from __future__ import annotations

import concurrent.futures
import json
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class LogOptions:
    stdout: bool = True
    stderr: bool = True
    tail: int = -1  # -1: all
    since: float = 0.0
    until: float = 0.0
    timestamps: bool = False


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
    link: bool = False  # remove the legacy link ``ref`` names (``/web/db``), not a container


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


class EncodedRows(list):
    """A list answer whose rows come JSON-encoded already (``parts[i]`` encodes ``self[i]`` as
    :func:`encode_row` does): ``ps`` encodes a row once while its container does not change."""

    def __init__(self, rows: list, parts: list[bytes]):
        super().__init__(rows)
        self.parts = parts

    def encoded(self) -> bytes:
        return b"[" + b",".join(self.parts) + b"]"


def encode_row(row: Any) -> bytes:
    """The API's compact JSON of one row (the encoding of ``barge.api.routing``'s list answers)."""
    return json.dumps(row, separators=(",", ":")).encode()


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


# ---------------------------------------------------------------------------
# session handles
# ---------------------------------------------------------------------------


class LogEntry(Protocol):
    """One line of a container's log."""

    @property
    def stream(self) -> str:
        """``stdout`` or ``stderr``."""

    @property
    def data(self) -> bytes:
        """The line as the process wrote it."""

    def render(self, timestamps: bool) -> bytes:
        """The line as ``logs`` sends it (with its RFC3339Nano time first when ``timestamps``)."""


class LogSession(Protocol):
    """What ``container_logs`` returns: the log read once, then (follow) the lines written later.

    ``initial``, ``poll`` and ``running`` read files and the records: call them off the event loop.
    """

    @property
    def tty(self) -> bool:
        """The container has a terminal: its log is sent raw, not multiplexed."""

    @property
    def done(self) -> bool:
        """A line past ``until`` was met: nothing more will come."""

    def initial(self) -> list[LogEntry]:
        """What the log holds now (tail, since, until applied); a follower goes on from its end."""

    def poll(self) -> list[LogEntry]:
        """The lines written since the last call."""

    def running(self) -> bool:
        """Whether the container still runs (a follower ends with it)."""

    def close(self) -> None:
        """Release the files (always, once)."""


class AttachSession(Protocol):
    """What ``container_attach`` returns: how to proxy the attach, and a future of its socket.

    The future gives a socket connected to the container's monitor (frames
    out, stdin in) once the container runs, or ``None`` when the start the
    attach waited for failed (or ``stream`` was not asked).
    """

    @property
    def tty(self) -> bool:
        """The container has a terminal: its output is raw, not multiplexed."""

    @property
    def stdin(self) -> bool:
        """The client's stdin goes to the process (asked for, and the container keeps stdin open)."""

    @property
    def close_stdin(self) -> bool:
        """The client's EOF on stdin closes the process's (StdinOnce, without a terminal)."""

    @property
    def future(self) -> concurrent.futures.Future[Any]:
        """The monitor socket, or ``None``."""

    def cancel(self) -> None:
        """The client went before the socket came: stop waiting, close a socket already there."""

    def replay(self, stdout: bool, stderr: bool) -> list[LogEntry]:
        """The container's log so far (``logs=1``); blocking."""

    def live(self) -> AbstractContextManager[None]:
        """Held while the client streams the output, so an exit lets it drain before cleanup."""

    def detached(self) -> None:
        """The client left with the detach keys: the container's ``detach`` event."""
