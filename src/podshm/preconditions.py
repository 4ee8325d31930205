"""Named environment preconditions: what a scenario needs of the cluster, and whether it has it.

A conformance run must not pass a check it did not make, and must not fail a cluster for
lacking what a scenario needs (two nodes, later a RuntimeClass, a kernel feature). So a
scenario declares its need with a marker (``@pytest.mark.multinode``); on a cluster without
it the scenario is reported *not applicable*, with a reason that names the need, what the
cluster has and how to include it, the way upstream e2e tests use
``SkipUnlessNodeCountIsAtLeast``. That is the only skip podshm allows: a defect or a
misbehaving cluster is a failure.

Pure: the rules read the cluster's facts through the small views below and do no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from podshm import sysctls
from podshm.sysctls import KubeletAllowlist

NOT_APPLICABLE = "not applicable: "
"""How the reason of a not-applicable scenario starts, wherever pytest keeps it (the skip
reason, junit's ``<skipped message>``): the run record and the junit reader look for it."""


class NodeView(Protocol):
    """What the rules read of a node."""

    @property
    def name(self) -> str: ...

    @property
    def ready(self) -> bool: ...

    @property
    def runtime_handlers(self) -> Mapping[str, Mapping[str, bool]]: ...

    @property
    def kubelet_allowlist(self) -> KubeletAllowlist | None:
        """Read only for the needs in :data:`KUBELET_CONFIG_NEEDS` (None: not read)."""
        ...


class FactsView(Protocol):
    """What the rules read of the cluster."""

    @property
    def nodes(self) -> Sequence[NodeView]: ...


@dataclass(frozen=True)
class Where:
    """Where a scenario's pods will run: the runtime handler of its RuntimeClass (``""``: the
    node's default) and the node it is pinned to (None: any Ready node)."""

    handler: str = ""
    node: str | None = None

    def nodes(self, facts: FactsView) -> list[NodeView]:
        """The nodes the pods may land on."""
        return [n for n in facts.nodes if n.ready and self.node in (None, n.name)]


@dataclass(frozen=True)
class Need:
    """One precondition: the marker that declares it and the rule that checks it."""

    marker: str
    what: str
    """What the scenario needs, as the reason says it: ``2 Ready nodes``."""
    has: Callable[[FactsView, Where], str | None]
    """What the cluster has instead (``1``), or None when the need is met."""
    include: str
    """How to run the scenario after all: ``run on kind --nodes 3 to include it``."""

    def unmet(self, facts: FactsView, where: Where = Where()) -> str | None:
        """The not-applicable reason (without :data:`NOT_APPLICABLE`), or None if met."""
        has = self.has(facts, where)
        if has is None:
            return None
        return f"needs {self.what}; cluster has {has}: {self.include}"


def _ready_nodes_below(count: int) -> Callable[[FactsView, Where], str | None]:
    def has(facts: FactsView, where: Where) -> str | None:
        ready = sum(1 for node in facts.nodes if node.ready)
        return None if ready >= count else str(ready)

    return has


def _handler_lacks(feature: str) -> Callable[[FactsView, Where], str | None]:
    def has(facts: FactsView, where: Where) -> str | None:
        name = where.handler or "the default handler"
        lacking = [
            n.name
            for n in where.nodes(facts)
            if not n.runtime_handlers.get(where.handler, {}).get(feature, False)
        ]
        if not lacking:
            return None
        return f"{name} without {feature} on {', '.join(lacking)} (node status runtimeHandlers)"

    return has


def _configz_unreadable(facts: FactsView, where: Where) -> str | None:
    unread = [
        f"{n.name}: {n.kubelet_allowlist.forbidden or n.kubelet_allowlist.unreachable}"
        for n in where.nodes(facts)
        if n.kubelet_allowlist is not None
        and (n.kubelet_allowlist.forbidden or n.kubelet_allowlist.unreachable)
    ]
    return "; ".join(unread) or None


def _no_node_allowing(names: tuple[str, ...]) -> Callable[[FactsView, Where], str | None]:
    """Unmet when every node whose allowlist is known refuses one of ``names`` (a node whose
    configz could not be read is the ``kubelet_configz`` need's business, or a failure)."""

    def has(facts: FactsView, where: Where) -> str | None:
        known = [
            (n.name, n.kubelet_allowlist)
            for n in where.nodes(facts)
            if n.kubelet_allowlist is not None and n.kubelet_allowlist.known
        ]
        if not known or any(allowlist.allows(names) for _, allowlist in known):
            return None
        return "; ".join(f"{name}: {allowlist.describe()}" for name, allowlist in known)

    return has


def _no_node_refusing(facts: FactsView, where: Where) -> str | None:
    known = [
        (n.name, n.kubelet_allowlist)
        for n in where.nodes(facts)
        if n.kubelet_allowlist is not None and n.kubelet_allowlist.known
    ]
    if not known or any(sysctls.first_refused_ipc(a.patterns) for _, a in known):
        return None
    return "; ".join(f"{name}: {allowlist.describe()}" for name, allowlist in known)


NEEDS: dict[str, Need] = {
    need.marker: need
    for need in (
        Need(
            "multinode",
            "2 Ready nodes",
            _ready_nodes_below(2),
            "run on a cluster with two nodes (podshm cluster up --vm-nodes 1 joins a VM node "
            "to podshm's local cluster; podshm cluster up --provider kind --nodes 3) to include it",
        ),
        Need(
            "userns_runtime",
            "a runtime handler with user namespaces",
            _handler_lacks("userNamespaces"),
            "run it under a RuntimeClass whose runtime supports them (runc 1.2+, crun 1.9+)",
        ),
        Need(
            "kubelet_configz",
            "the kubelet's configuration (GET /api/v1/nodes/<node>/proxy/configz)",
            _configz_unreadable,
            f"grant the run's user {sysctls.CONFIGZ_RIGHT} (a ClusterRole rule: apiGroups "
            '[""], resources ["nodes/proxy"], verbs ["get"], bound with a ClusterRoleBinding; '
            "see manifests/rbac/podshm-runner.yaml); a kubelet on a loopback address (podshm's "
            f"local cluster) is named by the node annotation {sysctls.ANNOTATION} that `podshm "
            "cluster up` writes: run it to include it",
        ),
        Need(
            "allows_ipc_sysctls",
            "a node whose kubelet allows the unsafe sysctls " + ", ".join(sysctls.SYSV_LIMITS),
            _no_node_allowing(sysctls.SYSV_LIMITS),
            "start the kubelet with --allowed-unsafe-sysctls '"
            + ",".join(sysctls.IPC_GROUP)
            + "' (podshm's local cluster: podshm cluster up --allowed-unsafe-sysctls ipc) to "
            "include it",
        ),
        Need(
            "refuses_ipc_sysctls",
            "a node whose kubelet refuses an unsafe IPC sysctl",
            _no_node_refusing,
            "run it on a node whose allowedUnsafeSysctls leave out one of "
            + ", ".join(sysctls.UNSAFE_IPC)
            + " to include it",
        ),
    )
}
KUBELET_CONFIG_NEEDS = frozenset({"kubelet_configz", "allows_ipc_sysctls", "refuses_ipc_sysctls"})
"""Needs that read each node's kubelet configuration: the plugin reads it (one GET per node,
once per run) only when a selected scenario declares one of them."""


def reason(text: str) -> str:
    """The skip reason pytest keeps for a not-applicable scenario."""
    return NOT_APPLICABLE + text


def is_not_applicable(text: object) -> bool:
    """Whether a skip reason (or junit ``<skipped message>``) is a not-applicable one."""
    return str(text or "").removeprefix("Skipped: ").startswith(NOT_APPLICABLE)


def unmet_needs(markers: Sequence[str], facts: FactsView, where: Where = Where()) -> list[str]:
    """The reasons why a scenario with these markers cannot run on this cluster."""
    return [r for m in markers if m in NEEDS and (r := NEEDS[m].unmet(facts, where)) is not None]
