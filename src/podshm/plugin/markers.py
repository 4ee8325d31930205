"""The suite's markers, registered so ``--strict-markers`` accepts them and ``-m`` selects.

``cluster`` is also added automatically to every test that uses a podshm cluster fixture, so
``-m "not cluster"`` always means "runs without Kubernetes". ``bench`` tests are deselected
unless the ``-m`` expression names them.
"""

from __future__ import annotations

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
    "cluster_scoped": "creates a cluster-scoped object (a RuntimeClass) for the test; deselect "
    "on shared clusters with -m 'not cluster_scoped' (RBAC: manifests/rbac/podshm-runner.yaml)",
    "bench": "benchmark, deselected unless -m names it (e.g. -m bench)",
    "podshm_pod": "(manifest, **params) a pod the test starts with podshm_pod(manifest, "
    "**params), created ahead of the test in its own namespace (see the prestart option)",
}
CLUSTER_FIXTURES = frozenset(
    {"podshm_cluster", "podshm_namespace", "podshm_namespace_factory", "podshm_pod"}
)


def register_markers(config: pytest.Config) -> None:
    """Add the markers to ``pytest --markers`` and the strict-markers allow list."""
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


def mark_and_deselect(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Add ``cluster`` where a cluster fixture is used; drop ``bench`` unless asked for."""
    for item in items:
        if CLUSTER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.cluster)
    if "bench" in (config.getoption("markexpr", default="") or ""):
        return
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (dropped if item.get_closest_marker("bench") else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
