"""A pytest junit XML file as a run record, so runs from before run records existed (or from
a plain ``pytest --junitxml``) can still be diffed.

What junit cannot say stays unknown: options, the image digest, the API URL, runtime classes,
node memory. podshm's suite records the node each test ran on as properties (``node``,
``kubelet_version``, ``container_runtime``, ``kernel``, plus ``kubernetes_version``,
``image`` and ``run_id``); those fill the cluster part, best effort. junit also cannot tell
an unexpected pass of an ``xfail`` test from a pass: both read ``passed``.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

from podshm.deviations import is_deviation_text
from podshm.preconditions import is_not_applicable
from podshm.records.ids import nodeid_from_junit, stable_id_from_junit
from podshm.records.schema import (
    NOT_APPLICABLE,
    CaseResult,
    ClusterInfo,
    ImageInfo,
    NodeInfo,
    RunRecord,
    Value,
    normalize_value,
    utc_iso,
)

JUNIT_ROOTS = ("testsuites", "testsuite")
# Properties podshm's fixtures record about where a test ran (podshm.plugin.fixtures).
P_NODE, P_KUBELET, P_RUNTIME, P_KERNEL = "node", "kubelet_version", "container_runtime", "kernel"
P_SERVER, P_IMAGE, P_RUN_ID = "kubernetes_version", "image", "run_id"


def _float(text: str | None) -> float:
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


def _outcome(case: ET.Element) -> tuple[str, str]:
    """(outcome, message) from the testcase's children; a failure outranks a teardown error."""
    for tag, outcome in (("failure", "failed"), ("error", "error")):
        child = case.find(tag)
        if child is not None:
            return outcome, child.get("message") or (child.text or "").strip()
    skipped = case.find("skipped")
    if skipped is not None:
        xfail = skipped.get("type") == "pytest.xfail"
        message = skipped.get("message") or ""
        if xfail and is_deviation_text(message):
            return "deviation", message
        if not xfail and is_not_applicable(message):
            return NOT_APPLICABLE, message
        return ("xfailed" if xfail else "skipped"), message
    return "passed", ""


def _values(case: ET.Element) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for prop in case.iterfind("properties/property"):
        name = prop.get("name")
        if name:
            values[name] = normalize_value(prop.get("value", prop.text))
    return values


def _case(case: ET.Element) -> CaseResult:
    classname, name = case.get("classname", ""), case.get("name", "")
    outcome, message = _outcome(case)
    return CaseResult(
        id=stable_id_from_junit(classname, name),
        nodeid=nodeid_from_junit(classname, name),
        outcome=outcome,
        duration_s=_float(case.get("time")),
        message=message,
        values=_values(case),
    )


def _suite_span(suites: list[ET.Element]) -> tuple[datetime, datetime] | None:
    """(start, end) over the suites that carry a timestamp; naive stamps are local time."""
    spans = []
    for suite in suites:
        try:
            start = datetime.fromisoformat(suite.get("timestamp", ""))
        except ValueError:
            continue
        start = start.astimezone(UTC)  # naive -> local time, as old pytest wrote it
        spans.append((start, start + timedelta(seconds=_float(suite.get("time")))))
    if not spans:
        return None
    return min(s for s, _ in spans), max(e for _, e in spans)


def _cluster(tests: list[CaseResult]) -> ClusterInfo:
    """Nodes and the server version from the properties podshm's fixtures record."""
    nodes: dict[str, NodeInfo] = {}
    server = ""
    for test in tests:
        v = test.values
        server = server or str(v.get(P_SERVER, ""))
        name = str(v.get(P_NODE, ""))
        if not name:
            continue
        node = nodes.setdefault(name, NodeInfo(name=name))
        node.kubelet_version = node.kubelet_version or str(v.get(P_KUBELET, ""))
        node.container_runtime = node.container_runtime or str(v.get(P_RUNTIME, ""))
        node.kernel_version = node.kernel_version or str(v.get(P_KERNEL, ""))
    return ClusterInfo(server_version=server, nodes=sorted(nodes.values(), key=lambda n: n.name))


def _first(tests: list[CaseResult], name: str) -> str:
    return next((str(t.values[name]) for t in tests if t.values.get(name) not in (None, "")), "")


def parse_junit(text: str | bytes, mtime: float | None = None) -> RunRecord:
    """A junit document as a run record; ValueError when it is not junit.

    ``mtime`` (the file's) dates the run when no ``<testsuite timestamp>`` does.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise ValueError(f"not well-formed XML ({err})") from None
    if root.tag not in JUNIT_ROOTS:
        raise ValueError(f"root element is <{root.tag}>, not <testsuites> or <testsuite>")
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = [_case(case) for suite in suites for case in suite.iter("testcase")]
    span = _suite_span(suites)
    if span is None:
        end = datetime.fromtimestamp(mtime, UTC) if mtime is not None else datetime.now(UTC)
        span = (end - timedelta(seconds=sum(t.duration_s for t in tests)), end)
    return RunRecord(
        started=utc_iso(span[0]),
        finished=utc_iso(span[1]),
        run_id=_first(tests, P_RUN_ID),
        image=ImageInfo(ref=_first(tests, P_IMAGE)),
        cluster=_cluster(tests),
        tests=tests,
        podshm_version="unknown",  # the junit file does not say which podshm wrote it
    )


def read_junit(path: str | os.PathLike[str]) -> RunRecord:
    """Read a junit XML file (OSError if unreadable, ValueError if not junit)."""
    file = Path(path)
    return parse_junit(file.read_bytes(), mtime=file.stat().st_mtime)
