"""Named environment preconditions (podshm.preconditions): the reason names the need, what the
cluster has and how to include the scenario; only these reasons count as not applicable."""

from __future__ import annotations

from dataclasses import dataclass

from podshm.preconditions import NEEDS, is_not_applicable, reason, unmet_needs


@dataclass(frozen=True)
class Node:
    name: str
    ready: bool = True


@dataclass(frozen=True)
class Facts:
    nodes: tuple[Node, ...]


def test_two_ready_nodes_are_needed_and_a_not_ready_node_does_not_count():
    one = Facts((Node("a"), Node("b", ready=False)))
    assert unmet_needs(["multinode"], one) == [
        "needs 2 Ready nodes; cluster has 1: run on a cluster with two nodes "
        "(podshm cluster up --provider kind --nodes 3) to include it"
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
