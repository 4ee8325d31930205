"""The plugin's pytest hooks, in the order pytest calls them.

``pytest_configure`` creates the run state and registers :class:`SessionHooks`, an object
holding that state, because some hooks (``pytest_runtest_logreport``,
``pytest_keyboard_interrupt``) receive no config to find it through.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from podshm.errors import InputError, PodshmError, Renderer, use_renderer
from podshm.kube.access import connection_lost
from podshm.plugin.applicable import header_lines, not_run_line, reasons, skip_if_not_applicable
from podshm.plugin.inputs import check_manifests, run_workload_image
from podshm.plugin.lifetime import (
    cleanup,
    handle_sigterm_like_sigint,
    restore_sigterm,
    start_of_run,
    sweep_worker,
)
from podshm.plugin.markers import mark_and_deselect, register_markers
from podshm.plugin.matrix import Matrix, apply_deviation, teststatus
from podshm.plugin.params import NODE_FIXTURE, RUNTIME_FIXTURE, ids_for
from podshm.plugin.prestart import advance, start_prestart
from podshm.plugin.report import (
    P_KEPT_NAMESPACE,
    P_KEPT_PODS,
    P_NAMESPACE,
    REPORTS_KEY,
    attach_diagnostics,
    format_shm_table,
    row_from_properties,
)
from podshm.plugin.runrecord import RunRecorder
from podshm.plugin.state import (
    STATE_KEY,
    WORKERINPUT_RUN_ID,
    RunState,
    load_run_overrides,
    make_state,
)
from podshm.settings import front_end, renderer_for

EXIT_NO_CLUSTER = 2
"""The exit status of a run whose cluster or test image cannot be used (as `podshm`'s)."""
RENDERER_KEY = pytest.StashKey[Renderer]()


def pytest_configure(config: pytest.Config) -> None:
    """Markers, run state, the session hooks, and the xdist hooks when xdist is active."""
    register_markers(config)
    config.stash[RENDERER_KEY] = use_renderer(renderer_for(front_end()))
    state = make_state(config)
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(SessionHooks(state), "podshm-session")
    config.pluginmanager.register(
        RunRecorder(
            config,
            state.run_id,
            facts=lambda: state.cluster().facts if state.connected else None,
            image=lambda: state.image or None,
            options=lambda: result_options(config, state),
        ),
        "podshm-runrecord",
    )
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(state), "podshm-xdist")


def result_options(config: pytest.Config, state: RunState) -> dict[str, str]:
    """The settings that change results, for the run record (what a diff must know)."""
    settings = state.require_settings()
    chosen = {
        "target": state.target.why if state.target else "",
        "pull_policy": settings.pull_policy,
        "node": settings.node or "",
        "expectations": settings.expectations or "",
        "manifests": settings.manifests or "",
        "markexpr": config.getoption("markexpr", default="") or "",
        "keyword": config.getoption("keyword", default="") or "",
    }
    return {k: v for k, v in chosen.items() if v}


def workload_image_line(state: RunState, tests: int) -> str:
    """Which workload image the run uses, and why (the header is printed before collection)."""
    return (
        f"podshm: workload image {state.workload_image} ({state.workload_image_source}), "
        f"run by {tests} selected test(s)"
    )


