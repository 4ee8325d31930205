"""--podshm-nodes: every scenario once per selected node, on the real local cluster."""

from __future__ import annotations

import pytest
from realcluster import ClusterEnv

pytestmark = [pytest.mark.cluster]

POD_TEST = """
def test_pod(podshm_pod, podshm_target_node):
    pod = podshm_pod("devshm-default.yaml")
    assert pod.node_name == podshm_target_node
"""


def test_all_nodes_runs_each_scenario_once_per_node_named_in_the_id(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv
):
    node = real_cluster_env.cluster.core.list_node().items[0].metadata.name
    run_id = real_cluster_env.new_run_id()
    pytester.makepyfile(POD_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "--podshm-nodes", "all")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*test_pod[[]node={node}[]] PASSED*"])
    real_cluster_env.assert_cleaned_up(run_id)


def test_a_selector_that_matches_no_ready_node_stops_the_run(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv
):
    pytester.makepyfile(POD_TEST)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--podshm-nodes", "podshm.io/no-such-label=x"
    )
    assert result.ret == 2
    result.stdout.fnmatch_lines(
        [
            "*podshm: --podshm-nodes (or PODSHM_NODES) 'podshm.io/no-such-label=x' selects no "
            "Ready node*"
        ]
    )
