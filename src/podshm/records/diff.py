"""Compare two run records: what broke, what got fixed, which measurements moved.

The question before an upgrade is "does the candidate cluster do everything the current one
did?". Tests are matched by stable id (:mod:`podshm.records.ids`), so a run from a checkout
and one from an installed wheel line up. Each test lands in exactly one class:

- ``new_failure``: failed/error now, not before (passed, xpassed, skipped or xfailed before);
- ``fixed``: failed/error before, passed/xpassed now;
- ``still_failing``: failed/error in both;
- ``not_applicable``: ran before, reported not applicable now (the candidate cluster lacks
  what the scenario needs, e.g. a second node): a check the gate no longer makes;
- ``outcome_changed``: the outcome differs but nothing started failing or passed again
  (passed -> skipped, xfailed -> xpassed, failed -> skipped): coverage lost or gained;
- ``added``: only in the candidate;
- ``removed``: only in the base, coverage the candidate lost;
- ``value_changed``: same outcome, but a measured value differs (noise aside: :func:`is_noise`);
- ``unchanged``: same outcome, same values.

Value changes are listed on every matched row; only the outcome decides the class, except
between ``value_changed`` and ``unchanged``. The exit code rule is :func:`exit_code`, under a
:class:`Policy` parsed once from the command line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from podshm.records.schema import NOT_APPLICABLE, CaseResult, ClusterInfo, RunRecord, Value

CLASSES = (
    "new_failure",
    "fixed",
    "still_failing",
    "not_applicable",
    "outcome_changed",
    "added",
    "removed",
    "value_changed",
    "unchanged",
)
FAIL_ON = ("failures", "changes")
FAILING = frozenset({"failed", "error"})
PASSING = frozenset({"passed", "xpassed"})

# --- the one ignore rule for values ------------------------------------------------------
# Values that differ from run to run on a healthy cluster, so a difference in them says
# nothing: names of things made per run, kernel object ids, timings, and the facts of where a
# test ran (those are compared once, in the header, not once per test).
NOISE_NAMES = frozenset(
    {
        "namespace",  # per-run namespace names
        "kept_namespace",
        "kept_pods",  # the label selector of a kept test's pods (its label is per run)
        "run_id",
        "pod_diagnostics",  # events and logs of a failed test, with timestamps
        "node",  # where the test ran: the header compares the clusters
        "kubelet_version",
        "container_runtime",
        "kernel",
        "kubernetes_version",
        "image",
    }
)
NOISE_SUFFIXES = (
    "_s",  # durations
    "_seconds",
    "_us",
    "_ns",
    "_per_s",  # rates
    "latency",
    "throughput",
    "duration",
    "_key",  # SysV keys: ftok() derives them from inode numbers, new every run
    "_ipc_namespace",  # IPC namespace ids (ipc:[4026532...]): new for every pod
)
# Bench figures: ``bench.*`` and ``<placement>.<impl>.<size>B.<mode>.<metric>...``
# (podshm.ipcbench.document.junit_properties): speeds, never verdicts.
NOISE_PATTERN = re.compile(r"^(bench\.|[a-z]+\.[a-z0-9_]+\.\d+B\.[a-z]+\.)")
T = TypeVar("T")


def is_noise(name: str) -> bool:
    """True when a value by this name is expected to differ between two healthy runs."""
    return name in NOISE_NAMES or name.endswith(NOISE_SUFFIXES) or bool(NOISE_PATTERN.match(name))


@dataclass(frozen=True)
class ValueChange:
    """One measured value that moved (None: not recorded on that side)."""

    name: str
    before: Value | None
    after: Value | None


@dataclass
class Row:
    """One test's verdict."""

    id: str
    kind: str
    before: str | None  # outcome in the base, None when added
    after: str | None  # outcome in the candidate, None when removed
    message: str = ""  # the candidate's failure message (the base's for removed tests)
    changes: list[ValueChange] = field(default_factory=list)


@dataclass(frozen=True)
class HeaderLine:
    """One cluster fact, before and after."""

    label: str
    before: str
    after: str

    @property
    def changed(self) -> bool:
        """Whether the two runs differ in this fact."""
        return self.before != self.after


