"""Arguments of the volume jobs.

Shared by the API routes (which build them) and the job handlers in
:mod:`barge.daemon.jobs` (which take them): neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class VolumeCreateArgs:
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class VolumeNameArgs:
    name: str = ""


@dataclass
class VolumeRemoveArgs:
    name: str = ""
    force: bool = False


@dataclass
class VolumeFiltersArgs:
    filters: str | None = None
