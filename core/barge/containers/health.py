"""Healthchecks: a container's ``Healthcheck`` probed as dockerd probes it (moby's ``daemon/health.go``).

While a container with a healthcheck runs, its probe runs every interval
(``StartInterval`` during the start period) as an exec of the container,
with its timeout; the result goes into ``State.Health``: ``starting`` until
a probe passes, ``healthy`` after one, ``unhealthy`` after ``Retries``
failures in a row (failures in the start period do not count while
starting), the last five probes kept with 4 KB of their output each. A
change of status is the event ``health_status: <status>``; ``ps`` shows it
and filters by it. Probes run in the daemon: while the daemon is down,
nothing probes (dockerd's choice too), and a restarted daemon resumes
probing its running containers.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from barge.contracts.attach import EXITED, FrameBuffer, exit_code_of
from barge.errors import BargeError, InvalidParameter
from barge.goquote import go_duration
from barge.hooks import hookimpl
from barge.timefmt import parse_rfc3339, rfc3339_nano

if TYPE_CHECKING:  # pragma: no cover
    from barge.containers.context import ContainerContext
    from barge.containers.exec import ExecService

log = logging.getLogger("barge.health")

SECOND = 1_000_000_000
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_RETRIES = 3
MINIMUM_DURATION = 1_000_000  # container.MinimumDuration: 1ms
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096


def check_healthcheck(health: dict[str, Any] | None) -> None:
    """moby's ``verifyContainerSettings`` for the healthcheck: 400 with its words."""
    if not health:
        return
    for key in ("Interval", "Timeout", "StartPeriod", "StartInterval"):
        value = int(health.get(key) or 0)
        if value and value < MINIMUM_DURATION:
            raise InvalidParameter(f"{key} in Healthcheck cannot be less than 1ms")
    if int(health.get("Retries") or 0) < 0:
        raise InvalidParameter("Retries in Healthcheck cannot be negative")


def merge_healthcheck(user: dict[str, Any] | None, image: dict[str, Any] | None) -> dict[str, Any] | None:
    """moby's ``merge``: the image's healthcheck, the request's fields over it."""
    if not user:
        return dict(image) if image else None
    out = dict(user)
    for key in ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"):
        if not out.get(key) and image and image.get(key):
            out[key] = image[key]
    return out


def active(health: dict[str, Any] | None) -> bool:
    """A healthcheck that probes: a test that is not ``NONE``."""
    test = (health or {}).get("Test") or []
    return bool(test) and test[0] != "NONE"


def probe_command(test: list[str], shell: list[str] | None) -> list[str]:
    if test[0] == "CMD-SHELL":
        return list(shell or ["/bin/sh", "-c"]) + [" ".join(test[1:])]
    if test[0] == "CMD":
        return list(test[1:])
    raise InvalidParameter(f"unknown healthcheck type {test[0]!r} (expected CMD or CMD-SHELL)")


