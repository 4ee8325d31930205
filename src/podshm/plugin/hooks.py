"""The plugin's pytest hooks, in the order pytest calls them.

``pytest_configure`` creates the run state and registers :class:`SessionHooks`, an object
holding that state, because some hooks (``pytest_runtest_logreport``,
``pytest_keyboard_interrupt``) receive no config to find it through.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from typing import Any

import pytest

from podshm.errors import PodshmError
from podshm.kube.namespaces import sweep_run
from podshm.plugin.markers import mark_and_deselect, register_markers
from podshm.plugin.report import (
    P_NAMESPACE,
    REPORTS_KEY,
    attach_diagnostics,
    format_shm_table,
    row_from_properties,
)
from podshm.plugin.state import (
    STATE_KEY,
    WORKERINPUT_RUN_ID,
    RunState,
    load_run_overrides,
    make_state,
)

EXIT_NO_CLUSTER = 2
"""The exit status of a run whose cluster or test image cannot be used (as `podshm`'s)."""


def pytest_configure(config: pytest.Config) -> None:
    """Markers, run state, the session hooks, and the xdist hooks when xdist is active."""
    register_markers(config)
    state = make_state(config)
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(SessionHooks(state), "podshm-session")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(state), "podshm-xdist")


def cleanup(state: RunState) -> None:
    """Delete this process's namespaces; the controller (or a lone process) sweeps the run.

    Workers never sweep the whole run: the other workers are still using their namespaces.
    """
    if state.namespace_manager is not None:
        with contextlib.suppress(Exception):
            state.namespace_manager.delete_all()
    if state.is_worker or not (state.connected or state.saw_namespaces):
        return
    with contextlib.suppress(Exception):
        sweep_run(state.cluster().api, state.run_id)


class SessionHooks:
    """Hooks that need the run state."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Stop at once on configuration errors (bad option value, malformed expectations)."""
        try:
            load_run_overrides(self.state)
        except PodshmError as err:
            raise pytest.UsageError(f"podshm: {err}") from None

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        """Cluster, versions, nodes, runtime, kernel, image; one line if there is no cluster."""
        try:
            facts = self.state.cluster().facts
        except PodshmError as err:
            return [f"podshm: no usable cluster: {err}"]
        target = self.state.target
        return [
            f"podshm: target {target.why if target else 'unknown'}",
            *facts.header_lines(f"{self.state.image} ({self.state.image_source})"),
            f"podshm: run id {self.state.run_id} (namespaces labelled podshm.io/run-id)",
        ]

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Mark cluster tests and deselect benchmarks before ``-m`` is applied."""
        mark_and_deselect(config, items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """A selected cluster test and no usable cluster (or test image): exit 2 before any
        test runs, with the one line that names the cause and the fix.

        xdist workers keep the per-test failures instead (each fails at once with the same
        cached line): a worker cannot end the whole run.
        """
        if self.state.is_worker or session.config.option.collectonly:
            return
        if not any(item.get_closest_marker("cluster") for item in session.items):
            return
        try:
            self.state.cluster()
        except PodshmError as err:
            pytest.exit(f"podshm: {err}", returncode=EXIT_NO_CLUSTER)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Keep each phase's report (fixtures read it) and attach pod diagnostics on failure."""
        report = yield
        item.stash.setdefault(REPORTS_KEY, {})[report.when] = report
        if report.failed and report.when in ("setup", "call"):
            attach_diagnostics(item, report)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Gather /dev/shm rows; on the xdist controller these are the workers' reports."""
        if "cluster" in report.keywords:  # a cluster test ran here or on a worker: sweep later
            self.state.saw_namespaces = True
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.state.outcomes[report.nodeid] = report.outcome
        if report.when != "teardown":
            return
        props = dict(report.user_properties)
        if P_NAMESPACE in props:
            self.state.saw_namespaces = True
        outcome = self.state.outcomes.pop(report.nodeid, report.outcome)
        row = row_from_properties(props, outcome)
        if row is not None:
            self.state.shm_rows.append(row)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The table of /dev/shm scenarios: expected, observed, verdict."""
        if not self.state.shm_rows:
            return
        terminalreporter.write_sep("=", "podshm /dev/shm summary")
        for line in format_shm_table(self.state.shm_rows):
            terminalreporter.write_line(line)

    def pytest_keyboard_interrupt(self) -> None:
        """Ctrl-C: clean up at once (session finish repeats it, idempotently)."""
        cleanup(self.state)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        """After fixture teardown (trylast): nothing of this run survives but kept namespaces."""
        cleanup(self.state)


class XdistHooks:
    """Controller-side xdist hooks: share the run id, sweep after a crashed worker."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Hand the run id to each worker, so every worker labels with the same run."""
        node.workerinput[WORKERINPUT_RUN_ID] = self.state.run_id

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        """A worker died without its teardown: delete that worker's namespaces now."""
        worker = getattr(getattr(node, "gateway", None), "id", None)
        if error is None or not worker:
            return
        with contextlib.suppress(Exception):
            sweep_run(self.state.cluster().api, self.state.run_id, worker=worker)
