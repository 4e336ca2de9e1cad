"""docs/hostconfig.md read as data: one row per HostConfig field and its treatments.

Shared by the unit test that holds the table to the code's field list and the
integration test that holds each row to a real daemon's behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "hostconfig.md"
TREATMENTS = frozenset({"applied", "refused", "warned", "client-only"})


@dataclass(frozen=True)
class Row:
    field: str
    flag: str
    treatments: frozenset[str]
    how: str

    def quotes(self, message: str) -> bool:
        """Whether the row quotes ``message`` (rows write the graph driver as ``{graph_driver}``)."""
        return f'"{message}"' in self.how


def rows(text: str | None = None) -> list[Row]:
    """The rows of the Fields table, in order."""
    text = DOC.read_text() if text is None else text
    out = []
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        field, flag, treatment, how = cells[0], cells[1], cells[2], " | ".join(cells[3:])
        out.append(Row(field.strip("`"), flag, frozenset(t.strip() for t in treatment.split("/")), how))
    return out


def by_field() -> dict[str, Row]:
    return {r.field: r for r in rows()}
