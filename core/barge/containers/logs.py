"""A container's log on the daemon's side: the monitor's driver settings, and ``logs`` reads.

The monitor writes through the container's log driver (:mod:`barge.logdriver`);
the daemon builds its :class:`~barge.execdriver.LogSpec` here (:func:`log_spec`)
and reads the files back for ``logs`` and ``attach?logs=1``: the driver's
own file when its format is readable (json-file, local), else dockerd
20.10's dual-logging cache (syslog, unless ``cache-disabled``), else 501
"configured logging driver does not support reading" (none).
"""

from __future__ import annotations

import os
import socket
from typing import Any, Callable

from barge.contracts.containers import LogOptions
from barge.errors import BargeError, NotImplementedByDriver
from barge.execdriver import LogSpec
from barge.logdriver import DEFAULT_DRIVER, LogDriverError, driver_class, entry_point, log_paths
from barge.logdriver.base import Entry, fixed_nano  # noqa: F401 (the entries logs and attach send)
from barge.logdriver.local import LocalFormat
from barge.logdriver.reader import FileLogReader

NOT_READABLE = "configured logging driver does not support reading"


def _log_config(host: dict[str, Any]) -> tuple[str, dict[str, str]]:
    log = host.get("LogConfig") or {}
    return log.get("Type") or DEFAULT_DRIVER, dict(log.get("Config") or {})


def with_default_log(body: dict[str, Any], default: dict[str, Any]) -> dict[str, Any]:
    """The create request with the daemon's log driver filled in (moby's ``mergeAndVerifyLogConfig``):
    an empty Type takes the daemon's; a LogConfig of the daemon's type takes its options it does not set."""
    host = body.get("HostConfig") or {}
    log = host.get("LogConfig") or {}
    kind = log.get("Type") or default["Type"]
    opts = dict(log.get("Config") or {})
    if kind == default["Type"]:
        opts = {**default["Config"], **opts}
    return {**body, "HostConfig": {**host, "LogConfig": {"Type": kind, "Config": opts}}}


def log_spec(container_id: str, config: dict[str, Any], host: dict[str, Any], log_path: str,
             facts: dict[str, Any]) -> LogSpec | None:
    """What the monitor's log driver gets; None for ``none`` (no driver at all)."""
    name, opts = _log_config(host)
    if name == "none":
        return None
    try:
        path, cache = log_paths(name, opts, os.path.dirname(log_path), container_id)
        ep = entry_point(name)
    except LogDriverError as exc:
        raise BargeError(f"failed to initialize logging driver: {exc}") from None
    command = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    info = {"container_id": container_id, "container_name": facts.get("name", ""),
            "image_name": config.get("Image", ""), "image_id": facts.get("image_id", ""),
            "labels": dict(config.get("Labels") or {}), "env": list(config.get("Env") or []),
            "command": command, "hostname": socket.gethostname()}
    return LogSpec(path=path, driver=name, options=opts, info=info, cache_path=cache, entry_point=ep)


def open_reader(container_id: str, host: dict[str, Any], log_path: str, opts: LogOptions) -> FileLogReader:
    """A reader of the container's log as its driver wrote it; 501 when nothing can be read."""
    name, log_opts = _log_config(host)
    if name == "none":
        raise NotImplementedByDriver(NOT_READABLE)
    try:
        path, cache = log_paths(name, log_opts, os.path.dirname(log_path), container_id)
        fmt = driver_class(name).file_format
    except LogDriverError as exc:
        raise BargeError(str(exc)) from None
    if fmt is not None:
        return FileLogReader(path, fmt, opts)
    if cache:
        return FileLogReader(cache, LocalFormat(), opts)
    raise NotImplementedByDriver(NOT_READABLE)


class LogSession:
    """A ``logs`` request (:class:`barge.contracts.containers.LogSession`): the reader, the
    container's Tty (the stream's framing), and whether it still runs (a follower ends with it)."""

    def __init__(self, reader: FileLogReader, tty: bool, running: Callable[[], bool]):
        self.reader = reader
        self.tty = tty
        self._running = running

    @property
    def done(self) -> bool:
        return self.reader.done

    def initial(self) -> list[Entry]:
        return self.reader.initial()

    def poll(self) -> list[Entry]:
        return self.reader.poll()

    def running(self) -> bool:
        return self._running()

    def close(self) -> None:
        self.reader.close()
