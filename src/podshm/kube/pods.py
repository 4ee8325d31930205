"""Pod lifecycle: create, wait until usable (failing fast with the cause), exec, inspect.

Waiting polls the pod rather than watching it: one GET a second is cheap, survives API server
hiccups, and keeps the decision logic in a pure function (:func:`pod_problem`) that is tested
with literal pod objects.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from podshm.errors import PodshmError
from podshm.kube.api import KubeApi, api_error_message
from podshm.kube.diagnostics import collect_pod_diagnostics, format_container_statuses
from podshm.kube.execution import ExecResult, exec_in_container
from podshm.kube.ipccall import IPC_PROGRAM, IpcResult
from podshm.objects import quantity_to_bytes

UNTIL_RUNNING = "running"
UNTIL_COMPLETED = "completed"

# Waiting reasons that will not resolve by themselves within a test's patience.
IMAGE_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
FATAL_WAITING_REASONS = IMAGE_REASONS | frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "CrashLoopBackOff", "RunContainerError"}
)

FIX_IMAGE_PULL = (
    "check {image} and that the node can pull it; for an image loaded into the nodes pass "
    "Never to {pull_policy}"
)
FIX_IMAGE_NEVER = (
    "load {image} into the pod's node (`podshm image load`, `kind load docker-image`), or "
    "pass IfNotPresent to {pull_policy} if the node may pull it"
)
FIX_SCHEDULE = "free capacity on the nodes or pin a node with {node}"
FIX_CONTAINER = "see the container statuses, events and logs in the report"
FIX_RUNTIME = "check the node's container runtime for this pod's RuntimeClass (its logs)"
EVENT_CHECK_S = 5.0
FIX_TIMEOUT = "raise {pod_timeout} or look at the events below"


class PodRejected(PodshmError):
    """The API server refused the pod (admission, validation): ``status`` is 403, 422..."""

    def __init__(self, name: str, status: int, message: str) -> None:
        self.name = name
        self.status = status
        self.message = message
        super().__init__(f"pod {name!r} rejected by the API server (HTTP {status}): {message}")


class PodNotReady(PodshmError):
    """A pod did not reach the wanted state; the cause is in the message."""


def _statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(
        status.get("containerStatuses") or []
    )


def image_fix(pod: dict[str, Any]) -> str:
    """What to do about an image a container cannot get, never suggesting what the pod does:
    a pod that already refuses to pull (``Never``) is told to load the image instead."""
    policies = {c.get("imagePullPolicy") for c in (pod.get("spec") or {}).get("containers") or []}
    return FIX_IMAGE_NEVER if policies == {"Never"} else FIX_IMAGE_PULL


def pod_problem(pod: dict[str, Any], until: str = UNTIL_RUNNING) -> tuple[str, str] | None:
    """(cause, fix) if the pod cannot reach ``until`` any more, else None.

    Fatal: a container stuck on an image or config error or crash-looping, an Unschedulable
    pod, a pod that Failed (or, when waiting for Running, a container that already ended).
    """
    status = pod.get("status") or {}
    for cond in status.get("conditions") or []:
        if (
            cond.get("type") == "PodScheduled"
            and cond.get("status") == "False"
            and cond.get("reason") == "Unschedulable"
        ):
            return f"pod cannot be scheduled: {cond.get('message', '')}".strip(), FIX_SCHEDULE
    for cs in _statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in FATAL_WAITING_REASONS:
            fix = image_fix(pod) if reason in IMAGE_REASONS else FIX_CONTAINER
            message = waiting.get("message") or ""
            return f"container {cs.get('name')!r} is {reason}: {message}".rstrip(": "), fix
    phase = status.get("phase")
    if phase == "Failed" and until == UNTIL_RUNNING:
        reason = status.get("reason") or "Failed"
        detail = status.get("message") or "; ".join(format_container_statuses(pod)[1:])
        return f"pod failed ({reason}): {detail}", FIX_CONTAINER
    if until == UNTIL_RUNNING:
        app = {c.get("name") for c in (pod.get("spec") or {}).get("containers") or []}
        for cs in status.get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated")
            if cs.get("name") in app and term:
                return (
                    f"container {cs.get('name')!r} exited before the test could use it: "
                    f"{term.get('reason', '?')} (exit {term.get('exitCode', '?')})",
                    _exit_fix(term),
                )
    return None


def _exit_fix(term: dict[str, Any]) -> str:
    """What to do about an app container that ended before the test used it.

    The runtime failing to create the process (StartError) is the node's problem unless the
    command itself is missing; anything that ran and exited means the image's keep-alive
    command did not keep it alive.
    """
    message = term.get("message") or ""
    if term.get("reason") == "StartError" and "executable file not found" not in message:
        return FIX_RUNTIME
    return "the image must provide the keep-alive command (sleep); " + FIX_CONTAINER


def pod_reached(pod: dict[str, Any], until: str = UNTIL_RUNNING) -> bool:
    """Whether every app container is running (or, for ``completed``, the pod has ended)."""
    status = pod.get("status") or {}
    if until == UNTIL_COMPLETED:
        return status.get("phase") in ("Succeeded", "Failed")
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    running = {
        cs.get("name")
        for cs in status.get("containerStatuses") or []
        if (cs.get("state") or {}).get("running") is not None
    }
    return bool(names) and all(n in running for n in names)


SANDBOX_FAILURES = 3
"""FailedCreatePodSandBox events before a pod counts as hopeless: the kubelet retries for
ever, but a runtime that refused the same sandbox three times (an OCI error) refuses it on."""


def sandbox_failure(events: list[dict[str, Any]]) -> str | None:
    """The runtime's last refusal when it failed to create the pod's sandbox repeatedly."""
    failed = [e for e in events if e.get("reason") == "FailedCreatePodSandBox"]
    if sum(int(e.get("count") or 1) for e in failed) < SANDBOX_FAILURES:
        return None
    return str(failed[-1].get("message", ""))


def last_warning(events: list[dict[str, Any]]) -> str:
    """The newest Warning event as ``Reason: message`` (events come oldest first)."""
    for ev in reversed(events):
        if ev.get("type") == "Warning":
            return f"{ev.get('reason', '?')}: {ev.get('message', '')}".strip()
    return ""


def wait_for_pod(
    api: KubeApi,
    namespace: str,
    name: str,
    until: str = UNTIL_RUNNING,
    timeout: float = 120.0,
    poll: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll until the pod reaches ``until``; raise PodNotReady with the cause otherwise."""
    deadline = clock() + timeout
    next_event_check = clock() + EVENT_CHECK_S
    pod: dict[str, Any] = {}
    while True:
        pod = api.read_pod(namespace, name)
        if pod_reached(pod, until):
            return pod
        problem = pod_problem(pod, until)
        pending = (pod.get("status") or {}).get("phase") == "Pending"
        if problem is None and pending and clock() >= next_event_check:
            next_event_check = clock() + EVENT_CHECK_S
            refused = sandbox_failure(_safe_events(api, namespace, name))
            if refused:
                problem = (f"the runtime cannot create the pod's sandbox: {refused}", FIX_RUNTIME)
        if problem is not None:
            cause, fix = problem
            warning = _safe_last_warning(api, namespace, name)
            if warning and warning not in cause:
                cause += f" [event {warning}]"
            raise PodNotReady(f"pod {namespace}/{name}: {cause}", fix)
        if clock() >= deadline:
            break
        sleep(poll)
    state = "; ".join(format_container_statuses(pod))
    warning = _safe_last_warning(api, namespace, name)
    cause = f"pod {namespace}/{name} not {until} after {timeout:g} s ({state})"
    if warning:
        cause += f" [last event {warning}]"
    raise PodNotReady(cause, FIX_TIMEOUT)


