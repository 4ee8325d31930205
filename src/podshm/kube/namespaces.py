"""The namespaces of a run: one per test, labelled with the run, deleted pods first.

Isolation per test keeps pods of different scenarios (and xdist workers) apart and makes
clean-up a single delete. The labels written here are what :mod:`podshm.kube.sweep` later
selects a run's (or a dead run's) namespaces by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes.client.exceptions import ApiException

from podshm.errors import PodshmError
from podshm.kube.access import connection_lost
from podshm.kube.api import KubeApi, api_error_message
from podshm.kube.signals import sigint_deferred
from podshm.names import namespace_name, validate_prefix, validate_run_id
from podshm.objects import MANAGED_BY_LABEL, MANAGED_BY_RUN

RUN_ID_LABEL = "podshm.io/run-id"
WORKER_LABEL = "podshm.io/worker"
KEEP_LABEL = "podshm.io/keep"
TEST_ANNOTATION = "podshm.io/test"
STARTED_ANNOTATION = "podshm.io/started"
EXPIRES_ANNOTATION = "podshm.io/expires"
"""After this moment (RFC 3339, UTC) nobody owns the object: any run or `podshm gc` sweeps it."""
DEFAULT_EXPIRY_S = 1800.0
POD_SECURITY_LEVELS = ("restricted", "baseline", "privileged")


def rfc3339(moment: datetime) -> str:
    """``2026-12-01T00:33:41Z``: what Kubernetes writes for times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str | None) -> datetime | None:
    """The inverse of :func:`rfc3339`; None for a missing or malformed value."""
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def lifetime_annotations(run_started: datetime, expiry_s: float) -> dict[str, str]:
    """Start of the run and the moment its objects expire (creation time + ``expiry_s``)."""
    expires = datetime.now(UTC) + timedelta(seconds=expiry_s)
    return {STARTED_ANNOTATION: rfc3339(run_started), EXPIRES_ANNOTATION: rfc3339(expires)}


def namespace_manifest(
    name: str,
    run_id: str,
    worker: str,
    pod_security: str = "restricted",
    test_id: str | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The Namespace object: run labels, lifetime annotations, Pod Security labels."""
    if pod_security not in POD_SECURITY_LEVELS:
        raise ValueError(f"unknown Pod Security level {pod_security!r}")
    labels = {
        RUN_ID_LABEL: run_id,
        WORKER_LABEL: worker,
        MANAGED_BY_LABEL: MANAGED_BY_RUN,
    }
    for mode in ("enforce", "warn", "audit"):
        labels[f"pod-security.kubernetes.io/{mode}"] = pod_security
        labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    notes = dict(annotations or {})
    if test_id:
        notes[TEST_ANNOTATION] = test_id
    if notes:
        metadata["annotations"] = notes
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def run_selector(run_id: str, worker: str | None = None) -> str:
    """Label selector for a run's namespaces (optionally one worker's), minus kept ones."""
    selector = f"{RUN_ID_LABEL}={run_id},{KEEP_LABEL}!=true"
    if worker:
        selector += f",{WORKER_LABEL}={worker}"
    return selector


@dataclass
class Namespace:
    """A namespace created for one test."""

    name: str
    pod_security: str


class NamespaceManager:
    """Creates and deletes the namespaces of one worker (or of a non-distributed run)."""

    def __init__(
        self,
        api: KubeApi,
        prefix: str,
        run_id: str,
        worker: str = "main",
        expiry_s: float = DEFAULT_EXPIRY_S,
        started: datetime | None = None,
    ) -> None:
        self.api = api
        self.prefix = validate_prefix(prefix)
        self.run_id = validate_run_id(run_id)
        self.worker = worker
        self.expiry_s = expiry_s
        self.started = started or datetime.now(UTC)
        self.live: dict[str, Namespace] = {}

    def create(self, pod_security: str = "restricted", test_id: str | None = None) -> Namespace:
        """Create a fresh namespace; retried on the (unlikely) name clash."""
        for _attempt in range(5):
            name = namespace_name(self.prefix, self.run_id)
            body = namespace_manifest(
                name,
                self.run_id,
                self.worker,
                pod_security,
                test_id,
                lifetime_annotations(self.started, self.expiry_s),
            )
            try:
                self.api.create_namespace(body)
            except ApiException as err:
                if err.status == 409:
                    continue
                raise PodshmError(
                    f"cannot create namespace {name}: HTTP {err.status}: {api_error_message(err)}",
                    "check the RBAC permissions of your context (create namespaces)",
                ) from err
            ns = Namespace(name=name, pod_security=pod_security)
            self.live[name] = ns
            return ns
        raise PodshmError("could not find a free namespace name in 5 attempts", None)

    def delete(self, name: str) -> None:
        """Request deletion (accepted, not necessarily finalized)."""
        with sigint_deferred():
            remove_namespace(self.api, name)
        self.live.pop(name, None)

    def keep(self, name: str) -> None:
        """Mark a failed test's namespace to survive clean-up and sweeps, for debugging."""
        self.api.label_namespace(name, {KEEP_LABEL: "true"})
        self.live.pop(name, None)

    def delete_all(self) -> SweepResult:
        """Delete every namespace this manager still owns; failures are reported, not lost."""
        result = SweepResult()
        with sigint_deferred():
            for name in list(self.live):
                result.delete(self.api, name)
                self.live.pop(name, None)
        return result


def remove_namespace(api: KubeApi, name: str) -> bool:
    """Delete a namespace's pods, then the namespace; False if it was already gone.

    The namespace controller waits 5 s before it deletes a namespace's content, then polls
    (exponential backoff; discovery and four calls each time) until the kubelet has stopped
    every pod. Measured on a suite run: 121 API calls per namespace, 77% of all the run made.
    Pods deleted first are mostly gone by then: 74 calls per namespace.
    """
    try:
        api.delete_pods(name)
    except ApiException as err:
        if err.status == 404:
            return False
        raise
    return api.delete_namespace(name)


@dataclass
class SweepResult:
    """What a sweep deleted, and every deletion the API refused (namespace, message).

    Defined with the manager, whose :meth:`NamespaceManager.delete_all` returns one too:
    :mod:`podshm.kube.sweep` imports this module for the run's labels, not the reverse.
    """

    deleted: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def delete(self, api: KubeApi, name: str) -> None:
        """Delete one namespace, recording the outcome."""
        try:
            if remove_namespace(api, name):
                self.deleted.append(name)
        except ApiException as err:
            self.failed.append((name, f"HTTP {err.status}: {api_error_message(err)}"))
        except Exception as err:  # the API server went away: still one line per namespace
            self.failed.append((name, connection_lost(err) or f"{type(err).__name__}: {err}"))

    def failure_lines(self) -> list[str]:
        """One line per failed deletion, naming the namespace and the API's message (an entry
        without a namespace is a sweep that could not even list them)."""
        return [
            f"cannot delete namespace {name}: {message}" if name else message
            for name, message in self.failed
        ]

    def merge(self, other: SweepResult) -> SweepResult:
        """Both results in one."""
        return SweepResult(self.deleted + other.deleted, self.failed + other.failed)
