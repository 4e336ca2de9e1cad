"""One entry of ``docker diff``: a path and how it changed.

Defined here, with the code that computes and packs changes; graph drivers
and plugins use them through :mod:`barge.graphdriver`, which re-exports them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ChangeKind(enum.IntEnum):
    """Docker's ``archive.ChangeType`` values, as ``GET /containers/{id}/changes`` shows them."""

    MODIFY = 0
    ADD = 1
    DELETE = 2


@dataclass(frozen=True, order=True)
class Change:
    path: str
    kind: ChangeKind

    def to_dict(self) -> dict:
        return {"Path": self.path, "Kind": int(self.kind)}
