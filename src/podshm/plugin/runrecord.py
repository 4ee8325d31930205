"""Write the run record (``podshm-run/1``) beside the junit XML at the end of a run.

junit keeps outcomes and properties but not the cluster they came from; the run record keeps
both, so ``podshm diff`` can say "Kubernetes v1.36.3 → v1.37.2: 2 new failures".
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from podshm.deviations import is_deviation_text
from podshm.plugin.report import failure_message
from podshm.preconditions import is_not_applicable
from podshm.records.ids import stable_id_from_nodeid
from podshm.records.report import record_path
from podshm.records.schema import (
    NOT_APPLICABLE,
    CaseResult,
    ClusterInfo,
    ImageInfo,
    NodeInfo,
    RunRecord,
    RuntimeClassInfo,
    normalize_value,
    utc_iso,
    validate,
)

FAILING = ("failed", "error")


def phase_outcome(report: pytest.TestReport) -> tuple[str, str]:
    """(outcome, message) of one phase, in the record's words, messages as junit has them."""
    xfail = hasattr(report, "wasxfail")
    if xfail and is_deviation_text(report.wasxfail):
        return "deviation", str(report.wasxfail)
    if report.passed:
        return ("xpassed" if xfail else "passed"), ""
    if report.skipped:
        if xfail:
            return "xfailed", str(report.wasxfail)
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        text = str(reason or "").removeprefix("Skipped: ")
        return (NOT_APPLICABLE if is_not_applicable(text) else "skipped"), text
    if report.when == "call":
        return "failed", failure_message(report)
    return "error", f'failed on {report.when} with "{failure_message(report)}"'


def with_page_sizes(cluster: ClusterInfo, results: Any) -> ClusterInfo:
    """Fill each node's page size from what the suite measured on it (``page_size`` values
    recorded with ``node``): the API does not report it, a pod on the node does."""
    sizes = {
        str(r.values["node"]): int(r.values["page_size"])
        for r in results
        if "node" in r.values and isinstance(r.values.get("page_size"), int)
    }
    for node in cluster.nodes:
        if node.page_size_bytes is None and node.name in sizes:
            node.page_size_bytes = sizes[node.name]
    return cluster


def cluster_from_facts(facts: Any) -> ClusterInfo:
    """A ``ClusterFacts``-like object (see ``podshm.kube.facts``) as the record's cluster.

    Duck-typed (``getattr`` with defaults): fields the facts do not (yet) carry, like the page
    size or runtime classes, come out unknown instead of failing the record.
    """
    if facts is None:
        return ClusterInfo()
    nodes = [
        NodeInfo(
            name=str(getattr(n, "name", "")),
            kubelet_version=str(getattr(n, "kubelet_version", "")),
            container_runtime=str(getattr(n, "container_runtime", "")),
            kernel_version=str(getattr(n, "kernel_version", "")),
            os_image=str(getattr(n, "os_image", "")),
            architecture=str(getattr(n, "architecture", "")),
            allocatable_memory_bytes=getattr(n, "allocatable_memory_bytes", None),
            page_size_bytes=getattr(n, "page_size_bytes", None),
        )
        for n in getattr(facts, "nodes", ()) or ()
    ]
    runtime_classes = [
        RuntimeClassInfo(
            name=str(getattr(rc, "name", "")),
            handler=str(getattr(rc, "handler", "")),
            overhead_memory_bytes=getattr(rc, "overhead_memory_bytes", None),
        )
        for rc in getattr(facts, "runtime_classes", ()) or ()
    ]
    return ClusterInfo(
        context=str(getattr(facts, "context", "")),
        api_url=str(getattr(facts, "api_server_url", "")),
        server_version=str(getattr(facts, "server_version", "")),
        nodes=nodes,
        runtime_classes=runtime_classes,
    )


