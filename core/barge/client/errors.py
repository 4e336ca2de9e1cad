"""Errors the client raises; the CLI prints ``str(error)`` as one line."""

from __future__ import annotations


class ClientError(Exception):
    """Base of every error the client reports to a user."""


class APIError(ClientError):
    """The daemon answered with an error status and ``{"message": ...}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return f"Error response from daemon: {self.message}"


class DaemonUnreachable(ClientError):
    """Nothing listens at the address (or the socket is missing)."""

    def __init__(self, host: str, detail: str = ""):
        self.host = host
        self.detail = detail
        super().__init__(f"Cannot connect to the barge daemon at {host}. Is the daemon running?")


class StreamError(ClientError):
    """A JSON message stream carried ``errorDetail`` (a failed import or load)."""


class HostError(ClientError):
    """A ``-H``/``BARGE_HOST`` value we cannot use."""
