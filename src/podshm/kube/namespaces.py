"""The namespaces of a run: one per Pod Security level a test asks for, shared by the run's
tests (each test's pods carry the test's own label), labelled with the run, deleted pods first.

Isolation between scenarios is a property of pods: each has its own IPC namespace, name and
labels, and a test only ever addresses its own pods. A namespace per test cost the cluster
more than the test itself (the namespace controller's deletion passes alone were 74 API
requests each); per run there are at most three (restricted; baseline and privileged for the
``hostIPC`` scenarios). The labels written here are what :mod:`podshm.kube.sweep` later
selects a run's (or a dead run's) namespaces by; the first namespace also holds the run's
heartbeat (:mod:`podshm.kube.heartbeat`).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes.client.exceptions import ApiException

from podshm.errors import PodshmError
from podshm.kube.access import connection_lost
from podshm.kube.api import KubeApi, api_error_message
from podshm.kube.heartbeat import (
    HEARTBEAT_ANNOTATION,
    LEASE_NAME,
    PERIOD_S,
    Heartbeat,
    holder_identity,
)
from podshm.kube.signals import sigint_deferred
from podshm.names import namespace_name, validate_prefix, validate_run_id
from podshm.objects import MANAGED_BY_LABEL, MANAGED_BY_RUN

RUN_ID_LABEL = "podshm.io/run-id"
WORKER_LABEL = "podshm.io/worker"
KEEP_LABEL = "podshm.io/keep"
"""On a namespace holding a failed test's pods kept for debugging: no sweep removes it."""
TEST_LABEL = "podshm.io/test"
"""On every pod: the label of the test that made it (unique in the run's namespace); a test's
pods are deleted, or kept, by it."""
KEPT_ANNOTATION_PREFIX = "kept.podshm.io/"
"""``kept.podshm.io/<test label>: <test id>`` on a namespace: whose pods stay, and why."""
TEST_ANNOTATION = "podshm.io/test"
"""The test id, on a namespace made for one test (``create(test_id=...)``)."""
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
    """A namespace of the run (shared by its tests), or one made for a single use."""

    name: str
    pod_security: str


def test_selector(label: str) -> str:
    """The pods of one test."""
    return f"{TEST_LABEL}={label}"