class RunRecorder:
    """Collects every test's outcome and properties; writes the record at session finish.

    Where: beside the junit XML (``--junitxml``), as ``podshm-<stamp>.json``; nothing is
    written without ``--junitxml``. Only the xdist controller (or a lone pytest) writes: the
    controller sees every worker's reports, with their ``user_properties``. On a worker the
    recorder does nothing, so it can be registered on every process.

    Register it once per process in ``pytest_configure``, before the session starts::

        config.pluginmanager.register(
            RunRecorder(
                config,
                state.run_id,
                facts=lambda: state.cluster().facts if state.connected else None,
                image=lambda: state.settings.image if state.settings else None,
                options=lambda: {"expectations": ..., "node": ...},
            ),
            "podshm-runrecord",
        )

    The callables run once, at session finish, so they see the connection the run made
    (and never open one); an exception from them leaves that part of the record unknown.
    ``options`` are the settings that change results (str -> str).
    """

    def __init__(
        self,
        config: pytest.Config,
        run_id: str,
        facts: Callable[[], Any | None],
        image: Callable[[], str | None],
        options: Callable[[], Mapping[str, Any]],
    ) -> None:
        self.config = config
        self.run_id = run_id
        self._facts = facts
        self._image = image
        self._options = options
        self.started = datetime.now(UTC)
        self.results: dict[str, CaseResult] = {}
        self.written: Path | None = None
        self.problems: list[str] = []
        xmlpath = getattr(config.option, "xmlpath", None)
        # Resolved now, like pytest's junitxml does, in case a test changes directory.
        self.junit_path = Path(os.path.abspath(xmlpath)) if xmlpath else None

    @property
    def is_worker(self) -> bool:
        """True inside an xdist worker, which never writes."""
        return hasattr(self.config, "workerinput")

    def _result(self, nodeid: str) -> CaseResult:
        if nodeid not in self.results:
            self.results[nodeid] = CaseResult(stable_id_from_nodeid(nodeid), nodeid, "passed")
        return self.results[nodeid]

    def pytest_sessionstart(self) -> None:
        """The run starts now (construction may have been earlier, in configure)."""
        self.started = datetime.now(UTC)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A module that fails to import is an error, as in junit (its tests went missing)."""
        if self.is_worker or not report.failed:
            return
        result = self._result(report.nodeid)
        result.outcome, result.message = "error", f"collection failure: {failure_message(report)}"

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Fold the three phases into one result: the call decides, unless setup did not pass;
        a failing teardown turns a non-failure into an error. Durations add up, like junit."""
        if self.is_worker:
            return
        result = self._result(report.nodeid)
        result.duration_s = round(result.duration_s + report.duration, 6)
        result.values.update((k, normalize_value(v)) for k, v in report.user_properties)
        outcome, message = phase_outcome(report)
        decides = report.when == "call" or (report.when == "setup" and not report.passed)
        spoils = report.when == "teardown" and report.failed and result.outcome not in FAILING
        if decides or spoils:
            result.outcome, result.message = outcome, message

    def build(self) -> RunRecord:
        """The record as of now; a failing fact source leaves its part unknown (and noted)."""

        def ask(what: str, source: Callable[[], Any]) -> Any:
            try:
                return source()
            except Exception as err:  # a broken cluster must not lose the record
                self.problems.append(f"{what} unknown: {err}")
                return None

        facts = ask("cluster facts", self._facts)
        ref = str(ask("image", self._image) or "")
        options = ask("options", self._options) or {}
        return RunRecord(
            started=utc_iso(self.started),
            finished=utc_iso(),
            run_id=self.run_id,
            options={str(k): "" if v is None else str(v) for k, v in options.items()},
            image=ImageInfo(ref=ref, digest=facts.image_digest(ref) if facts else None),
            cluster=with_page_sizes(cluster_from_facts(facts), self.results.values()),
            tests=list(self.results.values()),
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        """Write ``podshm-<stamp>.json`` beside the junit XML (controller only)."""
        if self.is_worker or self.junit_path is None:
            return
        doc = self.build().to_json()
        self.problems += [f"schema problem (a bug): {p}" for p in validate(doc)]
        path = record_path(self.junit_path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        except OSError as err:
            self.problems.append(f"cannot write {path}: {err}")
            return
        self.written = path

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Say where the record went, next to pytest's "generated xml file" line."""
        for problem in self.problems:
            terminalreporter.write_line(f"podshm: run record: {problem}")
        if self.written is not None:
            terminalreporter.write_sep("-", f"podshm run record: {self.written}")
