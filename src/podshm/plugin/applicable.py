"""Scenarios the cluster cannot host: reported *not applicable*, never failed, never hidden.

The rules are :mod:`podshm.preconditions`; here they meet pytest: a scenario whose need the
cluster lacks is skipped at setup with the not-applicable reason (junit keeps it as the
``<skipped message>``, the run record as the outcome ``not-applicable``), the report header
names the needs this cluster does not meet, and the summary lists every scenario not run.
"""

from __future__ import annotations

import dataclasses

import pytest

from podshm.errors import PodshmError
from podshm.kube.facts import ClusterFacts, read_kubelet_allowlist
from podshm.plugin.params import NODE_FIXTURE, RUNTIME_FIXTURE, item_param
from podshm.plugin.state import RunState
from podshm.preconditions import (
    KUBELET_CONFIG_NEEDS,
    NEEDS,
    Where,
    is_not_applicable,
    reason,
    unmet_needs,
)

REASONS_KEY = pytest.StashKey[list[str]]()


def reasons(state: RunState, item: pytest.Item) -> list[str]:
    """Why ``item`` cannot run on this cluster (empty: it can), looked up once per test.

    Without a usable cluster nothing is declared not applicable: the cluster error is what
    the run reports.
    """
    if REASONS_KEY not in item.stash:
        try:
            facts = state.cluster().facts
        except PodshmError:
            return []
        markers = [m.name for m in item.iter_markers() if m.name in NEEDS]
        handlers = {rc.name: rc.handler for rc in facts.runtime_classes}
        runtime_class = item_param(item, RUNTIME_FIXTURE)
        node = item_param(item, NODE_FIXTURE) or state.require_settings().node
        where = Where(handlers.get(runtime_class or "", runtime_class or ""), node)
        if KUBELET_CONFIG_NEEDS & set(markers):
            facts = with_kubelet_allowlists(state, facts, where)
        item.stash[REASONS_KEY] = unmet_needs(markers, facts, where)
    return item.stash[REASONS_KEY]


def with_kubelet_allowlists(state: RunState, facts: ClusterFacts, where: Where) -> ClusterFacts:
    """The facts with the kubelet allowlist of each node ``where`` may use, read through the
    API server once per node and run (only for scenarios that declare such a need)."""
    known = state.kubelet_allowlists
    api = state.cluster().api
    usable = {n.name for n in where.nodes(facts)}
    for node in facts.nodes:
        if node.name in usable and node.name not in known:
            known[node.name] = read_kubelet_allowlist(api, node.name, dict(node.annotations))
    nodes = tuple(
        dataclasses.replace(n, kubelet_allowlist=known[n.name]) if n.name in known else n
        for n in facts.nodes
    )
    return dataclasses.replace(facts, nodes=nodes)


def skip_if_not_applicable(state: RunState, item: pytest.Item) -> None:
    """At setup, before any fixture: skip with the not-applicable reason."""
    found = reasons(state, item)
    if found:
        pytest.skip(reason("; ".join(found)))


def header_lines(facts: ClusterFacts) -> list[str]:
    """One line per need this cluster does not meet (scenarios with it will not run)."""
    return [
        f"podshm: not applicable on this cluster: -m {need.marker} scenarios ({unmet})"
        for need in NEEDS.values()
        if (unmet := need.unmet(facts)) is not None
    ]


def not_run_line(report: pytest.TestReport) -> str | None:
    """The summary line of a not-applicable test (None for every other report)."""
    if report.when != "setup" or not report.skipped or not isinstance(report.longrepr, tuple):
        return None
    text = str(report.longrepr[2])
    if not is_not_applicable(text):
        return None
    return f"{report.nodeid}: {text.removeprefix('Skipped: ')}"
