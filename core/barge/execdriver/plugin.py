"""The one adapter between pluggy's ``barge_exec_*`` hooks and an :class:`ExecDriver`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Mapping

from barge.engine.hookspecs import hookimpl
from barge.execdriver import ContainerSpec, ExecState, ProcessSpec, Resources
from barge.execdriver.base import ExecDriver


class ExecDriverPlugin:
    driver_class: ClassVar[type[ExecDriver]]

    def __init__(self, home: Path, options: Mapping[str, Any] | None = None):
        self.driver = self.driver_class(Path(home), options or {})

    @hookimpl
    def barge_exec_name(self) -> str:
        return self.driver.name

    @hookimpl
    def barge_exec_create(self, spec: ContainerSpec, state_dir: str) -> int:
        return self.driver.create(spec, state_dir)

    @hookimpl
    def barge_exec_start(self, container_id: str, state_dir: str) -> bool:
        self.driver.start(container_id, state_dir)
        return True

    @hookimpl
    def barge_exec_state(self, container_id: str, state_dir: str) -> ExecState:
        return self.driver.state(container_id, state_dir)

    @hookimpl
    def barge_exec_wait(self, container_id: str, state_dir: str, timeout: float | None) -> ExecState | None:
        return self.driver.wait(container_id, state_dir, timeout)

    @hookimpl
    def barge_exec_kill(self, container_id: str, state_dir: str, signal: int) -> bool:
        self.driver.kill(container_id, state_dir, signal)
        return True

    @hookimpl
    def barge_exec_pause(self, container_id: str, state_dir: str) -> bool:
        self.driver.pause(container_id, state_dir)
        return True

    @hookimpl
    def barge_exec_resume(self, container_id: str, state_dir: str) -> bool:
        self.driver.resume(container_id, state_dir)
        return True

    @hookimpl
    def barge_exec_delete(self, container_id: str, state_dir: str) -> bool:
        self.driver.delete(container_id, state_dir)
        return True

    @hookimpl
    def barge_exec_exec(self, container_id: str, state_dir: str, exec_id: str, process: ProcessSpec) -> int:
        return self.driver.exec(container_id, state_dir, exec_id, process)

    @hookimpl
    def barge_exec_exec_state(self, container_id: str, state_dir: str, exec_id: str) -> ExecState:
        return self.driver.exec_state(container_id, state_dir, exec_id)

    @hookimpl
    def barge_exec_processes(self, container_id: str, state_dir: str) -> list[int]:
        return self.driver.processes(container_id, state_dir)

    @hookimpl
    def barge_exec_stats(self, container_id: str, state_dir: str) -> dict:
        return self.driver.stats(container_id, state_dir)

    @hookimpl
    def barge_exec_update(self, container_id: str, state_dir: str, resources: Resources) -> bool:
        self.driver.update(container_id, state_dir, resources)
        return True

    @hookimpl
    def barge_exec_status(self) -> list[tuple[str, str]]:
        return self.driver.status()
