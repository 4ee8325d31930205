"""Known differences of a container runtime, named and checked both ways.

A deviations file lists, per runtime (a RuntimeClass name or its handler) and scenario, the
outcome expected instead of a pass, with a reason and an upstream link::

    deviations:
      - runtime: gvisor
        test:                        # one test id, or a list of them (* is a wildcard)
          - "test_ipc_mechanisms.py::test_ipc_between_containers[posix-mq-own-pid-ns]"
          - "test_ipc_mechanisms.py::test_ipc_between_containers[posix-mq-shared-pid-ns]"
        outcome: failed
        message: "*ENOSYS*"          # optional: a line of the failure's message (* is a wildcard)
        reason: POSIX message queues are not implemented
        link: https://github.com/google/gvisor/issues/136

A matching failure is reported as a *deviation*, never as a pass; a deviation that no longer
happens fails the test, so a file cannot rot. podshm ships profiles (``data/deviations``),
always loaded; the ``deviations`` setting adds a user's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podshm.data import data_path
from podshm.errors import PodshmError
from podshm.yamlfile import load_yaml

OUTCOMES = ("failed",)
PREFIX = "deviation: "
"""How a deviation's reason starts where pytest keeps it (``wasxfail``, junit's xfail message):
the one mark that survives pytest-xdist and a junit file."""
REQUIRED = ("runtime", "test", "outcome", "reason", "link")
FIELDS = (*REQUIRED, "message")
FIX = (
    "each entry of 'deviations:' needs runtime, test (a test id, or a list of them, without the "
    "rc= part), outcome (failed), reason and link; message is optional"
)


def glob_match(pattern: str, text: str) -> bool:
    """``*`` matches anything within one line; everything else, ``[`` of test ids included,
    is literal. A test id is one line, so this is a whole-id match."""
    regex = "[^\n]*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, text) is not None


def says(pattern: str, message: str) -> bool:
    """Whether a line of a failure's own message matches ``pattern``: a declared cause must be
    what the failure says, on one line, not anything found somewhere in a report."""
    return any(glob_match(pattern, line) for line in message.splitlines() or [""])


@dataclass(frozen=True)
class Deviation:
    """One known difference: this test, under this runtime, fails this way, for this reason."""

    runtime: str
    test: str
    outcome: str
    reason: str
    link: str
    message: str = "*"
    source: str = ""

    def applies_to(self, test_id: str, runtime_class: str, handler: str) -> bool:
        """Same runtime (class name or handler) and the test id matches the pattern."""
        return self.runtime in (runtime_class, handler) and glob_match(self.test, test_id)

    def describe(self) -> str:
        """The reason with its link, as reports show it."""
        return f"{self.reason} ({self.link})"


def parse(data: Any, source: str) -> list[Deviation]:
    """Validate one loaded file; every error names the file and the entry."""
    entries = (data or {}).get("deviations") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise PodshmError(f"deviations file {source}: no 'deviations:' list", FIX)
    found = []
    for i, entry in enumerate(entries):
        where = f"deviations file {source}: entry {i + 1}"
        if not isinstance(entry, dict):
            raise PodshmError(f"{where} is not a mapping", FIX)
        missing = [k for k in REQUIRED if not entry.get(k)]
        extra = sorted(set(entry) - set(FIELDS))
        if missing or extra:
            what = f"lacks {', '.join(missing)}" if missing else f"has unknown {', '.join(extra)}"
            raise PodshmError(f"{where} {what}", FIX)
        if entry["outcome"] not in OUTCOMES:
            raise PodshmError(f"{where}: outcome {entry['outcome']!r}", FIX)
        tests = entry["test"] if isinstance(entry["test"], list) else [entry["test"]]
        if not all(isinstance(t, str) and t for t in tests):
            raise PodshmError(f"{where}: test must be a test id or a list of test ids", FIX)
        fields = {k: str(entry[k]) for k in FIELDS if k in entry and k != "test"}
        found += [Deviation(test=test, **fields, source=source) for test in tests]
    return found


def shipped() -> list[Path]:
    """podshm's own profiles (one file per runtime)."""
    return sorted(data_path("deviations").glob("*.yaml"))


def load(paths: list[str | Path]) -> list[Deviation]:
    """podshm's profiles, then the given files (a bad file stops the run, naming it)."""
    found: list[Deviation] = []
    for path in [*shipped(), *map(Path, paths)]:
        option = "{deviations}"
        data = load_yaml(path, "deviations file", option, FIX)
        found += parse(data, str(path))
    return found


def find(
    deviations: list[Deviation], test_id: str, runtime_class: str, handler: str
) -> Deviation | None:
    """The first deviation declared for this test under this runtime."""
    return next((d for d in deviations if d.applies_to(test_id, runtime_class, handler)), None)


@dataclass(frozen=True)
class Verdict:
    """What a declared deviation makes of one outcome."""

    kind: str
    """``deviation`` (it happened as declared), ``gone`` (the test passed: the deviation no
    longer happens, a failure) or ``different`` (it failed otherwise: a plain failure)."""
    text: str


def judge(deviation: Deviation, passed: bool, message: str) -> Verdict:
    """Strict both ways: the declared failure is a deviation; a pass is reported as one.

    ``message`` is the failure's own message (the assertion or exception text), never a
    rendered report: a traceback echoes the test's source, whose text would match a pattern
    whatever failed, and differently for every ``--tb``."""
    if passed:
        return Verdict(
            "gone",
            f"declared deviation no longer happens: {deviation.describe()}; "
            f"remove it from {deviation.source}",
        )
    if not says(deviation.message, message):
        return Verdict(
            "different",
            f"failed, but not as the declared deviation says ({deviation.message!r}): "
            f"{deviation.describe()}",
        )
    return Verdict("deviation", PREFIX + deviation.describe())


def is_deviation_text(text: object) -> bool:
    """Whether an xfail reason is a declared deviation's (see :data:`PREFIX`)."""
    return str(text or "").startswith(PREFIX)
