"""The one-step comparison `podshm run --baseline` and `podshm gate` print after a run."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from podshm.records.diff import DEFAULT_POLICY, FAILING, Policy, diff, exit_code
from podshm.records.load import load_record
from podshm.records.schema import CaseResult, RunRecord

_JUNIT_NAME = re.compile(r"^junit-(?P<stamp>.+)\.xml$")


def record_path(junit_path: str | os.PathLike[str], now: float | None = None) -> Path:
    """``reports/junit-<stamp>.xml`` -> ``reports/podshm-<stamp>.json``, so the two files of
    one run sort together; any other junit name gets the local time as stamp."""
    junit = Path(junit_path)
    match = _JUNIT_NAME.match(junit.name)
    stamp = match["stamp"] if match else time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return junit.parent / f"podshm-{stamp}.json"


def candidate_for(junit: Path) -> Path:
    """The run's record beside its junit file, else the junit file itself."""
    record = record_path(junit)
    return record if record.is_file() else junit


def compare(base_name: str, base: RunRecord, junit: Path, policy: Policy = DEFAULT_POLICY) -> int:
    """Print the diff of the run that wrote ``junit`` against ``base``; return its exit code."""
    from podshm.records.render import render_text

    candidate_path = candidate_for(junit)
    result = diff(base, load_record(candidate_path))
    print(render_text(result, base_name, str(candidate_path)))
    return exit_code(result, policy)


def unaccepted_failures(record: RunRecord, accepted: RunRecord | None) -> list[CaseResult]:
    """The tests that failed (or errored) in ``record`` and not in ``accepted``, a baseline run
    whose failures are known and accepted; every failure when there is no baseline."""
    known = {t.id for t in accepted.tests if t.outcome in FAILING} if accepted else set()
    return [t for t in record.tests if t.outcome in FAILING and t.id not in known]


def step_failure(name: str, exit_status: int, record: RunRecord, accepted: RunRecord | None) -> str:
    """Why one suite run of a gate fails it ("" when it passes): failures the baseline does
    not accept, or a red exit with no failing test (a namespace the run could not delete)."""
    failures = unaccepted_failures(record, accepted)
    if failures:
        shown = ", ".join(t.id for t in failures[:5])
        more = f" and {len(failures) - 5} more" if len(failures) > 5 else ""
        whose = " not in the baseline" if accepted else ""
        return f"{name}: {len(failures)} failing test(s){whose}: {shown}{more}"
    if exit_status != 0 and not unaccepted_failures(record, None):
        return f"{name}: the suite exited {exit_status} with no failing test (see its summary)"
    return ""
