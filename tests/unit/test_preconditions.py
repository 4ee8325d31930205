"""Named environment preconditions (podshm.preconditions): the reason names the need, what the
cluster has and how to include the scenario; only these reasons count as not applicable."""

from __future__ import annotations

from dataclasses import dataclass, field

from podshm.preconditions import NEEDS, Where, is_not_applicable, reason, unmet_needs
from podshm.sysctls import IPC_GROUP, KubeletAllowlist


@dataclass(frozen=True)
class Node:
    name: str
    ready: bool = True
    runtime_handlers: dict = field(default_factory=dict)
    kubelet_allowlist: KubeletAllowlist | None = None


@dataclass(frozen=True)
class Facts:
    nodes: tuple[Node, ...]


def test_two_ready_nodes_are_needed_and_a_not_ready_node_does_not_count():
    one = Facts((Node("a"), Node("b", ready=False)))
    assert unmet_needs(["multinode"], one) == [
        "needs 2 Ready nodes; cluster has 1: run on a cluster with two nodes "
        "(podshm cluster up --vm-nodes 1 joins a VM node to podshm's local cluster; "
        "podshm cluster up --provider kind --nodes 3) to include it"
    ]
    assert unmet_needs(["multinode"], Facts((Node("a"), Node("b")))) == []


def test_markers_that_are_not_needs_are_ignored():
    assert unmet_needs(["sysv", "shm"], Facts(())) == []


def test_the_reason_is_recognised_in_every_form_pytest_keeps_it():
    text = reason(NEEDS["multinode"].unmet(Facts(())) or "")
    assert text.startswith("not applicable: needs 2 Ready nodes; cluster has 0")
    assert is_not_applicable(text)
    assert is_not_applicable("Skipped: " + text)  # a skip's longrepr
    assert not is_not_applicable("Skipped: cannot reach the cluster")
    assert not is_not_applicable(None)


def test_a_user_namespaced_pod_needs_its_handler_to_support_user_namespaces_on_its_node():
    """The node reports each handler's features (status.runtimeHandlers); crun 1.8 reports
    userNamespaces: false, and the kubelet refuses hostUsers: false under it."""
    handlers = {"runc": {"userNamespaces": True}, "crun": {"userNamespaces": False}}
    facts = Facts((Node("vm", runtime_handlers=handlers),))
    assert unmet_needs(["userns_runtime"], facts, Where("runc")) == []
    assert unmet_needs(["userns_runtime"], facts, Where("crun")) == [
        "needs a runtime handler with user namespaces; cluster has crun without userNamespaces "
        "on vm (node status runtimeHandlers): run it under a RuntimeClass whose runtime "
        "supports them (runc 1.2+, crun 1.9+)"
    ]
    # The default handler ("") must say so itself; a handler a node does not report lacks it.
    assert unmet_needs(["userns_runtime"], facts, Where("")) != []
    pinned = Facts((Node("vm", runtime_handlers=handlers), Node("other")))
    assert unmet_needs(["userns_runtime"], pinned, Where("runc", node="vm")) == []
    assert unmet_needs(["userns_runtime"], pinned, Where("runc")) != []


SYSCTL_NEEDS = ["kubelet_configz", "allows_ipc_sysctls"]


def test_a_node_allowing_the_ipc_sysctls_is_needed_and_named_when_missing():
    none = Facts((Node("n1", kubelet_allowlist=KubeletAllowlist()),))
    assert unmet_needs(SYSCTL_NEEDS, none) == [
        "needs a node whose kubelet allows the unsafe sysctls kernel.msgmax, kernel.msgmnb, "
        "kernel.sem; cluster has n1: allowedUnsafeSysctls []: start the kubelet with "
        "--allowed-unsafe-sysctls 'kernel.msg*,kernel.sem,kernel.shm*' (podshm's local cluster: "
        "podshm cluster up --allowed-unsafe-sysctls ipc) to include it"
    ]
    some = Facts((*none.nodes, Node("n2", kubelet_allowlist=KubeletAllowlist(IPC_GROUP))))
    assert unmet_needs(SYSCTL_NEEDS, some) == []
    assert unmet_needs(SYSCTL_NEEDS, some, Where(node="n1")) != []
    # Only kernel.sem: kernel.msgmax is still refused.
    sem_only = Facts((Node("n1", kubelet_allowlist=KubeletAllowlist(("kernel.sem",))),))
    assert unmet_needs(["allows_ipc_sysctls"], sem_only) != []


def test_a_user_without_nodes_proxy_is_told_which_right_and_how_to_grant_it():
    forbidden = KubeletAllowlist(forbidden="no get on the nodes/proxy subresource (HTTP 403)")
    facts = Facts((Node("n1", kubelet_allowlist=forbidden),))
    (only,) = unmet_needs(SYSCTL_NEEDS, facts)  # the allowlist need does not guess
    assert only.startswith("needs the kubelet's configuration (GET /api/v1/nodes/<node>/proxy/")
    assert "n1: no get on the nodes/proxy subresource (HTTP 403)" in only
    assert 'resources ["nodes/proxy"], verbs ["get"]' in only
    unreachable = KubeletAllowlist(unreachable="HTTP 400: address not allowed")
    (only,) = unmet_needs(SYSCTL_NEEDS, Facts((Node("vm", kubelet_allowlist=unreachable),)))
    assert "vm: HTTP 400: address not allowed" in only
    assert "podshm.io/allowed-unsafe-sysctls" in only
    # Any other failure to read it is not a precondition: the scenario runs and fails.
    broken = Facts((Node("n1", kubelet_allowlist=KubeletAllowlist(error="HTTP 502")),))
    assert unmet_needs(SYSCTL_NEEDS, broken) == []


def test_the_refused_branch_needs_a_node_refusing_some_ipc_sysctl():
    allow_ipc = Facts((Node("n1", kubelet_allowlist=KubeletAllowlist(IPC_GROUP)),))
    assert unmet_needs(["refuses_ipc_sysctls"], allow_ipc) == []  # fs.mqueue.* still refused
    everything = KubeletAllowlist(("kernel.*", "fs.mqueue.*"))
    assert unmet_needs(["refuses_ipc_sysctls"], Facts((Node("n1", kubelet_allowlist=everything),)))
