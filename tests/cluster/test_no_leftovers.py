"""After the whole suite ran on the local cluster, none of its namespaces remain.

Runs after every other test of the session (before the lifecycle tests take the
cluster down): the namespaces of every run must be gone, also those of
failed tests and of the pytester runs that were interrupted with SIGINT.
"""

from __future__ import annotations

import time

import pytest

from podshm.kube.cluster import Cluster
from podshm.kube.namespaces import RUN_ID_LABEL

pytestmark = [pytest.mark.cluster, pytest.mark.exclusive(1)]


def test_no_namespace_of_any_run_remains(podshm_cluster: Cluster) -> None:
    deadline = time.monotonic() + 90  # deletion is asynchronous: give finalizers time
    while True:
        left = podshm_cluster.api.list_namespaces(RUN_ID_LABEL)
        # This test's own namespace is not created (it asks for none).
        if not left or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert [ns["metadata"]["name"] for ns in left] == []
