"""Column alignment with the rules of Go's ``text/tabwriter``.

docker pipes its tables through ``tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)``
(``version`` uses ``20, 1, 1``). Cells are tab-terminated; the text after the
last tab of a line is not part of any column. A column is a block of
consecutive lines that have a cell at that index, so widths are computed per
block, exactly as Go does, and a line without tabs ends every block.
"""

from __future__ import annotations


def align(text: str, minwidth: int = 10, padding: int = 3, padchar: str = " ") -> str:
    """Return ``text`` with its tab-separated cells padded into columns."""
    lines = text.split("\n")
    trailing_newline = text.endswith("\n")
    if trailing_newline:
        lines.pop()
    cells = [line.split("\t") for line in lines]
    out: list[str] = []
    # A line with a single cell flushes: blocks never span it.
    start = 0
    for i, row in enumerate(cells + [[]]):
        if len(row) <= 1:
            if start < i:
                _format(cells, start, i, [], out, minwidth, padding, padchar)
            if i < len(cells):
                out.append(row[0] if row else "")
            start = i + 1
    result = "\n".join(out)
    return result + "\n" if trailing_newline else result


def _format(cells, line0, line1, widths, out, minwidth, padding, padchar):
    column = len(widths)
    this = line0
    while this < line1:
        if column >= len(cells[this]) - 1:
            this += 1
            continue
        _write(cells, line0, this, widths, out, padchar)
        line0 = this
        width = minwidth
        while this < line1 and column < len(cells[this]) - 1:
            width = max(width, len(cells[this][column]) + padding)
            this += 1
        _format(cells, line0, this, widths + [width], out, minwidth, padding, padchar)
        line0 = this
    _write(cells, line0, line1, widths, out, padchar)


def _write(cells, line0, line1, widths, out, padchar):
    for row in cells[line0:line1]:
        parts = []
        for j, cell in enumerate(row):
            if j < len(row) - 1 and j < len(widths):
                parts.append(cell + padchar * (widths[j] - len(cell)))
            else:
                parts.append(cell)
        out.append("".join(parts))
