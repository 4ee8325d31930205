"""Many runs side by side: the behaviour matrix of ``podshm matrix``.

``podshm diff`` judges a candidate against a base; the matrix only shows what each cluster
did, so a reader can compare Kubernetes versions, runtimes or a fleet of clusters from their
run records alone, without running anything.

Columns. One per run, in the order given, labelled by the user or after the file. A run made
with ``--podshm-runtime-class`` or ``--podshm-nodes`` names the class (node) in its test ids
(``[...-rc=gvisor]``, ``[node=vm-1]``): that part says which column a test belongs to, not
which scenario it is, so such a run becomes one column per class (node), the part dropped
from the row id. Its tests without the part (the default runtime, or wherever the
scheduler put them) make one column more.

Rows. One per scenario (stable id, :mod:`podshm.records.ids`), in order of first appearance.

Cells. The test's outcome, shown as it is (an outcome a newer schema adds needs nothing
here), and its observed values: the values ``podshm diff`` compares (not
:func:`podshm.records.diff.is_noise`) that are not context (:func:`is_context`), i.e. what
the cluster did, not what the column already says or what podshm predicted or decided.

Changes. A row changes when its cells are not all alike: the scenario is missing from some
column, the outcomes differ, or an observed value differs (:func:`same_value`, as diff).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from podshm.records.diff import cluster_facts, is_noise, same_value, unique_keys
from podshm.records.ids import NODE_WORD, RUNTIME_CLASS_WORD, without_param
from podshm.records.schema import CaseResult, ClusterInfo, RunRecord, Value

# Values that are context, not observation (property names of podshm.plugin.report and the
# fixtures): the column's own runtime class and nodes, the node's page size, podshm's
# bookkeeping (prestarted pods, the declared deviation's text: the outcome says it), and
# podshm's prediction and judgement of a measurement (expected_*, *_rule, *_verdict,
# *_scenario: the row names it).
CONTEXT_NAMES = frozenset({"runtime_class", "page_size", "prestarted", "deviation"})
CONTEXT_PREFIXES = ("expected_",)
CONTEXT_SUFFIXES = ("_node", "_rule", "_verdict", "_scenario")
NODES_LISTED = 3  # more nodes than this are a count in a column's facts


def is_context(name: str) -> bool:
    """True when a value by this name describes the setup or podshm's verdict, not the cluster."""
    return (
        name in CONTEXT_NAMES
        or name.startswith(CONTEXT_PREFIXES)
        or name.endswith(CONTEXT_SUFFIXES)
    )


def observed(values: dict[str, Value]) -> dict[str, Value]:
    """The values a cell shows and compares: neither noise nor context."""
    return {n: v for n, v in values.items() if not is_noise(n) and not is_context(n)}


@dataclass(frozen=True)
class Run:
    """One run record and what to call it."""

    label: str
    record: RunRecord
    source: str = ""  # where it was read from, for people


@dataclass(frozen=True)
class Column:
    """One run, or one runtime class or node of a run, and the facts of where it ran."""

    label: str
    run: str
    runtime_class: str = ""  # "": not split by runtime class (the default runtime)
    node: str = ""  # "": not split by node
    facts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Cell:
    """One scenario in one column."""

    outcome: str
    values: dict[str, Value] = field(default_factory=dict)


def _alike(values: Sequence[Value | None]) -> bool:
    return all(same_value(values[0], v) for v in values[1:])


@dataclass
class Row:
    """One scenario across the columns (None: it did not run there)."""

    id: str
    cells: list[Cell | None]

    def present(self) -> list[Cell]:
        """The cells of the columns the scenario ran in."""
        return [c for c in self.cells if c is not None]

    def names(self) -> list[str]:
        """Every observed value's name, sorted."""
        return sorted({n for c in self.present() for n in c.values})

    def changed_names(self) -> list[str]:
        """The observed values that differ among the columns the scenario ran in."""
        present = self.present()
        return [n for n in self.names() if not _alike([c.values.get(n) for c in present])]

    @property
    def changed(self) -> bool:
        """Missing somewhere, different outcomes, or a differing observed value."""
        present = self.present()
        return (
            len(present) < len(self.cells)
            or len({c.outcome for c in present}) > 1
            or bool(self.changed_names())
        )

    def differs_from_first(self, index: int, name: str | None = None) -> bool:
        """Whether cell ``index`` (its value ``name``, else its outcome) differs from the
        first column's: the first run is the reference, as the base of ``podshm diff``."""
        first, cell = self.cells[0], self.cells[index]
        if first is None or cell is None:
            return (first is None) != (cell is None)
        if name is None:
            return first.outcome != cell.outcome
        return not same_value(first.values.get(name), cell.values.get(name))


