"""The one-step comparison `podshm run --baseline` and `podshm gate` print after a run."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from podshm.records.diff import diff, exit_code
from podshm.records.load import load_record
from podshm.records.schema import RunRecord

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


def compare(base_name: str, base: RunRecord, junit: Path, fail_on: str = "failures") -> int:
    """Print the diff of the run that wrote ``junit`` against ``base``; return its exit code."""
    from podshm.records.render import render_text

    candidate_path = candidate_for(junit)
    result = diff(base, load_record(candidate_path))
    print(render_text(result, base_name, str(candidate_path)))
    return exit_code(result, fail_on)
