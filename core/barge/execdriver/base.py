"""Base class of exec drivers; the hooks in ``hookspecs`` map onto its methods.

A driver package subclasses :class:`ExecDriver` (its ``driver.py``) and
registers an :class:`~barge.execdriver.plugin.ExecDriverPlugin` subclass
naming it (its ``plugin.py``) in ``barge.exec_drivers``. The constructor
raises :class:`barge.errors.DriverNotSupported` when the driver cannot work
here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Mapping

from barge.execdriver import API_VERSION, ContainerSpec, ExecState, ProcessSpec, Resources


class ExecDriver(ABC):
    name: ClassVar[str]
    api_version: ClassVar[int] = API_VERSION
    options_schema: ClassVar[Mapping[str, str]] = {}

    def __init__(self, home: Path, options: Mapping[str, Any] | None = None):
        self.home = Path(home)
        self.options = dict(options or {})

    @abstractmethod
    def create(self, spec: ContainerSpec, state_dir: str) -> int: ...

    @abstractmethod
    def start(self, container_id: str, state_dir: str) -> None: ...

    @abstractmethod
    def state(self, container_id: str, state_dir: str) -> ExecState: ...

    @abstractmethod
    def wait(self, container_id: str, state_dir: str, timeout: float | None) -> ExecState | None: ...

    @abstractmethod
    def kill(self, container_id: str, state_dir: str, signal: int) -> None: ...

    @abstractmethod
    def pause(self, container_id: str, state_dir: str) -> None: ...

    @abstractmethod
    def resume(self, container_id: str, state_dir: str) -> None: ...

    @abstractmethod
    def delete(self, container_id: str, state_dir: str) -> None: ...

    @abstractmethod
    def exec(self, container_id: str, state_dir: str, exec_id: str, process: ProcessSpec) -> int: ...

    @abstractmethod
    def exec_state(self, container_id: str, state_dir: str, exec_id: str) -> ExecState: ...

    @abstractmethod
    def processes(self, container_id: str, state_dir: str) -> list[int]: ...

    @abstractmethod
    def stats(self, container_id: str, state_dir: str) -> dict: ...

    @abstractmethod
    def update(self, container_id: str, state_dir: str, resources: Resources) -> None: ...

    def status(self) -> list[tuple[str, str]]:
        return []
