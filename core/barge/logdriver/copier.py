"""Cutting a container's output into messages for its drivers (moby's ``logger.Copier``).

A line is sent when its newline arrives; bytes without one are held until
then, or sent as a partial piece when they fill the copier's buffer
(:data:`BUFFER`) or the stream ends. Pieces of one line share an id and
the first piece's time; the piece its newline ends is ``last``.

:func:`open_logger` is what a monitor calls with the spec's ``log`` table:
it imports the driver from the entry point the daemon resolved (or looks the
name up) and, for a driver ``docker logs`` cannot read, adds the ``local``
cache beside it (dockerd 20.10's dual logging).
"""

from __future__ import annotations

import os
import time
from typing import Any, Mapping

from barge.logdriver import driver_class, load_entry_point
from barge.logdriver.base import LogDriver, LogDriverError, LogInfo, Message, PartialMeta
from barge.logdriver.local import LocalDriver
from barge.logdriver.options import cache_options

#: moby's copier buffer: longer lines are cut into pieces of this size.
BUFFER = 16 * 1024


class _Partial:
    __slots__ = ("id", "ordinal", "time_ns")

    def __init__(self) -> None:
        self.id = os.urandom(32).hex()
        self.ordinal = 0
        self.time_ns = time.time_ns()


class LogCopier:
    """Takes raw output by stream; every driver gets every message."""

    def __init__(self, drivers: list[LogDriver]):
        self.drivers = drivers
        self._pending: dict[str, bytes] = {}
        self._partial: dict[str, _Partial] = {}

    def write(self, stream: str, data: bytes) -> None:
        buf = self._pending.pop(stream, b"") + data
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            while nl - start >= BUFFER:  # a line longer than the buffer goes out in pieces first
                self._piece(stream, buf[start:start + BUFFER])
                start += BUFFER
            self._line(stream, buf[start:nl])
            start = nl + 1
        rest = buf[start:]
        while len(rest) >= BUFFER:
            self._piece(stream, rest[:BUFFER])
            rest = rest[BUFFER:]
        if rest:
            self._pending[stream] = rest

    def flush(self) -> None:
        """The streams ended: what is held goes out as a (not last) piece, as dockerd does."""
        for stream in list(self._pending):
            self._piece(stream, self._pending.pop(stream))

    def close(self) -> None:
        self.flush()
        for driver in self.drivers:
            driver.close()
        self.drivers = []

    def _line(self, stream: str, line: bytes) -> None:
        part = self._partial.pop(stream, None)
        if part is None:
            self._send(Message(stream, line, time.time_ns()))
        else:
            part.ordinal += 1
            self._send(Message(stream, line, part.time_ns, PartialMeta(part.id, part.ordinal, True)))

    def _piece(self, stream: str, piece: bytes) -> None:
        part = self._partial.setdefault(stream, _Partial())
        part.ordinal += 1
        self._send(Message(stream, piece, part.time_ns, PartialMeta(part.id, part.ordinal, False)))

    def _send(self, msg: Message) -> None:
        errors = []
        for driver in self.drivers:
            try:
                driver.log(msg)
            except OSError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


def open_logger(spec: Mapping[str, Any]) -> LogCopier:
    """The copier for a container's ``log`` spec; LogDriverError names what failed, in dockerd's words."""
    info = LogInfo.from_dict(spec.get("info") or {})
    info.config = dict(spec.get("options") or {})
    info.log_path = str(spec.get("path") or "")
    drivers: list[LogDriver] = []
    try:
        ep = spec.get("entry_point")
        drivers.append((load_entry_point(ep) if ep else driver_class(spec["driver"]))(info))
        if spec.get("cache_path"):
            cache_opts = cache_options(info.config)
            if cache_opts is not None:  # dockerd's cache is always the local driver
                cache_info = LogInfo.from_dict({**info.__dict__, "config": cache_opts,
                                                "log_path": spec["cache_path"]})
                drivers.append(LocalDriver(cache_info))
    except LogDriverError:
        for d in drivers:
            d.close()
        raise
    return LogCopier(drivers)
