"""What a store declares about its tables: a name, the steps that built them, what they need."""

from __future__ import annotations

from dataclasses import dataclass


class SchemaTooNew(RuntimeError):
    """The file was written by a newer barge: refused rather than misread."""


class MissingSchema(RuntimeError):
    """A schema was applied before one it needs (a table it references or reads)."""


@dataclass(frozen=True)
class Schema:
    """The tables one store owns.

    ``steps[n]`` brings the store's tables from version ``n`` to ``n + 1``
    (a script of ``;``-separated statements, no ``;`` inside one); a store
    changes its tables by appending a step, never by editing one. The
    store's version is ``len(steps)``. ``requires`` names the schemas whose
    tables these reference or read, which must be applied first.
    """

    name: str
    steps: tuple[str, ...]
    requires: tuple[str, ...] = ()

    @property
    def version(self) -> int:
        return len(self.steps)


def statements(script: str) -> list[str]:
    """Split a step into statements, dropping ``--`` comment lines."""
    out = []
    for chunk in script.split(";"):
        lines = [ln for ln in chunk.splitlines() if not ln.strip().startswith("--")]
        stmt = "\n".join(lines).strip()
        if stmt:
            out.append(stmt)
    return out
