"""Options, environment variables, markers, and what works without any cluster."""

from __future__ import annotations

import pytest

from podshm.plugin.markers import MARKERS, OPT_IN, selects_opt_in
from podshm.settings import SETTINGS


def test_help_lists_every_option_with_its_environment_variable(pytester: pytest.Pytester):
    result = pytester.runpytest("--help")
    assert result.ret == 0
    text = " ".join(result.stdout.str().split())  # undo help-text wrapping
    assert "podshm: IPC and /dev/shm conformance in Kubernetes pods" in text
    for setting in SETTINGS:
        assert setting.pytest_flag in text
        assert setting.env in text
        for choice in setting.choices:
            assert choice in text


def test_markers_are_registered(pytester: pytest.Pytester):
    result = pytester.runpytest("--markers")
    for name in MARKERS:
        result.stdout.fnmatch_lines([f"@pytest.mark.{name}: *"])


def test_strict_markers_accepts_ours_and_refuses_typos(pytester: pytest.Pytester):
    marks = "".join(
        f"@pytest.mark.{name}\n" for name in MARKERS if name not in (*OPT_IN, "cluster")
    )
    pytester.makepyfile(f"import pytest\n\n{marks}def test_ok():\n    pass\n")
    assert pytester.runpytest("--strict-markers").ret == 0
    pytester.makepyfile(
        test_typo="""
        import pytest

        @pytest.mark.sysvv
        def test_typo():
            pass
        """
    )
    result = pytester.runpytest("--strict-markers", "test_typo.py")
    result.stdout.fnmatch_lines(["*'sysvv' not found in `markers` configuration option*"])


def test_bench_is_deselected_unless_asked_for(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.bench
        def test_bench():
            pass

        def test_plain():
            pass
        """
    )
    pytester.runpytest().assert_outcomes(passed=1, deselected=1)
    pytester.runpytest("-m", "bench").assert_outcomes(passed=1, deselected=1)


def test_workload_is_opt_in_and_independent_of_bench(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.workload
        def test_workload():
            pass

        @pytest.mark.bench
        def test_bench():
            pass

        def test_plain():
            pass
        """
    )
    pytester.runpytest().assert_outcomes(passed=1, deselected=2)
    pytester.runpytest("-m", "workload").assert_outcomes(passed=1, deselected=2)
    pytester.runpytest("-m", "bench or workload").assert_outcomes(passed=2, deselected=1)
    pytester.runpytest("-m", "not workload").assert_outcomes(passed=1, deselected=2)


def test_opt_in_markers_are_named_by_word():
    assert selects_opt_in("workload and not gvisor") == {"workload"}
    assert selects_opt_in("bench or workload") == {"bench", "workload"}
    assert selects_opt_in("workloads or benchmark") == set()
    assert selects_opt_in(None) == set()


def test_cluster_marker_is_added_to_tests_using_cluster_fixtures(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        def test_needs_pods(podshm_pod):
            pass

        def test_pure():
            pass
        """
    )
    result = pytester.runpytest("-m", "not cluster")
    result.assert_outcomes(passed=1, deselected=1)


def test_collect_only_of_the_suite_needs_no_cluster(pytester: pytest.Pytester):
    result = pytester.runpytest("--pyargs", "podshm.suite", "--collect-only", "-q")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["*test_devshm.py::test_default_devshm_is_64mib_and_fills_to_enospc*", "*tests collected*"]
    )


def test_header_without_cluster_is_one_line(pytester: pytest.Pytester, tmp_path):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--podshm-kubeconfig", str(tmp_path / "missing"))
    assert result.ret == 0
    lines = [line for line in result.stdout.lines if line.startswith("podshm:")]
    assert len(lines) == 1
    assert lines[0].startswith("podshm: no usable cluster: no kubeconfig found at ")


def test_bad_option_value_is_a_usage_error_but_help_still_works(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PODSHM_POD_TIMEOUT", "soon")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--podshm-pod-timeout (or PODSHM_POD_TIMEOUT): 'soon'*"])
    assert pytester.runpytest("--help").ret == 0


def test_option_beats_environment(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PODSHM_IMAGE", "from-env:1")
    monkeypatch.setenv("PODSHM_NODE", "node-9")
    pytester.makepyfile(
        """
        def test_settings(podshm_settings):
            assert podshm_settings.image == "from-option:2"
            assert podshm_settings.node == "node-9"
            assert podshm_settings.pod_timeout == 120
            assert podshm_settings.pull_policy == "IfNotPresent"
        """
    )
    pytester.runpytest("--podshm-image", "from-option:2").assert_outcomes(passed=1)


def test_malformed_expectations_file_stops_the_run(pytester: pytest.Pytester):
    bad = pytester.path / "expect.yaml"
    bad.write_text("devshm-default: 64 megabytes\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--podshm-expectations", str(bad))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: podshm: expectations file {bad}: key 'devshm-default': '64 megabytes' is not*"]
    )
