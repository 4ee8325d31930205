"""Named environment preconditions (podshm.preconditions): the reason names the need, what the
cluster has and how to include the scenario; only these reasons count as not applicable."""

from __future__ import annotations

from dataclasses import dataclass, field

from podshm.preconditions import NEEDS, Where, is_not_applicable, reason, unmet_needs


@dataclass(frozen=True)
class Node:
    name: str
    ready: bool = True
    runtime_handlers: dict = field(default_factory=dict)


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
