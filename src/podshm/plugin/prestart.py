"""Pods ahead of their tests: while one test runs, the next tests' pods are created, so the
kubelet starts them side by side and each test finds its pod running.

A test declares the pods it starts with ``@pytest.mark.podshm_pod(manifest, **params)`` (on
the function or on a ``pytest.param``); ``podshm_pod(manifest, **params)`` in the test then
takes the pod prepared for it instead of creating one. Isolation is unchanged: a prepared pod
is made for its test alone (its name and label are that test's), nothing is shared or reused.
How far ahead: ``--podshm-prestart N`` tests (0: every test creates its own pods as it runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from podshm import manifests
from podshm.kube.cluster import Cluster
from podshm.kube.launch import launch_pod
from podshm.kube.namespaces import Namespace
from podshm.kube.pods import PodHandle
from podshm.plugin.params import NODE_FIXTURE, RUNTIME_FIXTURE, item_param
from podshm.plugin.state import RunState
from podshm.plugin.testpods import PodsOfTest, pod_options, pods_of_test, render_test_pod

MARKER = "podshm_pod"


class PodshmWarning(pytest.PytestWarning):
    """A suite mistake worth fixing that does not change a result."""


@dataclass(frozen=True)
class Declared:
    """One pod a test starts: its manifest and placeholder values (as the test passes them)."""

    manifest: str
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, manifest: str, params: Mapping[str, manifests.ParamValue]) -> Declared:
        """The key a ``podshm_pod(manifest, **params)`` call is matched by."""
        return cls(manifest, tuple(sorted((k, str(v)) for k, v in params.items())))

    def kwargs(self) -> dict[str, str]:
        """The placeholder values, as keyword arguments."""
        return dict(self.params)


def declared_pods(item: pytest.Item) -> list[Declared]:
    """The pods ``item`` declares, in the order it starts them."""
    return [
        Declared.of(mark.args[0], mark.kwargs) for mark in reversed(list(item.iter_markers(MARKER)))
    ]


@dataclass
class Prepared:
    """The pods created for a test, in the run's namespace, before the test started.

    A pod that could not be created holds the error instead, raised where the test asks for
    the pod, exactly as if the test had created it.
    """

    namespace: Namespace
    test: PodsOfTest
    pods: dict[Declared, list[PodHandle | Exception]] = field(default_factory=dict)

    def take(self, key: Declared) -> PodHandle | None:
        """The prepared pod for ``key`` (None if there is none left); raises its error."""
        found = self.pods.get(key)
        if not found:
            return None
        pod = found.pop(0)
        if isinstance(pod, Exception):
            raise pod
        return pod

    def unused(self) -> list[str]:
        """Prepared pods the test never asked for (a declaration that does not match)."""
        return [f"{k.manifest} {k.kwargs()}" for k, left in self.pods.items() for _ in left]


PREPARED_KEY = pytest.StashKey[Prepared]()


def prepare_test(state: RunState, cluster: Cluster, item: pytest.Item) -> Prepared:
    """Create ``item``'s declared pods (without waiting for them) in the run's namespace."""
    settings = state.require_settings()
    namespace = state.namespaces().shared("restricted")
    prepared = Prepared(namespace, pods_of_test(state, item))
    options = pod_options(
        state,
        settings,
        item_param(item, NODE_FIXTURE),
        item_param(item, RUNTIME_FIXTURE),
        prepared.test,
    )
    for key in declared_pods(item):
        pod: PodHandle | Exception
        try:
            body = render_test_pod(
                cluster, namespace, prepared.test.names, options, key.manifest, key.kwargs()
            )
            pod = launch_pod(cluster.api, namespace.name, body, wait=False)
        except Exception as err:  # kept, and raised in the test that asks for this pod
            pod = err
        prepared.pods.setdefault(key, []).append(pod)
    return prepared


class Prestart:
    """Keeps the pods of the next ``window`` declaring tests created."""

    def __init__(self, state: RunState, items: list[pytest.Item], window: int) -> None:
        self.state = state
        self.cluster = state.cluster()
        state.namespaces()  # the one manager, made here: the pool's threads only use it
        self.window = window
        self.queue = [item for item in items if declared_pods(item)]
        self.position = {item.nodeid: i for i, item in enumerate(self.queue)}
        self.futures: dict[str, Future[Prepared]] = {}
        self.submitted = 0
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="podshm-prestart")

    def advance(self, item: pytest.Item) -> None:
        """``item`` is about to run: make sure it and the next ``window`` tests are under way."""
        here = self.position.get(item.nodeid)
        if here is None:
            return
        while self.submitted < min(len(self.queue), here + 1 + self.window):
            upcoming = self.queue[self.submitted]
            self.futures[upcoming.nodeid] = self.pool.submit(
                prepare_test, self.state, self.cluster, upcoming
            )
            self.submitted += 1

    def take(self, item: pytest.Item) -> Prepared | None:
        """``item``'s prepared pods, once created (None if none were planned)."""
        future = self.futures.pop(item.nodeid, None)
        if future is None:
            return None
        prepared = future.result()
        item.stash[PREPARED_KEY] = prepared
        return prepared

    def close(self) -> None:
        """Stop preparing; wait for creations in flight so clean-up sees every namespace."""
        self.pool.shutdown(wait=True, cancel_futures=True)


PRESTART_KEY = pytest.StashKey[Prestart]()


def start_prestart(state: RunState, items: list[pytest.Item]) -> None:
    """Plan this run's prestart, unless off (``--podshm-prestart 0``, xdist workers)."""
    settings = state.require_settings()
    if settings.prestart > 0 and not state.is_worker:
        state.config.stash[PRESTART_KEY] = Prestart(state, items, settings.prestart)


def advance(item: pytest.Item) -> None:
    """``item`` is about to run: keep the next tests' pods coming."""
    prestart = item.config.stash.get(PRESTART_KEY, None)
    if prestart is not None:
        prestart.advance(item)


def take_prepared(item: pytest.Item) -> Prepared | None:
    """The pods prepared for ``item`` (None when prestart is off)."""
    prestart = item.config.stash.get(PRESTART_KEY, None)
    return prestart.take(item) if prestart is not None else None


def stop_prestart(config: pytest.Config) -> None:
    """End of run or interrupt: no more creations (clean-up deletes what was made)."""
    prestart = config.stash.get(PRESTART_KEY, None)
    if prestart is not None:
        prestart.close()
