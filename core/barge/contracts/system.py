"""Arguments of the system jobs (version, info).

Shared by the API routes (which build them) and the job handlers in
:mod:`barge.daemon.jobs` (which take them): neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class VersionArgs:
    pass


@dataclass
class InfoArgs:
    pass


#: ``GET /system/df``'s object types, in moby's order.
DISK_USAGE_OBJECTS = ("container", "image", "volume", "build-cache")


@dataclass
class DiskUsageArgs:
    #: ``type`` (API 1.42): container, image, volume, build-cache; empty: all of them
    types: list[str] = field(default_factory=list)


@dataclass
class CheckArgs:
    """``POST /system/check``: barge's consistency check (``barge system check``)."""

    #: fix what can be fixed without losing user data
    repair: bool = False
