"""The vocabulary of ``barge system check``: a finding, and what ``--repair`` does about it.

Each part of the engine checks its own invariants (``graph/check.py``,
``containers/check.py``, ``network/check.py``, ``volumes/check.py``, and
the drivers through their ``audit`` operations) and returns findings; the
daemon's checker (``daemon/check.py``) gathers them and applies the
repairs. A finding says in plain words what is wrong with which object.
Its repair is a function (run only with ``--repair``) returning what it
did; a finding without one says in ``left`` why nothing is done about it
(what a repair would lose).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass
class Finding:
    #: what kind of object: "images", "layers", "containers", "volumes", "networks", "mounts", ...
    area: str
    #: the object: an id or a name (a path for things that have neither)
    object: str
    #: what is wrong, in plain words
    problem: str
    #: makes it right without losing user data; returns what it did
    repair: Callable[[], str] | None = None
    #: with no repair: why it is left, and what the user can do
    left: str = ""
    #: what the repair will do, for the report of a check without ``--repair``
    remedy: str = ""

    def answer(self, repaired: bool, action: str) -> dict[str, object]:
        """The finding as ``POST /system/check`` reports it."""
        return {"Area": self.area, "Object": self.object, "Problem": self.problem, "Repaired": repaired,
                "Action": action}

    def planned(self) -> str:
        """What ``--repair`` would do (or why it leaves this)."""
        if self.repair is None:
            return f"left: {self.left}" if self.left else "left"
        return f"--repair would {self.remedy}" if self.remedy else "--repair fixes it"


def finding(area: str, obj: str, problem: str, remedy: str = "", repair: Callable[[], str] | None = None,
            left: str = "") -> Finding:
    """A finding in one call: ``remedy`` says what ``repair`` does, ``left`` why there is none."""
    return Finding(area=area, object=obj, problem=problem, repair=repair, left=left, remedy=remedy)
