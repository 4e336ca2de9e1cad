"""A container's State, as Docker records it, and the strings ``ps`` shows.

``Status`` is derived from the flags exactly as moby's ``State.StateString``
does; ``Status`` in ``ps`` ("Up 3 seconds", "Exited (0) 2 seconds ago") is
moby's ``State.String`` with go-units' ``HumanDuration``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields

from barge.timefmt import parse_rfc3339, rfc3339_nano
from barge.units import human_duration

#: A record's keys the class takes, per class (:meth:`State.from_record`).
_FIELD_NAMES: dict[type, frozenset[str]] = {}

ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass
class State:
    Running: bool = False
    Paused: bool = False
    Restarting: bool = False
    OOMKilled: bool = False
    RemovalInProgress: bool = False
    Dead: bool = False
    Pid: int = 0
    ExitCode: int = 0
    Error: str = ""
    StartedAt: str = ZERO_TIME
    FinishedAt: str = ZERO_TIME
    #: ``docker stop`` (or a kill with the stop signal) happened: restart
    #: policies ``unless-stopped`` and daemon-start restarts leave it alone.
    HasBeenManuallyStopped: bool = False
    #: a container with a healthcheck: ``{"Status", "FailingStreak", "Log"}`` (moby's ``State.Health``)
    Health: dict | None = None

    @property
    def status(self) -> str:
        """moby's ``StateString``: running, paused, restarting, removing, dead, created, exited."""
        if self.Running:
            if self.Paused:
                return "paused"
            if self.Restarting:
                return "restarting"
            return "running"
        if self.RemovalInProgress:
            return "removing"
        if self.Dead:
            return "dead"
        if self.StartedAt == ZERO_TIME:
            return "created"
        return "exited"

    def to_inspect(self) -> dict:
        return {
            "Status": self.status,
            "Running": self.Running,
            "Paused": self.Paused,
            "Restarting": self.Restarting,
            "OOMKilled": self.OOMKilled,
            "Dead": self.Dead,
            "Pid": self.Pid,
            "ExitCode": self.ExitCode,
            "Error": self.Error,
            "StartedAt": self.StartedAt,
            "FinishedAt": self.FinishedAt,
            **({"Health": self.Health} if self.Health is not None else {}),
        }

    def to_record(self) -> dict:
        return asdict(self)

    @classmethod
    def from_record(cls, data: dict) -> "State":
        names = _FIELD_NAMES.get(cls)
        if names is None:  # once: dataclasses.fields() was a tenth of ``ps`` with a thousand containers
            names = _FIELD_NAMES[cls] = frozenset(f.name for f in fields(cls))
        return cls(**{k: v for k, v in (data or {}).items() if k in names})

    # -- transitions ------------------------------------------------------

    def set_running(self, pid: int, started_at: str | None = None) -> None:
        self.Running, self.Paused, self.Restarting, self.Dead = True, False, False, False
        self.OOMKilled, self.Error, self.ExitCode = False, "", 0
        self.Pid = pid
        self.StartedAt = started_at or rfc3339_nano()
        self.HasBeenManuallyStopped = False

    def set_stopped(self, exit_code: int, finished_at: str | None = None, oom: bool = False, error: str = "") -> None:
        self.Running = self.Paused = self.Restarting = False
        self.Pid = 0
        self.ExitCode = exit_code
        self.OOMKilled = oom
        self.Error = error
        self.FinishedAt = finished_at or rfc3339_nano()

    def set_restarting(self, exit_code: int, finished_at: str | None = None, oom: bool = False) -> None:
        """moby keeps Running true while a restart policy waits to start it again."""
        self.set_stopped(exit_code, finished_at, oom)
        self.Running = self.Restarting = True


def status_string(state: State, now: float | None = None) -> str:
    """moby's ``State.String``: what ``docker ps`` prints under STATUS."""
    now = time.time() if now is None else now
    if state.Running:
        if state.Paused:
            return f"Up {human_duration(now - parse_rfc3339(state.StartedAt))} (Paused)"
        if state.Restarting:
            return f"Restarting ({state.ExitCode}) {human_duration(now - parse_rfc3339(state.FinishedAt))} ago"
        health = (state.Health or {}).get("Status")
        if health:
            return f"Up {human_duration(now - parse_rfc3339(state.StartedAt))} " \
                   f"({'health: starting' if health == 'starting' else health})"
        return f"Up {human_duration(now - parse_rfc3339(state.StartedAt))}"
    if state.RemovalInProgress:
        return "Removal In Progress"
    if state.Dead:
        return "Dead"
    if state.StartedAt == ZERO_TIME:
        return "Created"
    if state.FinishedAt == ZERO_TIME:
        return ""
    return f"Exited ({state.ExitCode}) {human_duration(now - parse_rfc3339(state.FinishedAt))} ago"
