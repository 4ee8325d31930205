"""A test's pods, rendered one way: a name of its own in the run's namespace, the test's label,
the run's options, the namespace's Pod Security level, the cluster's nodes.

Prestart (ahead of the test) and the ``podshm_pod`` factory (in the test) both render here and
create with :func:`~podshm.kube.launch.launch_pod`, so a prepared pod and one the test creates
itself are the same object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from podshm import manifests
from podshm.kube.cluster import Cluster
from podshm.kube.launch import PodOptions, render_pod
from podshm.kube.namespaces import TEST_ANNOTATION, TEST_LABEL, Namespace
from podshm.plugin.state import RunState
from podshm.settings import Settings

MAX_BASE = 50
"""Manifest names are cut here, so ``<base>-<test label>-<n>`` stays a 63-character label."""


class PodNames:
    """Pod names of one test: the manifest's name and the test's label (unique among the
    run's tests, which share a namespace), then ``-2``, ``-3``... within the test."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._used: set[tuple[str, str]] = set()

    def next(self, manifest: str, namespace: str) -> str:
        """A name not yet used in ``namespace``: ``devshm-default-t7``, ``...-t7-2``."""
        base = f"{Path(manifest).name.removesuffix('.yaml')[:MAX_BASE]}-{self.label}"
        name, n = base, 1
        while (namespace, name) in self._used:
            n += 1
            name = f"{base}-{n}"
        self._used.add((namespace, name))
        return name

    def namespaces(self) -> list[str]:
        """Every namespace this test rendered a pod for (so made one, or tried)."""
        return sorted({namespace for namespace, _ in self._used})


@dataclass
class PodsOfTest:
    """One test's part of the run's namespaces: the label on its every pod (what its pods are
    deleted, or kept, by) and their names."""

    test_id: str
    names: PodNames
    namespaces: list[str] = field(default_factory=list)
    """The run's namespaces the test asked for (``podshm_namespace_factory``)."""

    @property
    def label(self) -> str:
        return self.names.label

    def pod_namespaces(self) -> list[str]:
        """Where the test's pods are."""
        return self.names.namespaces()


TEST_PODS_KEY = pytest.StashKey[PodsOfTest]()


def pods_of_test(state: RunState, item: pytest.Item) -> PodsOfTest:
    """``item``'s label and pod names, made on first use (by prestart, or the test itself)."""
    found = item.stash.get(TEST_PODS_KEY, None)
    if found is None:
        found = PodsOfTest(item.nodeid, PodNames(state.namespaces().new_test_label()))
        item.stash[TEST_PODS_KEY] = found
    return found


def pod_options(
    state: RunState,
    settings: Settings,
    node: str | None,
    runtime_class: str | None,
    test: PodsOfTest,
) -> PodOptions:
    """What every pod of a test shares: image, pull policy, node, runtime class, run id, the
    test's label and id, lifetime (``node`` and ``runtime_class``: the test's parameters,
    when it has them)."""
    return PodOptions(
        image=state.image,
        workload_image=state.workload_image,
        pull_policy=settings.pull_policy,
        run_id=state.run_id,
        node=node or settings.node,
        runtime_class=runtime_class,
        labels={TEST_LABEL: test.label},
        annotations={TEST_ANNOTATION: test.test_id},
        manifests=settings.manifests,
        expiry_s=settings.expiry,
        run_started=state.started,
    )


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