@dataclass
class Matrix:
    """Everything ``podshm matrix`` shows."""

    runs: list[Run]
    columns: list[Column]
    rows: list[Row]

    def changed(self) -> list[Row]:
        """The rows whose cells differ."""
        return [r for r in self.rows if r.changed]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: the runs, the columns with their facts, every row and cell."""
        return {
            "runs": [
                {"label": r.label, "source": r.source, "run_id": r.record.run_id} for r in self.runs
            ],
            "columns": [
                {
                    "label": c.label,
                    "run": c.run,
                    "runtime_class": c.runtime_class,
                    "node": c.node,
                    "facts": dict(c.facts),
                }
                for c in self.columns
            ],
            "counts": {"rows": len(self.rows), "changed": len(self.changed())},
            "rows": [
                {
                    "id": r.id,
                    "changed": r.changed,
                    "changed_values": r.changed_names(),
                    "cells": [
                        None if c is None else {"outcome": c.outcome, "values": c.values}
                        for c in r.cells
                    ],
                }
                for r in self.rows
            ],
        }


def _candidates(own: Value | None, known: Iterable[str]) -> list[str]:
    """Values a test's parameter may have: the one the test recorded, then the cluster's,
    longest first (``kind-worker`` before ``kind``, see :func:`without_param`)."""
    first = [str(own)] if own not in (None, "") else []
    return first + sorted(set(known) - {"", *first}, key=len, reverse=True)


def _take(test_id: str, word: str, candidates: list[str]) -> tuple[str, str]:
    """(the id without ``word=value``, value) for the first candidate the id names."""
    for value in candidates:
        row = without_param(test_id, word, value)
        if row != test_id:
            return row, value
    return test_id, ""


def place(test: CaseResult, cluster: ClusterInfo) -> tuple[str, str, str]:
    """(row id, runtime class, node) of one test; "" where the id names none."""
    classes = _candidates(
        test.values.get("runtime_class"), (r.name for r in cluster.runtime_classes)
    )
    row, runtime_class = _take(test.id, RUNTIME_CLASS_WORD, classes)
    nodes = _candidates(test.values.get("node"), (n.name for n in cluster.nodes))
    row, node = _take(row, NODE_WORD, nodes)
    return row, runtime_class, node


def _split(record: RunRecord) -> dict[tuple[str, str], dict[str, CaseResult]]:
    """The run's tests by (runtime class, node), then by row id; a run without tests still
    makes a column."""
    groups: dict[tuple[str, str], list[tuple[str, CaseResult]]] = {}
    for test in record.tests:
        row, runtime_class, node = place(test, record.cluster)
        groups.setdefault((runtime_class, node), []).append((row, test))
    return {key: unique_keys(pairs) for key, pairs in groups.items()} or {("", ""): {}}


def _runtime_class_text(cluster: ClusterInfo, name: str) -> str:
    if not name:
        return "none"
    handler = next((r.handler for r in cluster.runtime_classes if r.name == name), "")
    return f"{name} ({handler})" if handler and handler != name else name


def _nodes_text(names: list[str]) -> str:
    if len(names) > NODES_LISTED:
        return f"{len(names)} nodes"
    return ", ".join(names) or "unknown"


def column_facts(
    cluster: ClusterInfo, runtime_class: str, node: str
) -> tuple[tuple[str, str], ...]:
    """podshm diff's cluster facts, narrowed to the column's node, its RuntimeClass, nodes."""
    nodes = [n for n in cluster.nodes if n.name == node] if node else cluster.nodes
    facts = [f for f in cluster_facts(replace(cluster, nodes=nodes)) if f[0] != "nodes"]
    names = [node] if node else sorted(n.name for n in cluster.nodes if n.name)
    return (
        *facts,
        ("RuntimeClass", _runtime_class_text(cluster, runtime_class)),
        ("nodes", _nodes_text(names)),
    )


def _column(run: Run, runtime_class: str, node: str) -> Column:
    words = [f"{RUNTIME_CLASS_WORD}={runtime_class}"] if runtime_class else []
    words += [f"{NODE_WORD}={node}"] if node else []
    return Column(
        label=" ".join([run.label, *words]),
        run=run.label,
        runtime_class=runtime_class,
        node=node,
        facts=column_facts(run.record.cluster, runtime_class, node),
    )


def _cell(test: CaseResult | None) -> Cell | None:
    return None if test is None else Cell(test.outcome, observed(test.values))


def build(runs: Sequence[Run]) -> Matrix:
    """The matrix of ``runs`` in their order; a repeated label gets ``#2``..."""
    unique = [
        replace(run, label=label) for label, run in unique_keys((r.label, r) for r in runs).items()
    ]
    columns: list[Column] = []
    tables: list[dict[str, CaseResult]] = []
    for run in unique:
        for (runtime_class, node), tests in _split(run.record).items():
            columns.append(_column(run, runtime_class, node))
            tables.append(tests)
    ids = dict.fromkeys(key for table in tables for key in table)
    rows = [Row(key, [_cell(table.get(key)) for table in tables]) for key in ids]
    return Matrix(unique, columns, rows)
