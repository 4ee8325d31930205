"""Which cluster a run tests, and which pod images it uses: decided here, once, for every
front end (the plugin, ``podshm run``, ``podshm bench``).

The rule that keeps a gate honest: a kubeconfig or context the user configured is used or
the run stops with one line (exit 2); podshm's local cluster is the target only when asked
for (``--local``) or when no kubeconfig exists at all. It is never a silent fallback for a
cluster that does not answer.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from kubernetes.client.exceptions import ApiException

from podshm import localpaths
from podshm.errors import InputError, PodshmError
from podshm.kube.access import DEFAULT_KUBECONFIG, existing_kubeconfigs, kubeconfig_paths
from podshm.kube.api import api_error_message
from podshm.kube.cluster import Cluster, open_cluster
from podshm.kube.facts import ClusterFacts, NodeFacts
from podshm.objects import IMAGE_REPORT_S, MANAGED_BY_RUN
from podshm.podimages import TEST, PodImage
from podshm.settings import Settings

LOCAL_NOT_RUNNING_FIX = (
    "start it with `podshm cluster up` (or `podshm run --start-cluster`), or point "
    "KUBECONFIG / --kubeconfig at your cluster"
)


@dataclass(frozen=True)
class Target:
    """The kubeconfig and context a run uses, and why (the report header says it)."""

    kubeconfig: str | None
    context: str | None
    local: bool
    why: str


def choose(settings: Settings) -> Target:
    """Pick the target without touching the network.

    ``--local`` names podshm's local cluster. Otherwise a configured kubeconfig (option,
    ``KUBECONFIG``), an existing ``~/.kube/config`` or an in-cluster
    service account is the target. Only when none of them exists is the local cluster used.
    """
    local = Target(
        str(localpaths.admin_kubeconfig()), localpaths.CONTEXT_NAME, True, "podshm's local cluster"
    )
    if settings.local:
        return Target(local.kubeconfig, local.context, True, "podshm's local cluster (--local)")
    configured = settings.kubeconfig or os.environ.get("KUBECONFIG")
    paths = kubeconfig_paths(settings.kubeconfig)
    if (
        configured
        or settings.context
        or existing_kubeconfigs(paths)
        or os.environ.get("KUBERNETES_SERVICE_HOST")
    ):
        return Target(settings.kubeconfig, settings.context, False, f"kubeconfig {paths}")
    return Target(
        local.kubeconfig,
        local.context,
        True,
        f"podshm's local cluster (no kubeconfig at {DEFAULT_KUBECONFIG} and none configured)",
    )


def connect_target(target: Target, check_rbac: bool = True) -> Cluster:
    """Connect to the chosen target, or fail with one line naming it and what to do."""
    if target.local and not Path(str(target.kubeconfig)).is_file():
        raise PodshmError(
            f"{target.why} is not running (no {target.kubeconfig})", LOCAL_NOT_RUNNING_FIX
        )
    try:
        return open_cluster(target.kubeconfig, target.context, check_rbac=check_rbac)
    except PodshmError as err:
        if target.local:
            raise PodshmError(f"{target.why}: {err.cause}", LOCAL_NOT_RUNNING_FIX) from err
        raise


def find_image(settings: Settings, facts: ClusterFacts, kind: PodImage = TEST) -> tuple[str, str]:
    """One of podshm's pod images (the test image unless ``kind`` says otherwise) and how it
    was found, or a PodshmError saying how to build and load it.

    In order: its setting; the image podshm's local cluster imported (its node carries the
    kind's annotation, ``podshm.io/test-image``, whatever kubeconfig names the cluster); this
    podshm's image of that kind held by every target node (``node.status.images``).
    """
    configured = getattr(settings, kind.setting)
    if configured:
        return configured, "as configured"
    nodes = [n for n in facts.nodes if n.ready]
    if settings.node:
        nodes = [n for n in facts.nodes if n.name == settings.node]
    imported = {n.annotations.get(kind.annotation) for n in nodes}
    if len(imported) == 1 and (ref := imported.pop()):
        return ref, "imported by podshm's local cluster"
    held = kind.pick_held(n.images for n in nodes) if nodes else None
    if held:
        return held, "held by the nodes"
    where = f"node {settings.node}" if settings.node else "the cluster's Ready nodes"
    reason = facts.nodes_error or f"{where} hold no {kind.repo} image tagged "
    if not facts.nodes_error:
        reason += f"{kind.tag_prefix()}*"
    raise PodshmError(f"no {kind.what} named, and {reason}", kind.build_and_load)


def _held(names: tuple[str, ...]) -> set[str]:
    """A node's image names as a user writes them (``docker.io/library/`` dropped)."""
    return {n.removeprefix("docker.io/").removeprefix("library/") for n in names}


