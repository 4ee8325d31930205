"""The gate fails on any step's failures, the first version's included, unless a baseline
accepts them (podshm.records.report.step_failure), judged on real pytest runs' junit files."""

from __future__ import annotations

import pytest

from podshm.records.load import load_record
from podshm.records.report import step_failure, unaccepted_failures

SUITE = """
def test_green():
    pass


def test_red_on_this_version():
    assert 0, "only on the old kubelet"
"""


@pytest.fixture
def red_run(pytester: pytest.Pytester):
    pytester.makepyfile(test_step=SUITE)
    result = pytester.runpytest("-p", "no:podshm", "-p", "no:cacheprovider", "--junitxml=j.xml")
    assert result.ret == 1
    return load_record(pytester.path / "j.xml")


@pytest.fixture
def green_run(pytester: pytest.Pytester):
    pytester.makepyfile(test_green_step="def test_green():\n    pass\n")
    result = pytester.runpytest(
        "-p", "no:podshm", "-p", "no:cacheprovider", "--junitxml=g.xml", "test_green_step.py"
    )
    assert result.ret == 0
    return load_record(pytester.path / "g.xml")


def test_a_failure_of_the_first_version_fails_its_step(red_run):
    """Before: the gate judged only the diffs between steps, so this failure, gone after the
    upgrade, was reported as "fixed" and the gate passed."""
    assert step_failure("suite on v1.36.3", 1, red_run, None) == (
        "suite on v1.36.3: 1 failing test(s): test_step.py::test_red_on_this_version"
    )


def test_a_baseline_accepts_the_failures_it_had(red_run):
    assert unaccepted_failures(red_run, red_run) == []
    assert step_failure("suite on v1.36.3", 1, red_run, red_run) == ""


def test_a_baseline_accepts_nothing_else(red_run, green_run):
    assert step_failure("suite on v1.37.2 (after the upgrade)", 1, red_run, green_run) == (
        "suite on v1.37.2 (after the upgrade): 1 failing test(s) not in the baseline: "
        "test_step.py::test_red_on_this_version"
    )


def test_a_red_exit_without_a_failing_test_still_fails_the_step(green_run):
    """A run whose tests passed but which could not delete a namespace exits 1."""
    assert "exited 1 with no failing test" in step_failure("suite on v1.37.2", 1, green_run, None)
    assert step_failure("suite on v1.37.2", 0, green_run, None) == ""