class HealthChecks:
    """One prober thread per running container that has a healthcheck."""

    def __init__(self, ctx: "ContainerContext", execs: "ExecService"):
        self.ctx = ctx
        self.execs = execs
        self._stops: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    # -- when containers start and stop -----------------------------------

    @hookimpl
    def barge_container_event(self, action: str, container_id: str, attributes: dict) -> None:
        if action == "start":
            self.begin(container_id)
        elif action in ("die", "destroy"):
            self.end(container_id)

    def resume(self) -> None:
        """After a daemon start: probe again the running containers that have a healthcheck."""
        for c in self.ctx.store.all():
            if c.state.Running and not c.state.Restarting and active(c.config.get("Healthcheck")):
                self._spawn(c.id)

    def begin(self, cid: str) -> None:
        c = self.ctx.store.get(cid)
        if c is None or not active(c.config.get("Healthcheck")):
            return
        self._update(cid, lambda health, started_at: {"Status": "starting", "FailingStreak": 0, "Log": []},
                     reset=True)
        self._spawn(cid)

    def end(self, cid: str) -> None:
        with self._lock:
            stop = self._stops.pop(cid, None)
        if stop is not None:
            stop.set()

    def close(self) -> None:
        with self._lock:
            stops, self._stops = list(self._stops.values()), {}
        for stop in stops:
            stop.set()

    def _spawn(self, cid: str) -> None:
        stop = threading.Event()
        with self._lock:
            old = self._stops.pop(cid, None)
            self._stops[cid] = stop
        if old is not None:
            old.set()
        threading.Thread(target=self._run, args=(cid, stop), name=f"health-{cid[:12]}", daemon=True).start()

    # -- probing ----------------------------------------------------------

    def _run(self, cid: str, stop: threading.Event) -> None:
        while True:
            c = self.ctx.store.get(cid)
            if c is None or not c.state.Running:
                return
            hc = c.config.get("Healthcheck") or {}
            started = parse_rfc3339(c.state.StartedAt)
            in_start = time.time() - started < (hc.get("StartPeriod") or 0) / SECOND
            starting = (c.state.Health or {}).get("Status") == "starting"
            interval = hc["StartInterval"] if in_start and starting and hc.get("StartInterval") else \
                (hc.get("Interval") or DEFAULT_INTERVAL)
            if stop.wait(interval / SECOND):
                return
            c = self.ctx.store.get(cid)
            if c is None or not c.state.Running or c.state.Restarting:
                return
            if c.state.Paused:
                continue
            result = self._probe(c, hc, stop)
            if stop.is_set():
                return
            self._record(cid, hc, result)

    def _probe(self, c, hc: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
        """One probe as an exec of the container: its exit code and its first 4 KB of output."""
        start = rfc3339_nano()
        timeout = hc.get("Timeout") or DEFAULT_TIMEOUT
        try:
            cmd = probe_command(hc["Test"], c.config.get("Shell"))
            exec_id = self.execs.create(c.id, {"Cmd": cmd, "AttachStdout": True, "AttachStderr": True})["Id"]
            stream = self.execs.start_attached(self.execs.prepare(exec_id, detach=False))
        except BargeError as exc:
            return {"Start": start, "End": rfc3339_nano(), "ExitCode": -1, "Output": str(exc)}
        code, output = _collect(stream.sock, time.monotonic() + timeout / SECOND, stop)
        if code is None:
            stream.follow()  # the process goes on; its exit is recorded when it comes, as dockerd leaves it
            return {"Start": start, "End": rfc3339_nano(), "ExitCode": -1,
                    "Output": f"Health check exceeded timeout ({go_duration(timeout)})"}
        stream.finished(code)
        return {"Start": start, "End": rfc3339_nano(), "ExitCode": code,
                "Output": stream.error or output.decode("utf-8", "replace")}

    def _record(self, cid: str, hc: dict[str, Any], result: dict[str, Any]) -> None:
        """moby's ``handleProbeResult``."""
        retries = hc.get("Retries") or DEFAULT_RETRIES

        def apply(health: dict[str, Any], started_at: str) -> dict[str, Any]:
            health = dict(health or {"Status": "starting", "FailingStreak": 0, "Log": []})
            health["Log"] = (list(health.get("Log") or []) + [result])[-MAX_LOG_ENTRIES:]
            if result["ExitCode"] == 0:
                health["FailingStreak"] = 0
                health["Status"] = "healthy"
                return health
            if health["Status"] == "starting":
                since = parse_rfc3339(result["Start"]) - parse_rfc3339(started_at)
                if since < (hc.get("StartPeriod") or 0) / SECOND:
                    return health
            health["FailingStreak"] = int(health.get("FailingStreak") or 0) + 1
            if health["FailingStreak"] >= retries:
                health["Status"] = "unhealthy"
            return health

        self._update(cid, apply)

    def _update(self, cid: str, change, reset: bool = False) -> None:
        rt = self.ctx.table.runtime(cid)
        with rt.lock:
            c = self.ctx.store.get(cid)
            if c is None or (not reset and not c.state.Running):
                return
            old = (c.state.Health or {}).get("Status")
            c.state.Health = change(c.state.Health, c.state.StartedAt)
            self.ctx.store.save_state(cid, c.state)
        new = c.state.Health.get("Status") if c.state.Health else None
        if new and new != old and not reset:
            self.ctx.event(f"health_status: {new}", c)


def _collect(sock: socket.socket, deadline: float, stop: threading.Event) -> tuple[int | None, bytes]:
    """Frames until the exit frame or the deadline: (exit code or None, output kept)."""
    frames, out = FrameBuffer(), b""
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or stop.is_set():
                return None, out
            sock.settimeout(min(left, 0.5))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return -1, out
            for kind, payload in frames.feed(chunk):
                if kind == EXITED:
                    code = exit_code_of(payload)
                    return (-1 if code is None else code), out
                out = (out + payload)[:MAX_OUTPUT]
    finally:
        sock.close()
