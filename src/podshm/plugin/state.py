"""Per-process run state: settings, run id, the one cluster connection (or its error).

Connecting once and caching the failure is what turns "API server unreachable" into one
clear line for the first test and an instant identical failure for the rest, instead of a
probe timeout per test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from podshm.deviations import Deviation
from podshm.deviations import load as load_deviations
from podshm.errors import PodshmError
from podshm.kube.cluster import Cluster
from podshm.kube.namespaces import NamespaceManager, SweepResult
from podshm.names import new_run_id, validate_run_id
from podshm.overrides import Override, load_overrides
from podshm.plugin.options import settings_from_config
from podshm.podimages import WORKLOAD
from podshm.settings import RUN_ID_ENV, Settings
from podshm.sysctls import KubeletAllowlist
from podshm.target import (
    Target,
    check_image_held,
    choose,
    connect_target,
    find_image,
    select_nodes,
    select_runtime_classes,
)

WORKERINPUT_RUN_ID = "podshm_run_id"


@dataclass
class ShmRow:
    """One line of the /dev/shm summary table."""

    scenario: str
    expected: int | None
    observed: int | None
    verdict: str
    outcome: str = ""
    node: str = ""


@dataclass
class RunState:
    """Everything the plugin keeps for one pytest process."""

    config: pytest.Config
    run_id: str
    worker: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    run_id_given: bool = False
    """The run id came from the environment: check that no live run holds it."""
    sweep: SweepResult = field(default_factory=SweepResult)
    """What clean-up deleted and could not delete (reported, and failing the run)."""
    settings: Settings | None = None
    settings_error: PodshmError | None = None
    overrides: dict[str, Override] = field(default_factory=dict)
    deviations: list[Deviation] = field(default_factory=list)
    target: Target | None = None
    image: str = ""
    """The test image: configured, or found on the cluster when it connects."""
    image_source: str = ""
    workload_image: str = ""
    """The workload image, looked up only when selected tests run it (``find_workload_image``)."""
    workload_image_source: str = ""
    _cluster: Cluster | None = None
    _cluster_error: PodshmError | None = None
    _nodes: list[str] | None = None
    _runtime_classes: list[str] | None = None
    namespace_manager: NamespaceManager | None = None
    shm_rows: list[ShmRow] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    not_applicable: list[str] = field(default_factory=list)
    cgroup_versions: dict[str, int | None] = field(default_factory=dict)
    """Node name -> its cgroup version, read once per node from the first running pod there."""
    """``test id: reason`` of every scenario this cluster could not host (the summary)."""
    kubelet_allowlists: dict[str, KubeletAllowlist] = field(default_factory=dict)
    """Node name -> the unsafe sysctls its kubelet allows, read once per node when a selected
    scenario needs it (:func:`podshm.plugin.applicable.with_kubelet_allowlists`)."""
    saw_namespaces: bool = False
    kept: list[str] = field(default_factory=list)
    """``test id: where its pods are`` of every failed test whose pods were kept."""

    @property
    def is_worker(self) -> bool:
        """True inside an xdist worker."""
        return hasattr(self.config, "workerinput")

    def require_settings(self) -> Settings:
        """The resolved settings, or the configuration error as a PodshmError."""
        if self.settings is None:
            raise self.settings_error or PodshmError("podshm settings were not resolved", None)
        return self.settings

    @property
    def connected(self) -> bool:
        """Whether a connection has been established in this process."""
        return self._cluster is not None

    def cluster(self) -> Cluster:
        """The session's cluster and test image; found on first use, success or failure cached.

        Finding the image belongs here: without one no pod can start, so "no test image" is
        reported like an unreachable cluster, before any namespace is created.
        """
        if self._cluster is not None:
            return self._cluster
        if self._cluster_error is not None:
            raise self._cluster_error
        try:
            settings = self.require_settings()
            self.target = choose(settings)
            cluster = connect_target(self.target)
            self.image, self.image_source = find_image(settings, cluster.facts)
            check_image_held(settings, cluster, self.image)
        except PodshmError as err:
            self._cluster_error = err
            raise
        self._cluster = cluster
        return cluster

    def find_workload_image(self) -> str:
        """The workload image, found once (like the test image: setting, the local cluster's
        node, this podshm's image on every node), or the PodshmError saying how to get it."""
        if not self.workload_image:
            settings = self.require_settings()
            cluster = self.cluster()
            self.workload_image, self.workload_image_source = find_image(
                settings, cluster.facts, WORKLOAD
            )
            check_image_held(settings, cluster, self.workload_image, WORKLOAD)
        return self.workload_image

    def nodes(self) -> list[str]:
        """The nodes of ``--podshm-nodes`` (empty without it); looked up once."""
        if self._nodes is None:
            self._nodes = select_nodes(self.require_settings(), self.cluster())
        return self._nodes

    def runtime_classes(self) -> list[str]:
        """The RuntimeClasses of ``--podshm-runtime-class`` (empty without it); looked up once."""
        if self._runtime_classes is None:
            self._runtime_classes = select_runtime_classes(
                self.require_settings(), self.cluster().facts
            )
        return self._runtime_classes

    def namespaces(self) -> NamespaceManager:
        """This process's namespace manager (needs the cluster)."""
        if self.namespace_manager is None:
            settings = self.require_settings()
            self.namespace_manager = NamespaceManager(
                self.cluster().api,
                settings.namespace_prefix,
                self.run_id,
                self.worker,
                expiry_s=settings.expiry,
                started=self.started,
            )
        return self.namespace_manager


STATE_KEY = pytest.StashKey[RunState]()


def make_state(config: pytest.Config) -> RunState:
    """Create the state at configure time; configuration errors are kept, not raised.

    Raising here would break ``pytest --help``; the error surfaces at session start instead.
    """
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None:
        run_id = str(workerinput.get(WORKERINPUT_RUN_ID) or new_run_id())
        worker = str(workerinput.get("workerid", "gw"))
    else:
        run_id = os.environ.get(RUN_ID_ENV) or new_run_id()
        worker = "main"
    state = RunState(config=config, run_id=run_id, worker=worker)
    state.run_id_given = workerinput is None and bool(os.environ.get(RUN_ID_ENV))
    try:
        if state.run_id_given:
            _check_given_run_id(run_id)
        state.settings = settings_from_config(config)
    except PodshmError as err:
        state.settings_error = err
    return state


def _check_given_run_id(run_id: str) -> None:
    """A run id from the environment must make valid names and labels."""
    try:
        validate_run_id(run_id)
    except PodshmError as err:
        raise PodshmError(
            f"{RUN_ID_ENV}={run_id!r}: {err.cause}", f"unset {RUN_ID_ENV} to let podshm choose one"
        ) from None


def get_state(config: pytest.Config) -> RunState:
    """The state stored on the config."""
    return config.stash[STATE_KEY]


def load_run_overrides(state: RunState) -> None:
    """Read the expectations file (errors propagate: a malformed file stops the run)."""
    settings = state.require_settings()
    state.overrides = load_overrides(settings.expectations)
    state.deviations = load_deviations(
        [p for p in (settings.deviations or "").split(",") if p.strip()]
    )
