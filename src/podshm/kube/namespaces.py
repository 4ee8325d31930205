"""One namespace per test, labelled with the run, and a sweep that removes a whole run.

Isolation per test keeps pods of different scenarios (and xdist workers) apart and makes
clean-up a single delete. Only namespaces carrying this run's ``podshm.io/run-id`` label are
ever deleted, so a sweep can never touch anything a human created.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import signal
import string
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException

from podshm.errors import PodshmError
from podshm.kube.api import KubeApi, api_error_message

RUN_ID_LABEL = "podshm.io/run-id"
WORKER_LABEL = "podshm.io/worker"
KEEP_LABEL = "podshm.io/keep"
TEST_ANNOTATION = "podshm.io/test"
POD_SECURITY_LEVELS = ("restricted", "baseline", "privileged")

_ALPHABET = string.ascii_lowercase + string.digits
_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# DNS label limit is 63: prefix + "-" + run id (6) + "-" + short (6).
MAX_PREFIX_LEN = 63 - 14


def new_run_id() -> str:
    """Six random lowercase characters: unique enough for concurrent runs on one cluster."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(6))


def validate_prefix(prefix: str) -> str:
    """Check the user's namespace prefix early, before any namespace is attempted."""
    if not prefix or len(prefix) > MAX_PREFIX_LEN or not _LABEL_RE.match(prefix):
        raise PodshmError(
            f"namespace prefix {prefix!r} is not usable: it must be 1-{MAX_PREFIX_LEN} lowercase "
            "letters, digits or '-', starting and ending with a letter or digit",
            "pass another --podshm-namespace-prefix (or PODSHM_NAMESPACE_PREFIX)",
        )
    return prefix


def validate_run_id(run_id: str) -> str:
    """A run id becomes part of names and of a label value: same rules as a DNS label."""
    if not run_id or len(run_id) > 12 or not _LABEL_RE.match(run_id):
        raise PodshmError(
            f"run id {run_id!r} is not usable: 1-12 lowercase letters, digits or '-'",
            "unset PODSHM_RUN_ID to let podshm choose one",
        )
    return run_id


def namespace_name(prefix: str, run_id: str, short: str | None = None) -> str:
    """``<prefix>-<runid>-<short>``; ``short`` is random when not given."""
    short = short or "".join(secrets.choice(_ALPHABET) for _ in range(6))
    name = f"{prefix}-{run_id}-{short}"
    if len(name) > 63 or not _LABEL_RE.match(name):
        raise PodshmError(f"namespace name {name!r} is not a valid DNS label", None)
    return name


def namespace_manifest(
    name: str,
    run_id: str,
    worker: str,
    pod_security: str = "restricted",
    test_id: str | None = None,
) -> dict[str, Any]:
    """The Namespace object: run labels plus Pod Security Admission labels."""
    if pod_security not in POD_SECURITY_LEVELS:
        raise ValueError(f"unknown Pod Security level {pod_security!r}")
    labels = {
        RUN_ID_LABEL: run_id,
        WORKER_LABEL: worker,
        "app.kubernetes.io/managed-by": "podshm",
    }
    for mode in ("enforce", "warn", "audit"):
        labels[f"pod-security.kubernetes.io/{mode}"] = pod_security
        labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if test_id:
        metadata["annotations"] = {TEST_ANNOTATION: test_id}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def run_selector(run_id: str, worker: str | None = None) -> str:
    """Label selector for a run's namespaces (optionally one worker's), minus kept ones."""
    selector = f"{RUN_ID_LABEL}={run_id},{KEEP_LABEL}!=true"
    if worker:
        selector += f",{WORKER_LABEL}={worker}"
    return selector


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold a second Ctrl-C until clean-up finishes, then deliver it.

    The first Ctrl-C makes pytest unwind and clean up; an impatient second one would otherwise
    abort the clean-up and leave namespaces behind. Only the main thread may set handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def remember(signum: int, _frame: object) -> None:
        pending.append(signum)

    previous = signal.signal(signal.SIGINT, remember)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            raise KeyboardInterrupt


@dataclass
class Namespace:
    """A namespace created for one test."""

    name: str
    pod_security: str


class NamespaceManager:
    """Creates and deletes the namespaces of one worker (or of a non-distributed run)."""

    def __init__(self, api: KubeApi, prefix: str, run_id: str, worker: str = "main") -> None:
        self.api = api
        self.prefix = validate_prefix(prefix)
        self.run_id = validate_run_id(run_id)
        self.worker = worker
        self.live: dict[str, Namespace] = {}

    def create(self, pod_security: str = "restricted", test_id: str | None = None) -> Namespace:
        """Create a fresh namespace; retried on the (unlikely) name clash."""
        for _attempt in range(5):
            name = namespace_name(self.prefix, self.run_id)
            body = namespace_manifest(name, self.run_id, self.worker, pod_security, test_id)
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
            self.api.delete_namespace(name)
        self.live.pop(name, None)

    def keep(self, name: str) -> None:
        """Mark a failed test's namespace to survive clean-up and sweeps, for debugging."""
        self.api.label_namespace(name, {KEEP_LABEL: "true"})
        self.live.pop(name, None)

    def delete_all(self) -> list[str]:
        """Delete every namespace this manager still owns."""
        deleted = []
        with sigint_deferred():
            for name in list(self.live):
                with contextlib.suppress(ApiException):
                    self.api.delete_namespace(name)
                    deleted.append(name)
                self.live.pop(name, None)
        return deleted


def sweep_run(api: KubeApi, run_id: str, worker: str | None = None) -> list[str]:
    """Delete every namespace of this run (or of one worker of it) that is not marked kept.

    Used at session end, on Ctrl-C, and by the xdist controller for a worker that crashed
    before it could clean up after itself.
    """
    validate_run_id(run_id)
    deleted = []
    with sigint_deferred():
        for ns in api.list_namespaces(run_selector(run_id, worker)):
            meta = ns.get("metadata") or {}
            # Belt and braces: never trust the selector alone before deleting.
            if (meta.get("labels") or {}).get(RUN_ID_LABEL) != run_id:
                continue
            if (ns.get("status") or {}).get("phase") == "Terminating":
                continue
            with contextlib.suppress(ApiException):
                if api.delete_namespace(meta["name"]):
                    deleted.append(meta["name"])
    return deleted
