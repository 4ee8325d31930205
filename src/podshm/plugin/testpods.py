"""A test's pods, rendered one way: the next free name in its namespace, the run's options,
the namespace's Pod Security level, the cluster's nodes.

Prestart (ahead of the test) and the ``podshm_pod`` factory (in the test) both render here and
create with :func:`~podshm.kube.launch.launch_pod`, so a prepared pod and one the test creates
itself are the same object.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from podshm import manifests
from podshm.kube.cluster import Cluster
from podshm.kube.launch import PodOptions, render_pod
from podshm.kube.namespaces import Namespace
from podshm.plugin.state import RunState
from podshm.settings import Settings


def pod_options(
    state: RunState, settings: Settings, node: str | None, runtime_class: str | None
) -> PodOptions:
    """What every pod of a test shares: image, pull policy, node, runtime class, run id,
    lifetime (``node`` and ``runtime_class``: the test's parameters, when it has them)."""
    return PodOptions(
        image=state.image,
        workload_image=state.workload_image,
        pull_policy=settings.pull_policy,
        run_id=state.run_id,
        node=node or settings.node,
        runtime_class=runtime_class,
        manifests=settings.manifests,
        expiry_s=settings.expiry,
        run_started=state.started,
    )


class PodNames:
    """Pod names within one test: the manifest's name, then ``-2``, ``-3``..."""

    def __init__(self) -> None:
        self._used: set[tuple[str, str]] = set()

    def next(self, manifest: str, namespace: str) -> str:
        """A name not yet used in ``namespace`` by this test."""
        base = Path(manifest).name.removesuffix(".yaml")[:50]
        name, n = base, 1
        while (namespace, name) in self._used:
            n += 1
            name = f"{base}-{n}"
        self._used.add((namespace, name))
        return name


def render_test_pod(
    cluster: Cluster,
    namespace: Namespace,
    names: PodNames,
    options: PodOptions,
    manifest: str,
    params: Mapping[str, manifests.ParamValue],
    *,
    node: str | None = None,
    check_pod_security: bool = True,
) -> dict[str, Any]:
    """The pod object for ``manifest`` in ``namespace``; ``params`` as the test passes them
    (``size_limit="1Gi"``). ``check_pod_security=False`` is for a test that wants the API
    server's refusal, not podshm's."""
    return render_pod(
        manifest,
        names.next(manifest, namespace.name),
        options,
        node=node,
        pod_security=namespace.pod_security if check_pod_security else None,
        params=manifests.params_from_kwargs(params),
        known_nodes=cluster.facts.nodes,
    )
