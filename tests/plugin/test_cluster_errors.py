"""A cluster that cannot be used stops the run (exit 2) before any test, with one clear line.

The unreachable and misconfigured cases need no cluster. Refused credentials and missing RBAC
permissions are produced for real on the local cluster: client certificates for users with no
(or partial) RBAC bindings, signed by the cluster's CA, and one signed by a CA of our own.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest
from rbacusers import Rbac, load_cluster_ca, make_ca, make_user, runner_rules, unique_user
from realcluster import ClusterEnv, assert_one_selected, run_id_of

NO_CLUSTER = "podshm: no usable cluster: "
CLUSTER_TESTS = """
def test_one(podshm_cluster):
    pass

def test_two(podshm_namespace):
    pass

def test_three(podshm_pod):
    pass
"""


def error_lines(result: pytest.RunResult) -> list[str]:
    """The lines that carry podshm's failure text in the error sections."""
    return [line for line in result.stdout.lines if line.startswith("podshm: ")]


def failure_lines(result: pytest.RunResult) -> list[str]:
    """podshm's lines minus the report header's ("podshm: no usable cluster: ...")."""
    return [line for line in error_lines(result) if not line.startswith(NO_CLUSTER)]


def exit_reason(result: pytest.RunResult) -> str:
    """The one line the run ended with (pytest.exit), asserting the run stopped with exit 2."""
    assert result.ret == 2, result.stdout.str()
    lines = [line for line in result.stdout.lines if "_pytest.outcomes.Exit: " in line]
    assert len(lines) == 1, result.stdout.str()
    result.assert_outcomes()  # no test ran
    return lines[0].split("_pytest.outcomes.Exit: ", 1)[1].strip(" !")


def test_unreachable_api_server_stops_the_run_fast_with_one_line(
    pytester: pytest.Pytester, dead_kubeconfig
):
    pytester.makepyfile(CLUSTER_TESTS)
    start = time.monotonic()
    result = pytester.runpytest(
        "--podshm-kubeconfig", str(dead_kubeconfig), "-p", "no:cacheprovider"
    )
    elapsed = time.monotonic() - start
    expected = (
        "podshm: cannot reach the Kubernetes API server at https://127.0.0.1:1 "
        "(context 'dead'): connection refused -- start it with `podshm cluster up`, "
        "or pick another context with --podshm-context (or PODSHM_CONTEXT)"
    )
    assert exit_reason(result) == expected
    assert "Traceback" not in result.stdout.str()
    assert "During handling" not in result.stdout.str()
    assert elapsed < 5


def test_with_xdist_every_cluster_test_fails_with_the_same_line(
    pytester: pytest.Pytester, dead_kubeconfig
):
    """A worker cannot end the whole run: each test fails at once with the cached line."""
    pytester.makepyfile(CLUSTER_TESTS)
    result = pytester.runpytest_subprocess(
        "--podshm-kubeconfig", str(dead_kubeconfig), "-p", "no:cacheprovider", "-n", "2"
    )
    result.assert_outcomes(errors=3)
    assert "Traceback" not in result.stdout.str()


def test_unknown_context_lists_the_available_ones(pytester: pytest.Pytester, dead_kubeconfig):
    pytester.makepyfile(CLUSTER_TESTS)
    result = pytester.runpytest(
        "--podshm-kubeconfig", str(dead_kubeconfig), "--podshm-context", "prod"
    )
    assert exit_reason(result) == (
        f"podshm: context 'prod' does not exist in kubeconfig {dead_kubeconfig} "
        "(available contexts: dead, other) -- pass one of the available contexts to "
        "--podshm-context (or PODSHM_CONTEXT)"
    )


