"""The runtime matrix: each scenario under each RuntimeClass, with declared deviations.

A test run under ``--podshm-runtime-class`` carries its class (junit property
``runtime_class``). If a deviations file declares how that test differs under that runtime,
the declared failure is reported as its own outcome, ``deviation`` (``D`` in the progress
line, the reason and link in the report); a pass of such a test fails it ("no longer
happens"). The summary is a table: scenarios as rows, runtime classes as columns.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from podshm.deviations import find, is_deviation_text, judge
from podshm.plugin.params import RUNTIME_FIXTURE, item_param, without_runtime_class
from podshm.plugin.report import P_DEVIATION, P_RUNTIME_CLASS, failure_message, record
from podshm.plugin.state import RunState
from podshm.records.ids import stable_id_from_nodeid

DEVIATION = "deviation"


def scenario_row(nodeid: str, runtime_class: str | None) -> str:
    """The matrix row (and the id deviations match): stable id without the ``rc=`` part."""
    return without_runtime_class(stable_id_from_nodeid(nodeid), runtime_class)


def apply_deviation(state: RunState, item: pytest.Item, report: pytest.TestReport) -> None:
    """Turn the call phase's outcome into a deviation (declared failure) or a failure (the
    declared deviation did not happen), as the deviations files say."""
    runtime_class = item_param(item, RUNTIME_FIXTURE)
    if report.when != "call" or not runtime_class or report.skipped:
        return
    handlers = {rc.name: rc.handler for rc in state.cluster().facts.runtime_classes}
    row = scenario_row(item.nodeid, runtime_class)
    declared = find(state.deviations, row, runtime_class, handlers.get(runtime_class, ""))
    if declared is None:
        return
    verdict = judge(declared, report.passed, failure_message(report))
    record(item, P_DEVIATION, verdict.text)
    if verdict.kind == "gone":
        report.outcome = "failed"
        report.longrepr = f"podshm: {row} under {runtime_class}: {verdict.text}"
    elif verdict.kind == "different":
        report.sections.append(("podshm deviation", verdict.text))
    else:
        report.outcome = "skipped"
        report.wasxfail = verdict.text  # pytest's xfail slot


def teststatus(report: pytest.TestReport) -> tuple[str, str, str] | None:
    """``deviation`` / ``D`` / ``DEVIATION`` in the progress line and the final counts."""
    if report.when == "call" and is_deviation_text(getattr(report, "wasxfail", None)):
        return DEVIATION, "D", "DEVIATION"
    return None


class Matrix:
    """Outcomes by scenario and runtime class, gathered from the reports (xdist too)."""

    def __init__(self) -> None:
        self.cells: dict[str, dict[str, str]] = defaultdict(dict)
        self.columns: dict[str, None] = {}

    def add(self, nodeid: str, properties: dict[str, object], outcome: str) -> None:
        """One finished test (its teardown report's properties and its outcome)."""
        runtime_class = str(properties.get(P_RUNTIME_CLASS) or "")
        if not runtime_class:
            return
        self.columns[runtime_class] = None
        cell = DEVIATION if is_deviation_text(properties.get(P_DEVIATION)) else outcome
        self.cells[scenario_row(nodeid, runtime_class)][runtime_class] = cell

    def lines(self) -> list[str]:
        """The table as aligned text ('-' where a scenario did not run under a class)."""
        columns = list(self.columns)
        header = ["scenario", *columns]
        body = [[row, *(cells.get(c, "-") for c in columns)] for row, cells in self.cells.items()]
        body.sort()
        widths = [max(len(x) for x in col) for col in zip(header, *body, strict=False)]
        return [
            "  ".join(x.ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
            for line in (header, *body)
        ]
