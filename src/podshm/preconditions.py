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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

NOT_APPLICABLE = "not applicable: "
"""How the reason of a not-applicable scenario starts, wherever pytest keeps it (the skip
reason, junit's ``<skipped message>``): the run record and the junit reader look for it."""


class NodeView(Protocol):
    """What the rules read of a node."""

    @property
    def name(self) -> str: ...

    @property
    def ready(self) -> bool: ...


class FactsView(Protocol):
    """What the rules read of the cluster."""

    @property
    def nodes(self) -> Sequence[NodeView]: ...


@dataclass(frozen=True)
class Need:
    """One precondition: the marker that declares it and the rule that checks it."""

    marker: str
    what: str
    """What the scenario needs, as the reason says it: ``2 Ready nodes``."""
    has: Callable[[FactsView], str | None]
    """What the cluster has instead (``1``), or None when the need is met."""
    include: str
    """How to run the scenario after all: ``run on kind --nodes 3 to include it``."""

    def unmet(self, facts: FactsView) -> str | None:
        """The not-applicable reason (without :data:`NOT_APPLICABLE`), or None if met."""
        has = self.has(facts)
        if has is None:
            return None
        return f"needs {self.what}; cluster has {has}: {self.include}"


def _ready_nodes_below(count: int) -> Callable[[FactsView], str | None]:
    def has(facts: FactsView) -> str | None:
        ready = sum(1 for node in facts.nodes if node.ready)
        return None if ready >= count else str(ready)

    return has


NEEDS: dict[str, Need] = {
    need.marker: need
    for need in (
        Need(
            "multinode",
            "2 Ready nodes",
            _ready_nodes_below(2),
            "run on a cluster with two nodes (podshm cluster up --provider kind --nodes 3) "
            "to include it",
        ),
    )
}


def reason(text: str) -> str:
    """The skip reason pytest keeps for a not-applicable scenario."""
    return NOT_APPLICABLE + text


def is_not_applicable(text: object) -> bool:
    """Whether a skip reason (or junit ``<skipped message>``) is a not-applicable one."""
    return str(text or "").removeprefix("Skipped: ").startswith(NOT_APPLICABLE)


def unmet_needs(markers: Sequence[str], facts: FactsView) -> list[str]:
    """The reasons why a scenario with these markers cannot run on this cluster."""
    return [r for m in markers if m in NEEDS and (r := NEEDS[m].unmet(facts)) is not None]
