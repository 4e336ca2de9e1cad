"""The log driver contract: a container's output as messages, and the driver that takes them.

The monitor of a container (which outlives the daemon) cuts the output into
:class:`Message` s (:mod:`barge.logdriver.copier`, moby's copier) and hands
each to the container's :class:`LogDriver`. A driver is constructed once per
container start with a :class:`LogInfo`; its constructor parses the options
and raises :class:`LogDriverError` with dockerd's text when one is bad (a
failed start: "failed to initialize logging driver: ..."). Checks dockerd
makes at create time are :meth:`LogDriver.validate`. A driver whose files
the daemon can read back (``docker logs``) names a :class:`FileFormat`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

#: Bumped when the contract changes; a driver built for another version is refused.
API_VERSION = 1


class LogDriverError(Exception):
    """A bad option or an unreachable destination, in dockerd's words."""


@dataclass(frozen=True)
class PartialMeta:
    """moby's ``PartialLogMetaData``: pieces of one line longer than the copier's buffer."""

    id: str
    ordinal: int
    last: bool


@dataclass
class Message:
    """One line of output (without its newline), or a piece of one (``partial``)."""

    source: str  # "stdout" or "stderr"
    line: bytes
    time_ns: int
    partial: PartialMeta | None = None

    @property
    def ends_line(self) -> bool:
        """Whether a newline followed the bytes in the output (json-file writes it back)."""
        return self.partial is None or self.partial.last


@dataclass
class LogInfo:
    """What a driver knows about its container (moby's ``logger.Info``)."""

    container_id: str = ""
    config: dict[str, str] = field(default_factory=dict)  # the log opts
    log_path: str = ""  # the driver's file, for drivers that write one
    container_name: str = ""  # with its leading "/"
    image_name: str = ""
    image_id: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    env: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    hostname: str = ""  # the host's, for syslog's header
    daemon_name: str = "docker"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LogInfo":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Entry:
    """One entry read back from a log file, as ``docker logs`` sends it."""

    stream: str
    data: bytes
    time: str  # RFC3339Nano

    def render(self, timestamps: bool) -> bytes:
        if not timestamps:
            return self.data
        return fixed_nano(self.time).encode() + b" " + self.data


def fixed_nano(value: str) -> str:
    """RFC3339Nano with exactly nine fraction digits (Docker's ``RFC3339NanoFixed``)."""
    if "T" not in value:
        return value
    head, zone = value, ""
    for sep in ("Z", "+", "-"):
        idx = value.rfind(sep)
        if idx > value.index("T"):
            head, zone = value[:idx], value[idx:]
            break
    base, _, frac = head.partition(".")
    return f"{base}.{(frac + '000000000')[:9]}{zone}"


class FileFormat(ABC):
    """How a file-backed driver's records look, so the daemon can read them back."""

    @abstractmethod
    def decode(self, buf: bytes) -> tuple[list[Entry], int]:
        """The complete records at the start of ``buf`` and the bytes they take (a torn tail stays)."""

    @abstractmethod
    def tail_offset(self, data: bytes, count: int) -> tuple[int, int]:
        """Where the last ``count`` records of ``data`` start, and how many were found."""


class LogDriver(ABC):
    """One container's log destination, living in its monitor.

    A driver package registers its subclass in the ``barge.log_drivers``
    entry-point group under :attr:`name`.
    """

    name: ClassVar[str]
    api_version: ClassVar[int] = API_VERSION
    #: The options this driver takes beyond the ones every driver takes (``mode``, ``cache-*``...).
    options: ClassVar[frozenset[str]] = frozenset()
    #: How to read its files back; None: ``docker logs`` cannot read it (dual logging may cache it).
    file_format: ClassVar[FileFormat | None] = None
    #: Its file under the container's directory ("{id}" is the container's id); "" for none.
    file_name: ClassVar[str] = ""

    @classmethod
    def validate(cls, opts: Mapping[str, str]) -> None:
        """Create-time checks (dockerd's ``ValidateLogOpt``); raise :class:`LogDriverError`."""
        for key in opts:
            if key not in cls.options:
                raise LogDriverError(f"unknown log opt '{key}' for {cls.name} log driver")

    def __init__(self, info: LogInfo):
        self.info = info

    @abstractmethod
    def log(self, msg: Message) -> None:
        """Write one message; an OSError is reported once by the monitor, which keeps going."""

    def close(self) -> None:
        """The output ended: flush and release what the driver holds (nothing, unless overridden)."""
        return None
