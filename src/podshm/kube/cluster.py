"""A connected cluster: the verified connection plus its facts, opened once per session."""

from __future__ import annotations

from dataclasses import dataclass

from podshm.kube.access import PROBE_TIMEOUT_S, Connection, connect
from podshm.kube.api import KubeApi
from podshm.kube.facts import ClusterFacts, NodeFacts, gather_facts


@dataclass
class Cluster:
    """What a test session holds on to."""

    connection: Connection
    facts: ClusterFacts

    @property
    def api(self) -> KubeApi:
        """The dict-returning API facade."""
        return self.connection.api

    def node(self, name: str) -> NodeFacts:
        """A node read now (allocatable memory may have changed since the session began)."""
        return NodeFacts.from_node(self.api.read_node(name))


def open_cluster(
    kubeconfig: str | None = None,
    context: str | None = None,
    probe_timeout: float = PROBE_TIMEOUT_S,
    check_rbac: bool = True,
) -> Cluster:
    """Connect (fast failure with a one-line cause) and gather the facts."""
    connection = connect(kubeconfig, context, probe_timeout, check_rbac)
    facts = gather_facts(connection.api, connection.context, connection.version)
    return Cluster(connection=connection, facts=facts)
