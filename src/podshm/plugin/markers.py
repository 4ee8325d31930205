"""The suite's markers, registered so ``--strict-markers`` accepts them and ``-m`` selects.

``cluster`` is also added automatically to every test that uses a podshm cluster fixture, so
``-m "not cluster"`` always means "runs without Kubernetes". ``bench`` and ``workload`` tests
are opt-in: deselected unless the ``-m`` expression names them (:func:`selects_opt_in`, also
how ``podshm run`` decides to build the workload image).
"""

from __future__ import annotations

import re

import pytest

MARKERS: dict[str, str] = {
    "sysv": "System V IPC (shmget/semget/msgget) between containers",
    "posix": "POSIX IPC (shm_open, sem_open, mq_open) between containers",
    "shm": "/dev/shm size and tmpfs behaviour (runtime default, emptyDir medium Memory)",
    "isolation": "IPC isolation between pods and Pod Security rules about the IPC namespace",
    "cluster": "needs a Kubernetes cluster (added automatically to tests using podshm fixtures)",
    "destructive": "writes past a memory limit on purpose (may OOM-kill or evict the pod)",
    "userns": "pods with hostUsers: false (a user namespace per pod)",
    "userns_runtime": "runs a user-namespaced pod: needs a runtime handler with user namespaces "
    "(node status runtimeHandlers); reported not applicable under one without",
    "multinode": "needs two Ready nodes: on a cluster with fewer it is reported not applicable "
    "(skipped with that reason, outcome not-applicable in the run record)",
    "kubelet_configz": "reads the kubelet's configuration (GET nodes/<node>/proxy/configz): "
    "reported not applicable for a user without get on nodes/proxy",
    "allows_ipc_sysctls": "needs a node whose kubelet allows the unsafe IPC sysctls "
    "kernel.msgmax, kernel.msgmnb, kernel.sem (allowedUnsafeSysctls; podshm cluster up "
    "--allowed-unsafe-sysctls ipc); reported not applicable on a cluster without one",
    "refuses_ipc_sysctls": "needs a node whose kubelet refuses some unsafe IPC sysctl; "
    "reported not applicable where every one is allowed",
    "cluster_scoped": "creates a cluster-scoped object (a RuntimeClass) for the test; deselect "
    "on shared clusters with -m 'not cluster_scoped' (RBAC: manifests/rbac/podshm-runner.yaml)",
    "bench": "benchmark, deselected unless -m names it (e.g. -m bench)",
    "workload": "real programs that fail on a small /dev/shm or need IPC sysctls (a "
    "DataLoader-style loader, PostgreSQL, SysV limits); deselected unless -m names it (e.g. -m "
    "workload); the PostgreSQL scenarios run the workload image (podshm image build --workload)",
    "podshm_pod": "(manifest, **params) a pod the test starts with podshm_pod(manifest, "
    "**params), created ahead of the test with the test's own name and label (see the prestart "
    "option)",
}
OPT_IN = ("bench", "workload")
"""Markers whose tests run only when ``-m`` names them: long or needing a second image."""
CLUSTER_FIXTURES = frozenset(
    {"podshm_cluster", "podshm_namespace", "podshm_namespace_factory", "podshm_pod"}
)


def register_markers(config: pytest.Config) -> None:
    """Add the markers to ``pytest --markers`` and the strict-markers allow list."""
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


def selects_opt_in(markexpr: str | None) -> set[str]:
    """The opt-in markers a ``-m`` expression names (its words, not its truth: ``-m "not
    workload"`` names it too, and then pytest's own selection drops those tests)."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", markexpr or ""))
    return {marker for marker in OPT_IN if marker in words}


def mark_and_deselect(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Add ``cluster`` where a cluster fixture is used; drop opt-in tests unless asked for."""
    for item in items:
        if CLUSTER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.cluster)
    unasked = set(OPT_IN) - selects_opt_in(config.getoption("markexpr", default=""))
    if not unasked:
        return
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        opt_in = any(item.get_closest_marker(marker) for marker in unasked)
        (dropped if opt_in else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
