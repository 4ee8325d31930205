"""The one way podshm starts a pod: render the manifest, label it, check Pod Security, create,
wait, and fail with the cause (the event, the container state) in one line.

The plugin's ``podshm_pod`` fixture, ``podshm bench`` and the cluster benchmark all call
:func:`launch_pod`; what a pod gets from a run (its labels, node, pull policy, later runtime
class and expiry) is therefore decided here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from podshm import manifests
from podshm.errors import PodshmError
from podshm.kube.api import KubeApi
from podshm.kube.facts import NodeFacts
from podshm.kube.namespaces import RUN_ID_LABEL, lifetime_annotations
from podshm.kube.pods import UNTIL_RUNNING, PodHandle, create_pod, wait_for_pod
from podshm.kube.podsecurity import baseline_violations, restricted_violations
from podshm.podimages import TEST, WORKLOAD

POD_SECURITY_CHECKS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "restricted": restricted_violations,
    "baseline": baseline_violations,
}


@dataclass(frozen=True)
class PodOptions:
    """What every pod of one run shares (from the run's settings)."""

    image: str
    pull_policy: str
    run_id: str
    node: str | None = None
    runtime_class: str | None = None
    """``spec.runtimeClassName`` for pods whose manifest does not name one."""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    manifests: str | None = None
    """The user's own manifests directory, searched before podshm's."""
    expiry_s: float | None = None
    """Lifetime of the pod: ``activeDeadlineSeconds``, so a killed run's pods end by
    themselves, and the expiry annotation later runs and `podshm gc` read."""
    run_started: datetime | None = None
    workload_image: str = ""
    """The workload image, for manifests that run it (``${WORKLOAD_IMAGE}``); empty when
    the run needs none."""


def uses_workload_image(text: str, source: str) -> bool:
    """Whether a manifest's pod runs the workload image (it has ``${WORKLOAD_IMAGE}``)."""
    return WORKLOAD.placeholder in manifests.placeholders(text, source)


def render_pod(
    manifest: str,
    name: str,
    options: PodOptions,
    *,
    node: str | None = None,
    pod_security: str | None = "restricted",
    params: Mapping[str, manifests.ParamValue] | None = None,
    known_nodes: tuple[NodeFacts, ...] = (),
) -> dict[str, Any]:
    """The pod object for ``manifest``: image, name, pull policy, node, run labels.

    ``pod_security`` is the level of the target namespace: a manifest that breaks it fails
    here with the rule it breaks, instead of as an admission error after a round trip.
    ``known_nodes`` (when the run could list them) turns a misspelt node into a clear error.
    """
    values: dict[str, manifests.ParamValue] = {
        TEST.placeholder: options.image,
        "NAME": name,
        "PULL_POLICY": options.pull_policy,
        **(params or {}),
    }
    text = manifests.read(manifest, options.manifests)
    if uses_workload_image(text, manifest):
        if not options.workload_image:
            raise PodshmError(
                f"manifest {manifest} runs the {WORKLOAD.what}, and this run looked for none "
                "(no selected test declares a pod of it with @pytest.mark.podshm_pod)",
                f"declare the pod on the test, or name the image with {{{WORKLOAD.setting}}}",
            )
        values[WORKLOAD.placeholder] = options.workload_image
    pod = manifests.render_text(text, values, source=manifest)
    node = node or options.node
    if node and known_nodes and not any(n.name == node for n in known_nodes):
        names = ", ".join(n.name for n in known_nodes)
        raise PodshmError(
            f"node {node!r} does not exist (nodes: {names})",
            "pass an existing node to {node}",
        )
    pod = manifests.pin_to_node(pod, node)
    if options.runtime_class:
        pod["spec"].setdefault("runtimeClassName", options.runtime_class)
    pod = manifests.add_labels(pod, {**options.labels, RUN_ID_LABEL: options.run_id})
    if options.annotations:
        pod["metadata"].setdefault("annotations", {}).update(options.annotations)
    if options.expiry_s:
        spec = pod.setdefault("spec", {})
        deadline = int(options.expiry_s)
        spec["activeDeadlineSeconds"] = min(deadline, spec.get("activeDeadlineSeconds", deadline))
        notes = pod["metadata"].setdefault("annotations", {})
        notes.update(lifetime_annotations(options.run_started or datetime.now(UTC), deadline))
    check = POD_SECURITY_CHECKS.get(pod_security or "")
    problems = check(pod) if check else []
    if problems:
        raise PodshmError(
            f"manifest {manifest} breaks Pod Security {pod_security!r}: " + "; ".join(problems),
            "fix the manifest's securityContext",
        )
    return pod


def launch_pod(
    api: KubeApi,
    namespace: str,
    pod: dict[str, Any],
    *,
    wait: bool = True,
    until: str = UNTIL_RUNNING,
    timeout: float = 120.0,
    poll: float = 0.2,
    on_created: Callable[[PodHandle], None] | None = None,
) -> PodHandle:
    """Create a rendered pod and (unless ``wait`` is false) wait until ``until``.

    ``on_created`` sees the handle before the wait, so a caller can collect diagnostics of
    a pod that never becomes ready. Refusals raise :class:`~podshm.kube.pods.PodRejected`,
    hopeless or slow pods :class:`~podshm.kube.pods.PodNotReady`: one line each.
    """
    created = create_pod(api, namespace, pod)
    handle = PodHandle(api, namespace, pod, created)
    if on_created is not None:
        on_created(handle)
    if wait:
        handle.pod = wait_for_pod(api, namespace, handle.name, until, timeout, poll)
    return handle