class SessionHooks:
    """Hooks that need the run state."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.previous_sigterm = handle_sigterm_like_sigint()
        self.matrix = Matrix()

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
            *header_lines(facts),
            f"podshm: run id {self.state.run_id} (namespaces labelled podshm.io/run-id)",
        ]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """``--podshm-nodes`` / ``--podshm-runtime-class``: every test that starts pods runs
        once per selected node and runtime class."""
        settings = self.state.settings
        if settings is None:
            return
        wanted = {NODE_FIXTURE: settings.nodes, RUNTIME_FIXTURE: settings.runtime_class}
        lookups = {NODE_FIXTURE: self.state.nodes, RUNTIME_FIXTURE: self.state.runtime_classes}
        for fixture, asked in wanted.items():
            if not asked or fixture not in metafunc.fixturenames:
                continue
            try:
                values = lookups[fixture]()
            except PodshmError:
                return  # reported once, before any test runs (pytest_collection_finish)
            metafunc.parametrize(fixture, values, ids=ids_for(fixture, values), indirect=True)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Mark cluster tests and deselect benchmarks before ``-m`` is applied."""
        mark_and_deselect(config, items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Before any test runs or any namespace exists: a bad input (a manifest, an image
        no node holds) stops the run with pytest's usage-error exit (4), a cluster or test
        image (or a workload image that selected tests run) that cannot be used with exit 2,
        each as the one line naming cause and fix.

        xdist workers keep the per-test failures instead (each fails at once with the same
        cached line): a worker cannot end the whole run.
        """
        if self.state.is_worker or session.config.option.collectonly:
            return
        if not any(item.get_closest_marker("cluster") for item in session.items):
            return
        try:
            settings = self.state.require_settings()
            check_manifests(settings, session.items)
            self.state.cluster()
            self.state.nodes()
            self.state.runtime_classes()
            runnable = [item for item in session.items if not reasons(self.state, item)]
            workload = run_workload_image(settings, runnable)
            if workload:
                self.state.find_workload_image()
            lines = start_of_run(self.state)
            if workload:
                lines.append(workload_image_line(self.state, len(workload)))
            start_prestart(self.state, runnable)
        except InputError as err:
            pytest.exit(f"podshm: {err}", returncode=pytest.ExitCode.USAGE_ERROR)
        except PodshmError as err:
            pytest.exit(f"podshm: {err}", returncode=EXIT_NO_CLUSTER)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for line in lines:
            if reporter is not None:
                reporter.write_line(line)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Keep the next tests' namespaces and pods being created while this one runs; a
        scenario this cluster cannot host is skipped as not applicable, before its fixtures."""
        advance(item)
        skip_if_not_applicable(self.state, item)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Keep each phase's report (fixtures read it) and attach pod diagnostics on failure."""
        report = yield
        apply_deviation(self.state, item, report)
        item.stash.setdefault(REPORTS_KEY, {})[report.when] = report
        lost = connection_lost(call.excinfo.value) if report.failed and call.excinfo else None
        if lost is not None:
            # One line, and the run ends: every later test would meet the same dead server.
            url = self.state.cluster().api.host if self.state.connected else "the API server"
            report.longrepr = f"podshm: lost the API server at {url} during {report.when}: {lost}"
            item.session.shouldstop = "podshm: the API server stopped answering"
        elif report.failed and report.when in ("setup", "call"):
            attach_diagnostics(item, report)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Gather /dev/shm rows; on the xdist controller these are the workers' reports."""
        if "cluster" in report.keywords:  # a cluster test ran here or on a worker: sweep later
            self.state.saw_namespaces = True
        not_run = not_run_line(report)
        if not_run is not None:
            self.state.not_applicable.append(not_run)
        if report.when == "call" or (report.when == "setup" and not report.passed):
            deviation = teststatus(report)
            self.state.outcomes[report.nodeid] = deviation[0] if deviation else report.outcome
        if report.when != "teardown":
            return
        props = dict(report.user_properties)
        if P_NAMESPACE in props:
            self.state.saw_namespaces = True
        if P_KEPT_PODS in props:
            where = str(props.get(P_KEPT_NAMESPACE, "")).split()
            how = "; ".join(f"kubectl get pods -n {ns} -l {props[P_KEPT_PODS]}" for ns in where)
            self.state.kept.append(f"{report.nodeid}: {how}")
        outcome = self.state.outcomes.pop(report.nodeid, report.outcome)
        self.matrix.add(report.nodeid, props, outcome)
        row = row_from_properties(props, outcome)
        if row is not None:
            self.state.shm_rows.append(row)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The table of /dev/shm scenarios; then anything clean-up could not delete."""
        if self.state.shm_rows:
            terminalreporter.write_sep("=", "podshm /dev/shm summary")
            for line in format_shm_table(self.state.shm_rows):
                terminalreporter.write_line(line)
        if self.state.not_applicable:
            terminalreporter.write_sep("=", "podshm: not applicable on this cluster (not run)")
            for line in self.state.not_applicable:
                terminalreporter.write_line(line)
        if self.matrix.cells:
            terminalreporter.write_sep("=", "podshm runtime matrix")
            for line in self.matrix.lines():
                terminalreporter.write_line(line)
        if self.state.kept:
            terminalreporter.write_sep("=", "podshm: kept for debugging (podshm.io/keep=true)")
            for line in self.state.kept:
                terminalreporter.write_line(line)
        manager = self.state.namespace_manager
        if manager is not None and manager.heartbeat_problem:
            terminalreporter.write_line(
                f"podshm: this run had no heartbeat (creating its Lease failed: "
                f"{manager.heartbeat_problem}): until its namespaces expire, other runs and "
                "`podshm gc` cannot tell it was alive or dead"
            )
        if self.state.sweep.failed:
            terminalreporter.write_sep("=", "podshm: left behind on the cluster", red=True)
            for line in self.state.sweep.failure_lines():
                terminalreporter.write_line(f"podshm: {line}")

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        """A declared deviation is its own outcome: ``D``, counted as ``deviation``."""
        return teststatus(report)

    def pytest_keyboard_interrupt(self) -> None:
        """Ctrl-C or SIGTERM: clean up at once (session finish repeats it, idempotently)."""
        cleanup(self.state, interrupted=True)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """After fixture teardown (trylast): nothing of this run survives but kept namespaces;
        a namespace that could not be deleted is a leak, and fails an otherwise green run."""
        cleanup(self.state)
        if self.state.sweep.failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Give SIGTERM and the error renderer back what they had before this run."""
        restore_sigterm(self.previous_sigterm)
        use_renderer(config.stash[RENDERER_KEY])


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
        sweep_worker(self.state, worker)