@dataclass
class Diff:
    """Everything ``podshm diff`` reports."""

    header: list[HeaderLine]
    rows: list[Row]

    def of(self, kind: str) -> list[Row]:
        """The rows of one class, in the candidate's order (removed ones in the base's)."""
        return [r for r in self.rows if r.kind == kind]

    def counts(self) -> dict[str, int]:
        """Rows per class, every class present."""
        return {kind: len(self.of(kind)) for kind in CLASSES}

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: header, counts and every row."""
        return {
            "header": [
                {"label": h.label, "before": h.before, "after": h.after, "changed": h.changed}
                for h in self.header
            ],
            "counts": self.counts(),
            "rows": [
                {
                    "id": r.id,
                    "class": r.kind,
                    "before": r.before,
                    "after": r.after,
                    "message": r.message,
                    "changes": [
                        {"name": c.name, "before": c.before, "after": c.after} for c in r.changes
                    ],
                }
                for r in self.rows
            ],
        }


@dataclass(frozen=True)
class Policy:
    """What makes a comparison a regression, as the command line said it."""

    fail_on: str = "failures"
    """``failures``: new failures, removed tests and checks no longer made; ``changes``: also
    changed values and outcomes."""
    allow_not_applicable: bool = False
    """A check that ran before and is not applicable now (the candidate lacks a second node,
    say) is accepted instead of failing the comparison."""

    def __post_init__(self) -> None:
        if self.fail_on not in FAIL_ON:
            raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}, not {self.fail_on!r}")


DEFAULT_POLICY = Policy()


def exit_code(result: Diff, policy: Policy = DEFAULT_POLICY) -> int:
    """0 when nothing regressed; 1 on a new failure, a removed test or a check that ran before
    and is not applicable now (unless the policy allows it), and with ``fail_on="changes"``
    also on a changed value or outcome."""
    counts = result.counts()
    if counts["new_failure"] or counts["removed"]:
        return 1
    if counts["not_applicable"] and not policy.allow_not_applicable:
        return 1
    if policy.fail_on == "changes" and (counts["value_changed"] or counts["outcome_changed"]):
        return 1
    return 0


def same_value(a: Value | None, b: Value | None) -> bool:
    """Equal values of the same kind: ``True`` is not ``1``, but ``1`` is ``1.0``."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def value_changes(before: dict[str, Value], after: dict[str, Value]) -> list[ValueChange]:
    """Changed, added and dropped values, noise left out, by name."""
    names = sorted(n for n in set(before) | set(after) if not is_noise(n))
    return [
        ValueChange(n, before.get(n), after.get(n))
        for n in names
        if not same_value(before.get(n), after.get(n))
    ]


def classify(before: str, after: str, changed_values: bool) -> str:
    """The class of a test present in both runs (see the module docstring)."""
    if after in FAILING:
        return "still_failing" if before in FAILING else "new_failure"
    if after == NOT_APPLICABLE and before != NOT_APPLICABLE:
        return "not_applicable"
    if before in FAILING:
        return "fixed" if after in PASSING else "outcome_changed"
    if before != after:
        return "outcome_changed"
    return "value_changed" if changed_values else "unchanged"


def unique_keys(pairs: Iterable[tuple[str, T]]) -> dict[str, T]:
    """``(key, item)`` pairs as a dict in their order; a repeated key gets ``#2``, ``#3``...
    (the same file name in two directories, two runs given the same label)."""
    out: dict[str, T] = {}
    for first, item in pairs:
        key, n = first, 1
        while key in out:
            n += 1
            key = f"{first}#{n}"
        out[key] = item
    return out


def _indexed(record: RunRecord) -> dict[str, CaseResult]:
    """Tests by stable id (a repeated one gets ``#2``...)."""
    return unique_keys((test.id, test) for test in record.tests)


def cluster_facts(cluster: ClusterInfo) -> list[tuple[str, str]]:
    """(label, text) of what decides IPC behaviour: server, kubelets, runtimes, kernels, nodes."""

    def distinct(attr: str) -> str:
        return ", ".join(sorted({getattr(n, attr) for n in cluster.nodes} - {""})) or "unknown"

    return [
        ("Kubernetes", cluster.server_version or "unknown"),
        ("kubelet", distinct("kubelet_version")),
        ("runtime", distinct("container_runtime")),
        ("kernel", distinct("kernel_version")),
        ("nodes", str(len(cluster.nodes)) if cluster.nodes else "unknown"),
    ]


def compare_clusters(base: RunRecord, candidate: RunRecord) -> list[HeaderLine]:
    """Server version, kubelets, runtimes, kernels, node count and image, before and after."""
    lines = [
        HeaderLine(label, b, a)
        for (label, b), (_, a) in zip(
            cluster_facts(base.cluster), cluster_facts(candidate.cluster), strict=True
        )
    ]
    lines.append(HeaderLine("image", base.image.ref or "unknown", candidate.image.ref or "unknown"))
    return lines


def diff(base: RunRecord, candidate: RunRecord) -> Diff:
    """Match tests by stable id and classify each (candidate order, then removed ones)."""
    old, new = _indexed(base), _indexed(candidate)
    rows: list[Row] = []
    for key, test in new.items():
        prev = old.get(key)
        if prev is None:
            rows.append(Row(key, "added", None, test.outcome, test.message))
            continue
        changes = value_changes(prev.values, test.values)
        kind = classify(prev.outcome, test.outcome, bool(changes))
        rows.append(Row(key, kind, prev.outcome, test.outcome, test.message, changes))
    for key, test in old.items():
        if key not in new:
            rows.append(Row(key, "removed", test.outcome, None, test.message))
    return Diff(compare_clusters(base, candidate), rows)