class NamespaceManager:
    """Creates and deletes the namespaces of one worker (or of a non-distributed run).

    :meth:`shared` gives the run's namespace of a Pod Security level (made on first use, the
    first one with the heartbeat); :meth:`create` makes a namespace of its own for a single
    use (`podshm gate`, `podshm bench`). :meth:`delete_all` removes everything not kept.
    """

    def __init__(
        self,
        api: KubeApi,
        prefix: str,
        run_id: str,
        worker: str = "main",
        expiry_s: float = DEFAULT_EXPIRY_S,
        started: datetime | None = None,
        heartbeat_period_s: float = PERIOD_S,
    ) -> None:
        self.api = api
        self.prefix = validate_prefix(prefix)
        self.run_id = validate_run_id(run_id)
        self.worker = worker
        self.expiry_s = expiry_s
        self.started = started or datetime.now(UTC)
        self.heartbeat_period_s = heartbeat_period_s
        self.live: dict[str, Namespace] = {}
        self.by_level: dict[str, Namespace] = {}
        self.kept: dict[str, dict[str, str]] = {}
        """Namespace -> {test label: test id} of the tests whose pods stay there."""
        self.heartbeat: Heartbeat | None = None
        self.heartbeat_problem: str | None = None
        """Why the run has no heartbeat (the Lease could not be created), if it has none."""
        self._expires: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._tests = itertools.count(1)

    def new_test_label(self) -> str:
        """A label value no other test of this manager has: ``t1``, ``t2``..."""
        with self._lock:
            return f"t{next(self._tests)}"

    def create(
        self,
        pod_security: str = "restricted",
        test_id: str | None = None,
        annotations: Callable[[str], dict[str, str]] | None = None,
    ) -> Namespace:
        """Create a fresh namespace; retried on the (unlikely) name clash. ``annotations``
        gives extra annotations for the name chosen."""
        for _attempt in range(5):
            name = namespace_name(self.prefix, self.run_id)
            notes = lifetime_annotations(self.started, self.expiry_s)
            notes.update(annotations(name) if annotations else {})
            body = namespace_manifest(name, self.run_id, self.worker, pod_security, test_id, notes)
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
            expires = parse_rfc3339(notes[EXPIRES_ANNOTATION])
            if expires is not None:
                self._expires[name] = expires
            return ns
        raise PodshmError("could not find a free namespace name in 5 attempts", None)

    def shared(self, pod_security: str = "restricted") -> Namespace:
        """The run's namespace enforcing ``pod_security``, created on first use. The first
        one the run creates holds its heartbeat; every one names it."""
        with self._lock:
            found = self.by_level.get(pod_security)
            if found is not None:
                return found
            if self.heartbeat is None:
                ns = self._create_home(pod_security)
            else:
                ref = self.heartbeat.ref
                ns = self.create(
                    pod_security, annotations=lambda _n: {HEARTBEAT_ANNOTATION: ref} if ref else {}
                )
            self.by_level[pod_security] = ns
            return ns

    def forget_if_gone(self, name: str, status: int, message: str) -> bool:
        """After the API server refused a pod in ``name`` (``status``, ``message``): if the
        namespace is gone or going (deleted under the run: `podshm gc --older-than`, a user's
        kubectl), stop handing it out, so the run's next test gets a new one of its level
        instead of every later test failing the same way. True if so."""
        gone = (status == 404 and "not found" in message) or (
            status == 403 and "being terminated" in message
        )
        if not gone or name not in message:
            return False
        with self._lock:
            for level, ns in list(self.by_level.items()):
                if ns.name == name:
                    del self.by_level[level]
            self.live.pop(name, None)
            self._expires.pop(name, None)
        return True

    def _create_home(self, pod_security: str) -> Namespace:
        """The run's first namespace, its Lease, and the heartbeat thread. The namespace names
        the Lease from the start (a run killed in between is recognised as dead all the same);
        a Lease that cannot be created is un-named again, and the expiry decides alone."""
        self.heartbeat = Heartbeat(
            self.api,
            holder_identity(self.run_id, self.worker),
            self.heartbeat_period_s,
            also=self.renew_expiry,
        )
        ns = self.create(
            pod_security, annotations=lambda name: {HEARTBEAT_ANNOTATION: f"{name}/{LEASE_NAME}"}
        )
        problem = self.heartbeat.create_lease(ns.name)
        if problem is not None:
            self.heartbeat_problem = problem
            # (patch namespaces is a permission every run checks it has)
            self.api.label_namespace(ns.name, annotations={HEARTBEAT_ANNOTATION: None})
        self.heartbeat.start()
        return ns

    def renew_expiry(self, now: datetime | None = None) -> list[str]:
        """Push the expiry of the run's namespaces ``expiry_s`` ahead once half of it has
        passed: a live run's namespaces never expire, however long it runs (a Lease tells
        readers that too, but not those who cannot read it)."""
        now = now or datetime.now(UTC)
        with self._lock:
            due = [
                name
                for name, expires in self._expires.items()
                if name in self.live and (expires - now).total_seconds() < self.expiry_s / 2
            ]
        renewed = []
        for name in due:
            notes = lifetime_annotations(self.started, self.expiry_s)
            self.api.label_namespace(name, annotations=dict(notes))
            self._expires[name] = parse_rfc3339(notes[EXPIRES_ANNOTATION]) or now
            renewed.append(name)
        return renewed

    def release(self, label: str, namespaces: Iterable[str]) -> None:
        """Delete one test's pods (its label) in the namespaces it used: one request each."""
        with sigint_deferred():
            for name in dict.fromkeys(namespaces):
                try:
                    self.api.delete_pods(name, test_selector(label))
                except ApiException as err:
                    if err.status != 404:
                        raise

    def keep(self, name: str, label: str | None = None, test_id: str | None = None) -> None:
        """Keep a failed test's pods for debugging: the namespace is labelled kept (no sweep
        removes it) and names the test; :meth:`delete_all` later deletes every other pod in
        it. Without ``label``, the whole namespace (made for that one test) is kept."""
        if label is None:
            self.api.label_namespace(name, {KEEP_LABEL: "true"})
            self.live.pop(name, None)
            return
        self.api.label_namespace(
            name, {KEEP_LABEL: "true"}, {f"{KEPT_ANNOTATION_PREFIX}{label}": test_id or label}
        )
        self.kept.setdefault(name, {})[label] = test_id or label

    def delete(self, name: str) -> None:
        """Request deletion (accepted, not necessarily finalized)."""
        with sigint_deferred():
            remove_namespace(self.api, name)
        self.live.pop(name, None)

    def delete_all(self) -> SweepResult:
        """Delete every namespace this manager still owns, and in a kept one every pod but the
        kept tests'; stop the heartbeat first. Failures are reported, not lost."""
        if self.heartbeat is not None:
            self.heartbeat.stop()
        result = SweepResult()
        with sigint_deferred():
            for name in list(self.live):
                kept = self.kept.get(name)
                if kept:
                    result.delete_pods_except(self.api, name, sorted(kept))
                else:
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

        def remove() -> None:
            if remove_namespace(api, name):
                self.deleted.append(name)

        self._try(name, remove)

    def delete_pods_except(self, api: KubeApi, name: str, labels: list[str]) -> None:
        """Delete the pods of a kept namespace but those of the kept tests (``labels``)."""
        selector = f"{TEST_LABEL} notin ({','.join(labels)})"
        self._try(name, lambda: api.delete_pods(name, selector))

    def _try(self, name: str, action: Callable[[], object]) -> None:
        try:
            action()
        except ApiException as err:
            if err.status != 404:
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
