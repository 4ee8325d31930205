"""--podshm-runtime-class and deviations, on the real local cluster (RuntimeClass ``runc``,
which `podshm cluster up` registers): pods get the class, the matrix is printed, a declared
failure is a deviation, and a declared deviation that does not happen fails."""

from __future__ import annotations

import pytest
import yaml
from realcluster import ClusterEnv

pytestmark = [pytest.mark.cluster]

TESTS = """
def test_runs_under_the_class(podshm_pod, podshm_runtime_class):
    pod = podshm_pod("ipc-pair.yaml")
    assert pod.spec["runtimeClassName"] == podshm_runtime_class


def test_mq_that_nobody_created(podshm_pod):
    pod = podshm_pod("ipc-pair.yaml")
    got = pod.run_ipc("receiver", "posix-mq-recv", "--name", "/none", "--expect", "x",
                      "--timeout", "1")
    assert got.ok, got.describe()
"""


def deviation(test: str, message: str = "*") -> dict[str, str]:
    return {
        "runtime": "runc",
        "test": test,
        "outcome": "failed",
        "message": message,
        "reason": "declared for this test",
        "link": "https://example.org/podshm-test",
    }


def test_a_declared_failure_is_a_deviation_and_a_declared_pass_fails(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv
):
    run_id = real_cluster_env.new_run_id()
    module = pytester.makepyfile(TESTS).name
    declared = {
        "deviations": [
            deviation(f"{module}::test_mq_that_nobody_created", "*ENOENT*"),
            deviation(f"{module}::test_runs_under_the_class"),
        ]
    }
    (pytester.path / "dev.yaml").write_text(yaml.safe_dump(declared))
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rA", "--junitxml=junit.xml",
        "--podshm-runtime-class", "runc", "--podshm-deviations", "dev.yaml",
    )  # fmt: skip
    outcomes = result.parseoutcomes()
    assert outcomes.get("deviation") == 1 and outcomes.get("failed") == 1, outcomes
    result.stdout.fnmatch_lines(
        [
            "*podshm: test_*::test_runs_under_the_class under runc: declared deviation no "
            "longer happens: declared for this test (https://example.org/podshm-test); "
            "remove it from dev.yaml",
            "*podshm runtime matrix*",
            "scenario*runc",
            "*test_mq_that_nobody_created*deviation",
            "*test_runs_under_the_class*failed",
        ]
    )
    junit = (pytester.path / "junit.xml").read_text()
    assert 'name="runtime_class" value="runc"' in junit
    assert 'type="pytest.xfail" message="deviation: declared for this test' in junit
    real_cluster_env.assert_cleaned_up(run_id)


def test_an_unknown_runtime_class_stops_the_run_naming_the_ones_there(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv
):
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--podshm-runtime-class", "runc,no-such-class"
    )
    assert result.ret == 2
    result.stdout.fnmatch_lines(
        ["*podshm: --podshm-runtime-class (or PODSHM_RUNTIME_CLASS) 'runc,no-such-class': "
         "no RuntimeClass no-such-class "
         "on this cluster (it has: *runc*)*"]
    )  # fmt: skip


MISLEADING = """
def test_fill(podshm_runtime_class):
    size, expected = 1, 1
    assert size == expected, f"/dev/shm is {size} bytes, expected {expected}: the declared cause"
    raise OSError(5, "Input/output error while filling")


def test_size(podshm_runtime_class):
    size, expected = 2, 1
    assert size == expected, f"/dev/shm is {size} bytes, expected {expected}: the declared cause"
"""


@pytest.mark.parametrize("tb", ["auto", "long", "short", "line", "native", "no"])
def test_a_deviation_matches_the_failures_own_message_whatever_the_traceback(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv, tb: str
):
    """The declared cause is in both tests' source; only test_size fails with it. test_fill
    fails with EIO after the size matched: a plain failure, for every --tb. (podshm used to
    match the whole report, echoed source included: test_fill read as a deviation with the
    default --tb and as a failure with --tb=short.)"""
    real_cluster_env.new_run_id()
    module = pytester.makepyfile(MISLEADING).name
    declared = {
        "deviations": [
            deviation(f"{module}::test_fill", "*/dev/shm is * bytes, expected *"),
            deviation(f"{module}::test_size", "*/dev/shm is * bytes, expected *"),
        ]
    }
    (pytester.path / "dev.yaml").write_text(yaml.safe_dump(declared))
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--tb={tb}", "-rA",
        "--podshm-runtime-class", "runc", "--podshm-deviations", "dev.yaml",
    )  # fmt: skip
    outcomes = result.parseoutcomes()
    assert outcomes.get("deviation") == 1 and outcomes.get("failed") == 1, outcomes
    result.stdout.fnmatch_lines(["*test_fill*failed", "*test_size*deviation"])


def test_a_declared_message_does_not_span_lines(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv
):
    """``*`` stays within a line: a pattern made of two lines' words matches neither."""
    real_cluster_env.new_run_id()
    module = pytester.makepyfile(
        """
def test_two_lines(podshm_runtime_class):
    assert 0, "first: exit 3 (timed out)\\nsecond: same keys"
"""
    ).name
    declared = {"deviations": [deviation(f"{module}::test_two_lines", "*timed out*same keys*")]}
    (pytester.path / "dev.yaml").write_text(yaml.safe_dump(declared))
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--podshm-runtime-class", "runc", "--podshm-deviations",
        "dev.yaml",
    )  # fmt: skip
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1 and not outcomes.get("deviation"), outcomes
    result.stdout.fnmatch_lines(["*failed, but not as the declared deviation says*"])