def test_environment_variables_select_kubeconfig_and_context(
    pytester: pytest.Pytester, dead_kubeconfig, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PODSHM_KUBECONFIG", str(dead_kubeconfig))
    monkeypatch.setenv("PODSHM_CONTEXT", "missing")
    pytester.makepyfile("def test_one(podshm_cluster): pass")
    result = pytester.runpytest()
    assert exit_reason(result).startswith("podshm: context 'missing' does not exist")


def test_plain_kubeconfig_variable_is_honoured(
    pytester: pytest.Pytester, dead_kubeconfig, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("KUBECONFIG", str(dead_kubeconfig))
    pytester.makepyfile("def test_one(podshm_cluster): pass")
    result = pytester.runpytest()
    assert exit_reason(result).startswith(
        "podshm: cannot reach the Kubernetes API server at https://127.0.0.1:1"
    )


def test_header_says_when_the_cluster_is_unreachable(pytester: pytest.Pytester, dead_kubeconfig):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--podshm-kubeconfig", str(dead_kubeconfig))
    assert result.ret == 0
    header = [line for line in result.stdout.lines if line.startswith("podshm:")]
    assert header == [
        "podshm: no usable cluster: cannot reach the Kubernetes API server at "
        "https://127.0.0.1:1 (context 'dead'): connection refused -- start it with "
        "`podshm cluster up`, or pick another context with --podshm-context (or PODSHM_CONTEXT)"
    ]


# -- real credentials and RBAC on the local cluster --------------------------------------------

RBAC_FIX = (
    "bind a ClusterRole that grants them to your user with a ClusterRoleBinding: cluster-admin, "
    "or the ClusterRole 'podshm-runner' in manifests/rbac/podshm-runner.yaml"
)

# A spy, not a stand-in: it counts the plugin's connection attempts and calls the real thing.
COUNT_CONNECTIONS_CONFTEST = """
import podshm.target as target

CALLS = []
_open_cluster = target.open_cluster


def counting_open_cluster(*args, **kwargs):
    CALLS.append(args)
    return _open_cluster(*args, **kwargs)


target.open_cluster = counting_open_cluster


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"open_cluster calls: {len(CALLS)}")
"""


@pytest.mark.cluster
def test_user_without_rbac_bindings_gets_one_line_naming_every_permission_and_the_role(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv, tmp_path: Path
):
    cluster = real_cluster_env.cluster
    user = make_user(cluster, tmp_path, "podshm-test-nobody", load_cluster_ca(cluster))
    pytester.makepyfile("def test_one(podshm_cluster): pass")
    start = time.monotonic()
    result = pytester.runpytest_subprocess("--podshm-kubeconfig", str(user.kubeconfig))
    elapsed = time.monotonic() - start
    everything = (
        "create namespaces, delete namespaces, list namespaces, patch namespaces, create pods, "
        "deletecollection pods, get pods, "
        "create pods/exec, get pods/log, list events, list nodes"
    )
    expected = (
        "podshm: context 'podshm-test-nobody' lacks RBAC permissions podshm needs in all "
        f"namespaces: {everything} -- {RBAC_FIX}"
    )
    assert exit_reason(result) == expected
    assert NO_CLUSTER + expected.removeprefix("podshm: ") in result.stdout.lines
    assert "Traceback" not in result.stdout.str()
    assert elapsed < 15


@pytest.mark.cluster
def test_partial_rbac_names_only_what_is_missing_and_connects_once(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv, rbac: Rbac, tmp_path: Path
):
    """Bound: podshm-runner without 'delete namespaces' and without pods/exec."""
    cluster = real_cluster_env.cluster
    name = unique_user("podshm-test-partial")
    user = make_user(cluster, tmp_path, name, load_cluster_ca(cluster))
    rules = []
    for rule in copy.deepcopy(runner_rules()):
        if rule["resources"] == ["pods/exec"]:
            continue
        if rule["resources"] == ["namespaces"]:
            rule["verbs"].remove("delete")
        rules.append(rule)
    rbac.bind(name, rules)
    pytester.makepyfile(CLUSTER_TESTS)
    pytester.makeconftest(COUNT_CONNECTIONS_CONFTEST)
    start = time.monotonic()
    result = pytester.runpytest_subprocess("--podshm-kubeconfig", str(user.kubeconfig))
    elapsed = time.monotonic() - start
    expected = (
        f"podshm: context '{name}' lacks RBAC permissions podshm needs in all namespaces: "
        f"delete namespaces, create pods/exec -- {RBAC_FIX}"
    )
    assert exit_reason(result) == expected
    # The header tried once; the check before the tests reuses that failure.
    assert "open_cluster calls: 1" in result.stdout.lines
    assert elapsed < 15


@pytest.mark.cluster
def test_the_documented_clusterrole_is_enough_to_run_a_scenario(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv, rbac: Rbac, tmp_path: Path
):
    """manifests/rbac/podshm-runner.yaml, bound to a fresh user: the suite runs as that user."""
    cluster = real_cluster_env.cluster
    name = unique_user("podshm-test-runner")
    user = make_user(cluster, tmp_path, name, load_cluster_ca(cluster))
    rbac.bind(name, runner_rules())
    result = pytester.runpytest_subprocess(
        "--pyargs",
        "podshm.suite",
        "-k",
        "default_devshm",
        "--podshm-kubeconfig",
        str(user.kubeconfig),
        timeout=300,
    )
    run_id = real_cluster_env.track(run_id_of(result))
    assert_one_selected(result, "passed")
    result.stdout.fnmatch_lines([f"podshm: API server {cluster.server} (context {name}), *"])
    real_cluster_env.assert_cleaned_up(run_id)


@pytest.mark.cluster
def test_certificate_from_an_unknown_ca_is_rejected_credentials(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv, tmp_path: Path
):
    cluster = real_cluster_env.cluster
    user = make_user(cluster, tmp_path, "podshm-test-rogue", make_ca("not-the-cluster-ca"))
    pytester.makepyfile("def test_one(podshm_cluster): pass")
    result = pytester.runpytest_subprocess("--podshm-kubeconfig", str(user.kubeconfig))
    assert exit_reason(result) == (
        f"podshm: the API server at {cluster.server} rejected the credentials of context "
        "'podshm-test-rogue' (401 Unauthorized) -- refresh the credentials in your kubeconfig "
        "(or log in again)"
    )
    assert "Traceback" not in result.stdout.str()