def _safe_events(api: KubeApi, namespace: str, name: str) -> list[dict[str, Any]]:
    try:
        return api.pod_events(namespace, name)
    except (ApiException, OSError, urllib3.exceptions.HTTPError):  # events are a nicety on
        return []  # top of the real cause, which the caller reports


def _safe_last_warning(api: KubeApi, namespace: str, name: str) -> str:
    return last_warning(_safe_events(api, namespace, name))


def create_pod(api: KubeApi, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """Submit a pod; an admission or validation refusal raises :class:`PodRejected`."""
    name = str((manifest.get("metadata") or {}).get("name", "?"))
    try:
        return api.create_pod(namespace, manifest)
    except ApiException as err:
        if err.status and 400 <= err.status < 500:
            raise PodRejected(name, err.status, api_error_message(err)) from err
        raise


class PodHandle:
    """A pod a test created: where it runs, and how to exec into it."""

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        manifest: dict[str, Any],
        pod: dict[str, Any] | None = None,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.manifest = manifest
        self.name = str(manifest["metadata"]["name"])
        self.pod: dict[str, Any] = pod or {}
        self.exec_floor = 0.0
        """The least time any exec gets (``{exec_timeout}``: slow nodes need more)."""

    def __repr__(self) -> str:
        return f"PodHandle({self.namespace}/{self.name} on {self.node_name})"

    @property
    def node_name(self) -> str | None:
        """The node the pod was scheduled to (None while pending)."""
        return (self.pod.get("spec") or {}).get("nodeName")

    @property
    def spec(self) -> dict[str, Any]:
        """The pod spec as admitted by the API server (defaults and mutations applied)."""
        return self.pod.get("spec") or self.manifest.get("spec") or {}

    @property
    def containers(self) -> list[str]:
        """App container names."""
        return [str(c["name"]) for c in self.spec.get("containers") or []]

    def refresh(self) -> dict[str, Any]:
        """Re-read the pod from the API server."""
        self.pod = self.api.read_pod(self.namespace, self.name)
        return self.pod

    def wait(self, until: str = UNTIL_RUNNING, timeout: float = 120.0) -> dict[str, Any]:
        """Wait for ``until`` (see :func:`wait_for_pod`)."""
        self.pod = wait_for_pod(self.api, self.namespace, self.name, until, timeout)
        return self.pod

    def container_status(self, container: str) -> dict[str, Any]:
        """The status entry of one container (empty if not reported yet)."""
        for cs in (self.pod.get("status") or {}).get("containerStatuses") or []:
            if cs.get("name") == container:
                return cs
        return {}

    def exec(self, container: str, argv: list[str], timeout: float = 60.0) -> ExecResult:
        """Run a command in a container (exit code from the exec status channel)."""
        timeout = max(timeout, self.exec_floor)
        return exec_in_container(self.api, self.namespace, self.name, container, argv, timeout)

    def resize_memory(self, limits: Mapping[str, str], timeout: float = 120.0) -> dict[str, Any]:
        """Set containers' memory limits in place and wait until the kubelet reports them
        applied (``status.containerStatuses[].resources``); PodNotReady if it does not."""
        patch = {
            "spec": {
                "containers": [
                    {"name": name, "resources": {"limits": {"memory": limit}}}
                    for name, limit in limits.items()
                ]
            }
        }
        self.api.resize_pod(self.namespace, self.name, patch)
        wanted = {name: quantity_to_bytes(limit) for name, limit in limits.items()}
        deadline = time.monotonic() + timeout
        while True:
            self.refresh()
            applied = {
                name: quantity_to_bytes(
                    ((self.container_status(name).get("resources") or {}).get("limits") or {}).get(
                        "memory", "0"
                    )
                )
                for name in wanted
            }
            if applied == wanted:
                return self.pod
            if time.monotonic() >= deadline:
                raise PodNotReady(
                    f"pod {self.namespace}/{self.name}: memory limits {applied} after the resize "
                    f"to {wanted}, still after {timeout:.0f} s",
                    "look at the pod's PodResizePending/PodResizeInProgress conditions",
                )
            time.sleep(0.2)

    def run_ipc(self, container: str, command: str, *args: str, timeout: float = 60.0) -> IpcResult:
        """Run ``podshm-ipc <command> <args>`` in a container and parse its JSON report.

        The only place the suite turns a helper invocation into an exec, so a change in how
        the helper is called touches this method alone.
        """
        argv = [IPC_PROGRAM, command, *args]
        return IpcResult.from_exec(self.exec(container, argv, timeout=timeout))

    def diagnostics(self) -> str:
        """Events, statuses and logs, for a failure report."""
        return collect_pod_diagnostics(self.api, self.namespace, self.name)
