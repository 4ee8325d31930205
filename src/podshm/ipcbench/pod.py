"""The benchmark pod for ``podshm bench``: its own namespace, created and removed per run.

The pod is started by :func:`podshm.kube.launch.launch_pod`, like every pod of the suite.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from podshm.kube.cluster import Cluster
from podshm.kube.launch import PodOptions, launch_pod, render_pod
from podshm.kube.namespaces import NamespaceManager
from podshm.kube.pods import PodHandle
from podshm.names import new_run_id
from podshm.settings import Settings

MANIFEST = "bench-pair.yaml"
NAMESPACE_PREFIX = "podshm-bench"
POD_NAME = "bench"


@contextlib.contextmanager
def bench_pod(
    cluster: Cluster, settings: Settings, runtime_class: str | None = None
) -> Iterator[PodHandle]:
    """A running bench pod (under ``runtime_class``, if given) in a fresh restricted namespace,
    deleted afterwards."""
    run_id = new_run_id()
    namespaces = NamespaceManager(cluster.api, NAMESPACE_PREFIX, run_id, expiry_s=settings.expiry)
    options = PodOptions(
        str(settings.image),
        settings.pull_policy,
        run_id,
        settings.node,
        runtime_class=runtime_class,
        expiry_s=settings.expiry,
        run_started=namespaces.started,
    )
    try:
        ns = namespaces.create(test_id="podshm bench")
        pod = render_pod(MANIFEST, POD_NAME, options, known_nodes=cluster.facts.nodes)
        yield launch_pod(cluster.api, ns.name, pod, timeout=settings.pod_timeout)
    finally:
        namespaces.delete_all()
