"""The real local cluster as the plugin's tests observe it (admin client, run ids, clean-up).

A plain module beside conftest.py (which holds the fixtures built on it), so test modules can
import the helpers by name.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from podshm.kube.namespaces import RUN_ID_LABEL
from podshm.providers.local.layout import Layout

RUN_ID_RE = re.compile(r"^podshm: run id (\S+) \(namespaces labelled podshm\.io/run-id\)$")
# Namespace deletion on the local cluster takes a few seconds (pods have a 1 s grace period).
NAMESPACE_GONE_TIMEOUT_S = 90.0


def new_run_id() -> str:
    """A run id for an inner run, recognisable as this test suite's ("t" + 5 characters)."""
    return "t" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))


def assert_one_selected(result: pytest.RunResult, outcome: str) -> None:
    """One scenario picked with -k ended as ``outcome``; the rest of the suite was deselected."""
    outcomes = result.parseoutcomes()
    assert outcomes.get(outcome) == 1, outcomes
    others = ("passed", "failed", "errors", "skipped", "xfailed", "xpassed")
    assert not [k for k in others if k != outcome and outcomes.get(k)], outcomes
    assert outcomes.get("deselected", 0) > 0, outcomes


def run_id_of(result: pytest.RunResult) -> str:
    """The run id an inner run printed in its report header."""
    for line in result.stdout.lines:
        match = RUN_ID_RE.match(line)
        if match:
            return match.group(1)
    raise AssertionError("no 'podshm: run id' line in the header:\n" + result.stdout.str())


@dataclass
class RealCluster:
    """The local cluster, seen with the admin credentials (the independent observer)."""

    layout: Layout
    kubeconfig: Path
    image: str
    server: str
    api_client: client.ApiClient

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api_client)

    @property
    def rbac(self) -> client.RbacAuthorizationV1Api:
        return client.RbacAuthorizationV1Api(self.api_client)

    @property
    def ca_cert(self) -> Path:
        return self.layout.pki / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.layout.pki / "ca.key"

    def namespaces(self, run_id: str) -> list[client.V1Namespace]:
        """Every namespace labelled with ``run_id``, terminating ones included."""
        return list(self.core.list_namespace(label_selector=f"{RUN_ID_LABEL}={run_id}").items)

    def live_namespaces(self, run_id: str) -> list[str]:
        """Names of the run's namespaces whose deletion has not been requested."""
        return [
            ns.metadata.name
            for ns in self.namespaces(run_id)
            if ns.metadata.deletion_timestamp is None
        ]

    def wait_gone(self, run_id: str, timeout: float = NAMESPACE_GONE_TIMEOUT_S) -> list[str]:
        """Poll until no namespace of the run exists; returns what is left at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            left = [ns.metadata.name for ns in self.namespaces(run_id)]
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(1.0)

    def delete_run(self, run_id: str) -> None:
        """Delete every namespace of the run, kept ones included (test clean-up)."""
        for ns in self.namespaces(run_id):
            if ns.metadata.deletion_timestamp is None:
                try:
                    self.core.delete_namespace(ns.metadata.name)
                except ApiException as err:
                    if err.status != 404:
                        raise


@dataclass
class ClusterEnv:
    """What ``real_cluster_env`` set up: the cluster, and the runs to clean up after."""

    cluster: RealCluster
    monkeypatch: pytest.MonkeyPatch
    runs: set[str] = field(default_factory=set)

    def new_run_id(self) -> str:
        """Fix the inner run's id (PODSHM_RUN_ID) so the test knows its namespaces."""
        run_id = new_run_id()
        self.monkeypatch.setenv("PODSHM_RUN_ID", run_id)
        return self.track(run_id)

    def track(self, run_id: str) -> str:
        """Delete whatever this run leaves (kept namespaces too) when the test ends."""
        self.runs.add(run_id)
        return run_id

    def assert_cleaned_up(self, run_id: str, wait: bool = False) -> None:
        """Deletion of every namespace of the run was requested (``wait``: and completed)."""
        assert self.cluster.live_namespaces(run_id) == []
        if wait:
            assert self.cluster.wait_gone(run_id) == []
