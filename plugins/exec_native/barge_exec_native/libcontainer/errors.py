"""Errors of the container runtime, as users see them."""

from __future__ import annotations

from barge.errors import BargeError


class ContainerError(BargeError):
    """Setting up or running a container failed; the message says why."""


class ExecFailed(ContainerError):
    """The container's command could not be executed.

    ``code`` is what Docker reports as the exit code: 127 when the file is
    not found, 126 when it exists but cannot be executed.
    """

    def __init__(self, message: str, code: int = 126):
        super().__init__(message)
        self.code = code
