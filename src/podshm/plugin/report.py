"""What a run leaves behind: junit properties, failure diagnostics, the /dev/shm table.

Measurements travel as ``user_properties`` (plain names and ints/strings): junitxml writes them
as ``<property>`` elements, and xdist ships them from workers to the controller, which builds
the terminal summary from them. One mechanism, so the table works with and without ``-n``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from podshm.expectations import ShmExpectation, human_size, sizes_match
from podshm.kube.pods import PodHandle
from podshm.plugin.state import ShmRow

PODS_KEY = pytest.StashKey[list[PodHandle]]()
REPORTS_KEY = pytest.StashKey[dict[str, pytest.TestReport]]()
DIAGNOSTICS_SECTION = "podshm diagnostics"

# Property names (junit <property name=...>).
P_SCENARIO = "shm_scenario"
P_EXPECTED = "expected_shm_size_bytes"
P_OBSERVED = "shm_size_bytes"
P_TMPFS = "shm_is_tmpfs"
P_VERDICT = "shm_verdict"
P_RULE = "expected_shm_rule"
P_NAMESPACE = "namespace"
P_KEPT_NAMESPACE = "kept_namespace"
P_KEPT_PODS = "kept_pods"
P_RUNTIME_CLASS = "runtime_class"
P_DEVIATION = "deviation"


def record(item: pytest.Item, name: str, value: Any) -> None:
    """Set a junit property on a test, replacing an earlier value of the same name."""
    if isinstance(value, bool):
        value = str(value).lower()
    elif value is None:
        value = ""
    elif not isinstance(value, (int, float, str)):
        value = str(value)
    item.user_properties[:] = [(k, v) for k, v in item.user_properties if k != name]
    item.user_properties.append((name, value))


def failure_message(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The failure's own message: the crash line pytest keeps beside any traceback (the
    assertion or exception text), the same whatever ``--tb`` is."""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    return str(message) if message else str(report.longrepr or "")


def shm_verdict(expectation: ShmExpectation, observed_size: int | None, is_tmpfs: bool) -> str:
    """``ok`` or what differs, for one /dev/shm measurement."""
    if expectation.is_tmpfs != is_tmpfs:
        return "MISMATCH (tmpfs)" if expectation.is_tmpfs else "MISMATCH (is tmpfs)"
    if expectation.size_bytes is None:
        return "ok" if not expectation.is_tmpfs else "unpredicted"
    return "ok" if sizes_match(observed_size, expectation.size_bytes) else "MISMATCH"


def record_shm(
    item: pytest.Item,
    scenario: str,
    expectation: ShmExpectation,
    observed_size: int | None,
    is_tmpfs: bool,
) -> str:
    """Record one /dev/shm measurement (properties + summary row); returns the verdict."""
    verdict = shm_verdict(expectation, observed_size, is_tmpfs)
    record(item, P_SCENARIO, scenario)
    record(item, P_EXPECTED, expectation.size_bytes)
    record(item, P_OBSERVED, observed_size)
    record(item, P_TMPFS, is_tmpfs)
    record(item, P_VERDICT, verdict)
    record(item, P_RULE, expectation.rule)
    return verdict


def row_from_properties(props: dict[str, Any], outcome: str) -> ShmRow | None:
    """Turn a finished test's properties back into a summary row."""
    if P_SCENARIO not in props:
        return None

    def as_int(value: Any) -> int | None:
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    return ShmRow(
        scenario=str(props[P_SCENARIO]),
        expected=as_int(props.get(P_EXPECTED)),
        observed=as_int(props.get(P_OBSERVED)),
        verdict=str(props.get(P_VERDICT, "")),
        outcome=outcome,
        node=str(props.get("node", "")),
    )


def format_shm_table(rows: Iterable[ShmRow]) -> list[str]:
    """The /dev/shm summary as aligned text lines, one per scenario and node."""
    header = ("scenario", "node", "expected", "observed", "verdict", "test")
    body = [
        (
            r.scenario,
            r.node or "-",
            human_size(r.expected),
            human_size(r.observed),
            r.verdict,
            r.outcome,
        )
        for r in sorted(rows, key=lambda r: (r.scenario, r.node))
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=False)]
    lines = []
    for row in (header, *body):
        lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    return lines


def attach_diagnostics(item: pytest.Item, report: pytest.TestReport) -> None:
    """On a failure, add every pod's events/statuses/logs as a report section and property."""
    pods = item.stash.get(PODS_KEY, [])
    if not pods:
        return
    text = "\n\n".join(pod.diagnostics() for pod in pods)
    report.sections.append((DIAGNOSTICS_SECTION, text))
    record(item, "pod_diagnostics", text)
