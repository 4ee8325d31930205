"""The benchmark pod for ``podshm bench``: its own namespace, created and removed per run.

The pytest side gets its pod from the ``podshm_pod`` fixture instead; both end up with a
:class:`PodHandle` of a running ``bench-pair.yaml`` pod.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from podshm import manifests
from podshm.errors import PodshmError
from podshm.kube.cluster import Cluster
from podshm.kube.namespaces import RUN_ID_LABEL, NamespaceManager, new_run_id
from podshm.kube.pods import PodHandle, create_pod, wait_for_pod
from podshm.kube.podsecurity import restricted_violations

MANIFEST = "bench-pair.yaml"
NAMESPACE_PREFIX = "podshm-bench"
POD_NAME = "bench"


@contextlib.contextmanager
def bench_pod(
    cluster: Cluster,
    image: str,
    pull_policy: str,
    node: str | None = None,
    timeout: float = 120.0,
) -> Iterator[PodHandle]:
    """A running bench pod in a fresh restricted namespace, deleted afterwards."""
    run_id = new_run_id()
    namespaces = NamespaceManager(cluster.api, NAMESPACE_PREFIX, run_id)
    try:
        ns = namespaces.create(test_id="podshm bench")
        pod = manifests.render(
            MANIFEST, {"IMAGE": image, "NAME": POD_NAME, "PULL_POLICY": pull_policy}
        )
        pod = manifests.add_labels(manifests.pin_to_node(pod, node), {RUN_ID_LABEL: run_id})
        problems = restricted_violations(pod)
        if problems:  # the manifest is data: keep it admissible everywhere
            raise PodshmError(f"{MANIFEST} breaks Pod Security restricted: {problems}", None)
        created = create_pod(cluster.api, ns.name, pod)
        handle = PodHandle(cluster.api, ns.name, pod, created)
        handle.pod = wait_for_pod(cluster.api, ns.name, POD_NAME, timeout=timeout, poll=0.2)
        yield handle
    finally:
        namespaces.delete_all()
