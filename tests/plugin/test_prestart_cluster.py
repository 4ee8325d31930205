"""Prestart on the real cluster: declared pods are created before their tests, each with its own
test's name and label in the run's namespace; a refused pod fails its own test with the one
line it would give anyway; a declaration that does not match the test's calls is reported;
nothing is left behind."""

from __future__ import annotations

import pytest
from realcluster import ClusterEnv

pytestmark = [pytest.mark.cluster]

PODS = """
import pytest

SEEN = []


@pytest.mark.podshm_pod("ipc-pair.yaml")
@pytest.mark.parametrize("n", range(4))
def test_pod(podshm_pod, podshm_namespace, n):
    pod = podshm_pod("ipc-pair.yaml")
    assert pod.namespace == podshm_namespace.name
    assert pod.pod["status"]["phase"] == "Running"
    labels = pod.pod["metadata"]["labels"]
    SEEN.append((pod.name, labels["podshm.io/test"]))
    assert len({name for name, _ in SEEN}) == len(SEEN), f"each test has its own pod: {SEEN}"
    assert len({label for _, label in SEEN}) == len(SEEN), f"each test has its own label: {SEEN}"


def test_undeclared(podshm_pod):
    podshm_pod("ipc-pair.yaml")
"""


def test_declared_pods_are_prestarted_each_with_its_own_tests_name_and_label(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv
):
    run_id = real_cluster_env.new_run_id()
    pytester.makepyfile(PODS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--junitxml=junit.xml", "--podshm-prestart", "2"
    )
    result.assert_outcomes(passed=5)
    junit = (pytester.path / "junit.xml").read_text()
    assert junit.count('name="prestarted" value="true"') == 4, junit
    real_cluster_env.assert_cleaned_up(run_id)


REFUSED = """
import pytest


@pytest.mark.podshm_pod("devshm-memory-sizelimit.yaml", size_limit="not-a-quantity")
def test_refused(podshm_pod):
    podshm_pod("devshm-memory-sizelimit.yaml", size_limit="not-a-quantity")


@pytest.mark.podshm_pod("devshm-default.yaml")
def test_after(podshm_pod):
    podshm_pod("devshm-default.yaml")
"""


def test_a_refused_prestarted_pod_fails_its_own_test_with_one_line(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv
):
    run_id = real_cluster_env.new_run_id()
    pytester.makepyfile(REFUSED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "podshm: pod 'devshm-memory-sizelimit-t*' rejected by the API server (HTTP 400)"
            "*quantities*"
        ]
    )
    assert "Traceback" not in result.stdout.str()
    real_cluster_env.assert_cleaned_up(run_id)


MISMATCH = """
import pytest


@pytest.mark.podshm_pod("devshm-default.yaml")
def test_declares_another_pod(podshm_pod):
    podshm_pod("ipc-pair.yaml")
"""


def test_a_declaration_the_test_does_not_use_is_reported(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv
):
    run_id = real_cluster_env.new_run_id()
    pytester.makepyfile(MISMATCH)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*declares pods it never started: devshm-default.yaml {}*"])
    real_cluster_env.assert_cleaned_up(run_id)
