"""``podshm matrix`` output: an aligned text table, markdown for a PR or a wiki page, JSON.

One layout for text and markdown: a facts block (one line per cluster fact, one column per
run), then one line per scenario with its outcomes, and under it one indented line per
observed value. ``*`` marks a line whose cells differ; markdown also sets in bold each cell
that differs from the first column's (the reference, as the base of ``podshm diff``).
Sizes in bytes are shown in the largest binary unit that holds them exactly (``64 MiB``,
``65532 KiB``): a matrix is read to spot differences, and rounding would hide some.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from podshm.records.render import md_cell, show
from podshm.records.schema import Value
from podshm.records.sidebyside import Matrix, Row

MATRIX_SCHEMA = "podshm-matrix/1"
MARK = "*"
MISSING = "-"  # the scenario did not run in this column
UNITS = (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))
LEGEND = f"{MARK} differs across columns; {MISSING}: not run in that column"


def exact_size(size: int) -> str:
    """``64 MiB``, ``65532 KiB``, ``12 B``: exact, in the largest unit that divides it."""
    unit, scale = next(((u, s) for u, s in UNITS if size and size % s == 0), ("B", 1))
    return f"{size // scale} {unit}"


def value_text(name: str, value: Value | None) -> str:
    """One observed value for people: a byte count (``*_bytes``, ``bytes_*``) as a size."""
    if isinstance(value, int) and not isinstance(value, bool) and "bytes" in name.split("_"):
        return exact_size(value)
    return show(value)


def title(matrix: Matrix) -> str:
    """``3 runs as 4 columns, 2 of 12 scenarios differ``."""
    runs, columns = len(matrix.runs), len(matrix.columns)
    return (
        f"{runs} run{'s' if runs != 1 else ''} as {columns} column{'s' if columns != 1 else ''}"
        f", {len(matrix.changed())} of {len(matrix.rows)} scenarios differ"
    )


def _lines(row: Row) -> list[tuple[str | None, list[str]]]:
    """(value name or None for the outcome line, one text per column) of one scenario."""
    out: list[tuple[str | None, list[str]]] = [
        (None, [MISSING if c is None else c.outcome for c in row.cells])
    ]
    for name in row.names():
        texts = ["" if c is None else value_text(name, c.values.get(name)) for c in row.cells]
        out.append((name, texts))
    return out


def _marked(row: Row, name: str | None) -> bool:
    return row.changed if name is None else name in row.changed_names()


def _rows(matrix: Matrix, changed_only: bool) -> list[Row]:
    return matrix.changed() if changed_only else matrix.rows


def _align(table: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in table if len(r) > i) for i in range(len(table[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in table]


def render_text(matrix: Matrix, changed_only: bool = False) -> str:
    """The terminal table: runs and their files, facts, then the scenarios."""
    lines = [f"podshm matrix: {title(matrix)}"]
    lines += [f"  {r.label}: {r.source}" for r in matrix.runs if r.source]
    table: list[list[str]] = [[" ", "", *(c.label for c in matrix.columns)]]
    for i, (label, _) in enumerate(matrix.columns[0].facts if matrix.columns else ()):
        table.append([" ", label, *(c.facts[i][1] for c in matrix.columns)])
    table.append([])
    for row in _rows(matrix, changed_only):
        for name, texts in _lines(row):
            mark = MARK if _marked(row, name) else " "
            table.append([mark, row.id if name is None else f"  {name}", *texts])
    if changed_only and not matrix.changed():
        table.append([" ", "(no scenario differs)"])
    return "\n".join([*lines, "", *_align(table), "", LEGEND])


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _bold_if(text: str, differs: bool) -> str:
    return f"**{md_cell(text)}**" if differs and text else md_cell(text)


def render_markdown(matrix: Matrix, changed_only: bool = False) -> str:
    """Markdown: the facts table and the scenario table, changed cells in bold."""
    labels = [md_cell(c.label) for c in matrix.columns]
    sources = [f"- `{md_cell(r.label)}`: `{md_cell(r.source)}`" for r in matrix.runs if r.source]
    lines = [f"### podshm matrix: {title(matrix)}", "", *sources, *([""] if sources else [])]
    lines += [_md_row(["", *labels]), _md_row(["---"] * (len(labels) + 1))]
    first = matrix.columns[0].facts if matrix.columns else ()
    for i, (label, reference) in enumerate(first):
        facts = [c.facts[i][1] for c in matrix.columns]
        lines.append(_md_row([label, *(_bold_if(f, f != reference) for f in facts)]))
    lines += ["", _md_row(["", "scenario", *labels]), _md_row(["---"] * (len(labels) + 2))]
    for row in _rows(matrix, changed_only):
        for name, texts in _lines(row):
            mark = "\\" + MARK if _marked(row, name) else ""
            head = f"`{md_cell(row.id)}`" if name is None else f"↳ `{md_cell(name)}`"
            cells = [_bold_if(t, row.differs_from_first(i, name)) for i, t in enumerate(texts)]
            lines.append(_md_row([mark, head, *cells]))
    lines += ["", "\\" + LEGEND + "; **bold**: differs from the first column"]
    return "\n".join(lines) + "\n"


def render_json(matrix: Matrix) -> str:
    """The whole matrix (every row, changed or not) for scripts."""
    return json.dumps({"schema": MATRIX_SCHEMA, **matrix.to_json()}, indent=1, ensure_ascii=False)