def check_image_held(
    settings: Settings,
    cluster: Cluster,
    image: str,
    kind: PodImage = TEST,
    *,
    wait_s: float = IMAGE_REPORT_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    log: TextIO | None = None,
) -> None:
    """With pull policy ``Never`` a configured image must be on a target node already: every
    pod would otherwise fail with ErrImageNeverPull. Refused once, before any namespace, after
    giving the nodes ``wait_s`` to report an image loaded moments ago."""
    facts = cluster.facts
    if settings.pull_policy != "Never" or not getattr(settings, kind.setting) or facts.nodes_error:
        return

    def targets(nodes: tuple[NodeFacts, ...]) -> list[NodeFacts]:
        return [n for n in nodes if n.name == settings.node or (not settings.node and n.ready)]

    wanted = image.removeprefix("docker.io/").removeprefix("library/")
    nodes = targets(facts.nodes)
    deadline = clock() + wait_s
    said = False
    while not any(wanted in _held(n.images) for n in nodes):
        if clock() >= deadline:
            names = ", ".join(n.name for n in nodes) or "none"
            raise InputError(
                f"image {image} is given with pull policy Never ({{pull_policy}}), and no target "
                f"node holds it (nodes: {names}; waited {wait_s:.0f} s for them to report it)",
                f"load it into the nodes first (`kind load docker-image {image}`, or `podshm "
                f"image load` for podshm's {kind.what}), or pass IfNotPresent to "
                "{pull_policy} if the nodes may pull it",
            )
        if not said:
            print(
                f"podshm: no target node reports {image} yet; waiting up to {wait_s:.0f} s "
                "(the kubelet lists a loaded image in node status within about a minute)",
                file=log or sys.stderr,
                flush=True,
            )
            said = True
        sleep(2.0)
        try:
            nodes = targets(tuple(NodeFacts.from_node(n) for n in cluster.api.list_nodes()))
        except ApiException:
            deadline = clock()  # the nodes cannot be read again: refuse on what was read


def select_nodes(settings: Settings, cluster: Cluster) -> list[str]:
    """The nodes every scenario runs on once each (the ``nodes`` setting): Ready ones only.

    ``all`` means every Ready node; anything else is a label selector. Selecting nothing is
    an error, not a silent empty run.
    """
    if not settings.nodes:
        return []
    selector = "" if settings.nodes == "all" else settings.nodes
    try:
        found = [NodeFacts.from_node(n) for n in cluster.api.list_nodes(selector)]
    except ApiException as err:
        raise PodshmError(
            f"{{nodes}} {settings.nodes!r}: cannot list nodes (HTTP {err.status}: "
            f"{api_error_message(err)})",
            "pass 'all' or a valid label selector (e.g. kubernetes.io/os=linux)",
        ) from err
    ready = sorted(n.name for n in found if n.ready)
    if not ready:
        raise PodshmError(
            f"{{nodes}} {settings.nodes!r} selects no Ready node "
            f"(matching: {', '.join(n.name for n in found) or 'none'})",
            "pass 'all' or a selector that matches Ready nodes (kubectl get nodes --show-labels)",
        )
    return ready


def select_runtime_classes(settings: Settings, facts: ClusterFacts) -> list[str]:
    """The RuntimeClasses every scenario runs under once each (the ``runtime_class`` setting).

    ``all`` is every RuntimeClass of the cluster but those tests made for themselves; names
    must exist. Selecting nothing is an error, not a silent empty run.
    """
    if not settings.runtime_class:
        return []
    known = [rc.name for rc in facts.runtime_classes if rc.managed_by != MANAGED_BY_RUN]
    if settings.runtime_class == "all":
        chosen = sorted(known)
    else:
        chosen = list(dict.fromkeys(n.strip() for n in settings.runtime_class.split(",")))
    missing = [n for n in chosen if n not in known]
    if missing or not chosen:
        raise PodshmError(
            f"{{runtime_class}} {settings.runtime_class!r}: "
            + (f"no RuntimeClass {', '.join(missing)}" if missing else "selects none")
            + f" on this cluster (it has: {', '.join(known) or 'none'})",
            "pass existing names or 'all' (kubectl get runtimeclass); on podshm's local "
            "cluster: podshm cluster up --runtimes runc,crun,gvisor",
        )
    return chosen
