"""Arguments of the network jobs.

Shared by the API routes (which build them) and the job handlers in
:mod:`barge.daemon.jobs` (which take them): neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class NetworkCreateArgs:
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class NetworkFiltersArgs:
    filters: str | None = None


@dataclass
class NetworkInspectArgs:
    ref: str = ""
    verbose: bool = False
    scope: str = ""


@dataclass
class NetworkRefArgs:
    ref: str = ""


@dataclass
class NetworkAttachArgs:
    """connect/disconnect: the network and the request body (``Container`` ...)."""

    ref: str = ""
    body: dict[str, Any] = field(default_factory=dict)
