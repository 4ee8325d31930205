"""Bad run inputs are refused once, before any namespace exists: one line naming the cause and
the fix, pytest's usage-error exit (4), and nothing created on the real cluster. Errors name the
flag of the front end the user typed: ``--podshm-context`` under pytest, ``--context`` under
``podshm run``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from podshm.manifests import manifests_dir

USAGE_ERROR = 4
SUITE_TESTS = """
import pytest


@pytest.mark.podshm_pod("devshm-memory-sizelimit.yaml", size_limit="256Mi")
def test_sized(podshm_pod):
    podshm_pod("devshm-memory-sizelimit.yaml", size_limit="256Mi")


@pytest.mark.podshm_pod("devshm-default.yaml")
def test_default(podshm_pod):
    podshm_pod("devshm-default.yaml")
"""


BROKEN = """apiVersion: v1
kind: Pod
metadata:
  name: ${NAME}
spec:
  containers:
    - name: sender
      image: ${IMAGE}
      imagePullPolicy: ${PULL_POLICY}
      command: ["sleep", "infinity"
"""


def run_inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)


def refusal_lines(result: pytest.RunResult) -> list[str]:
    """What the run stopped with: pytest's usage error or podshm's exit line."""
    found = []
    for line in result.stdout.lines + result.stderr.lines:
        for mark in ("ERROR: podshm: ", "_pytest.outcomes.Exit: podshm: "):
            if mark in line:
                found.append(line.split(mark, 1)[1].strip(" !"))
    return found


def assert_no_test_ran(result: pytest.RunResult) -> None:
    """No outcome but warnings (a usage error at session start prints no summary at all)."""
    try:
        outcomes = result.parseoutcomes()
    except ValueError:
        return
    assert set(outcomes) <= {"warnings", "warning"}, outcomes


def assert_refused_once(result: pytest.RunResult, real_cluster_env, run_id: str) -> str:
    """Exit 4, no test ran, one podshm line, and no namespace of the run exists."""
    assert result.ret == USAGE_ERROR, result.stdout.str() + result.stderr.str()
    assert_no_test_ran(result)
    lines = refusal_lines(result)
    assert len(lines) == 1, lines
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert real_cluster_env.cluster.namespaces(run_id) == []
    return lines[0]


def test_a_manifests_directory_that_does_not_exist(pytester, real_cluster_env, tmp_path):
    run_id = real_cluster_env.new_run_id()
    pytester.makepyfile(SUITE_TESTS)
    result = run_inner(pytester, "--podshm-manifests", str(tmp_path / "missing"))
    line = assert_refused_once(result, real_cluster_env, run_id)
    assert line == (
        f"--podshm-manifests (or PODSHM_MANIFESTS): directory {tmp_path / 'missing'} does not "
        "exist -- pass an existing directory of pod manifests to --podshm-manifests (or "
        "PODSHM_MANIFESTS)"
    )


def user_manifests(tmp_path: Path, name: str, text: str) -> Path:
    directory = tmp_path / "manifests"
    directory.mkdir()
    (directory / name).write_text(text)
    return directory


def test_a_manifest_that_does_not_parse(pytester, real_cluster_env, tmp_path):
    """A user's manifest that is not YAML stops the run before the first namespace (it used to
    fail every test that rendered it, each after creating its namespace)."""
    run_id = real_cluster_env.new_run_id()
    pytester.makepyfile(SUITE_TESTS)
    directory = user_manifests(tmp_path, "devshm-default.yaml", BROKEN)
    started = time.monotonic()
    result = run_inner(pytester, "--podshm-manifests", str(directory))
    line = assert_refused_once(result, real_cluster_env, run_id)
    assert line.startswith("a manifest cannot be used (used by ")
    assert "test_a_manifest_that_does_not_parse.py::test_default)" in line
    assert "devshm-default.yaml: not valid YAML after rendering" in line
    assert line.endswith(
        "-- fix the manifest (or the directory given to --podshm-manifests (or "
        "PODSHM_MANIFESTS)); nothing was created"
    )
    assert time.monotonic() - started < 30


def test_a_manifest_without_the_placeholder_its_scenario_fills(
    pytester, real_cluster_env, tmp_path
):
    shipped = (manifests_dir() / "devshm-memory-sizelimit.yaml").read_text()
    without = shipped.replace("${SIZE_LIMIT}", "128Mi").replace(
        "# podshm:default SIZE_LIMIT", "# was SIZE_LIMIT"
    )
    assert "${SIZE_LIMIT}" not in without
    run_id = real_cluster_env.new_run_id()
    pytester.makepyfile(SUITE_TESTS)
    directory = user_manifests(tmp_path, "devshm-memory-sizelimit.yaml", without)
    result = run_inner(pytester, "--podshm-manifests", str(directory))
    line = assert_refused_once(result, real_cluster_env, run_id)
    assert "(used by " in line and "::test_sized)" in line
    assert "devshm-memory-sizelimit.yaml: no placeholder named SIZE_LIMIT" in line


def test_an_image_with_pull_policy_never_that_no_node_holds(pytester, real_cluster_env):
    """Every pod would fail with ErrImageNeverPull: refused once, and the fix does not tell a
    user who passed Never to pass Never."""
    run_id = real_cluster_env.new_run_id()
    pytester.makepyfile(SUITE_TESTS)
    image = "podshm.local/not-loaded:1"
    result = run_inner(pytester, "--podshm-image", image, "--podshm-pull-policy", "Never")
    line = assert_refused_once(result, real_cluster_env, run_id)
    assert line.startswith(
        f"image {image} is given with pull policy Never (--podshm-pull-policy (or "
        "PODSHM_PULL_POLICY)), and no target node holds it (nodes: "
    )
    fix = line.split(" -- ", 1)[1]
    assert "load it into the nodes first" in fix
    assert "pass IfNotPresent to --podshm-pull-policy" in fix
    assert "Never to" not in fix


def test_pytest_names_its_own_flags(pytester, dead_kubeconfig):
    pytester.makepyfile("def test_one(podshm_cluster): pass")
    result = pytester.runpytest(
        "--podshm-kubeconfig", str(dead_kubeconfig), "--podshm-context", "prod"
    )
    assert result.ret == 2
    text = result.stdout.str()
    assert "pass one of the available contexts to --podshm-context (or PODSHM_CONTEXT)" in text


def test_podshm_run_names_its_own_flags(dead_kubeconfig, tmp_path):
    """``podshm run --context`` users are told about ``--context``, which podshm run has, and
    never about ``--podshm-context``."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "podshm.cli",
            "run",
            "--kubeconfig",
            str(dead_kubeconfig),
            "--context",
            "prod",
            "--reports-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"podshm: error: context 'prod' does not exist in kubeconfig {dead_kubeconfig} "
        "(available contexts: dead, other)",
        "podshm: fix: pass one of the available contexts to --context (or PODSHM_CONTEXT)",
    ]


def test_podshm_runs_pytest_child_names_podshm_runs_flags(pytester, dead_kubeconfig, monkeypatch):
    """Errors raised inside the suite ``podshm run`` starts name ``podshm run``'s flags too."""
    monkeypatch.setenv("PODSHM_FRONT_END", "podshm")
    pytester.makepyfile("def test_one(podshm_cluster): pass")
    result = pytester.runpytest("--podshm-kubeconfig", str(dead_kubeconfig))
    assert result.ret == 2
    assert "or pick another context with --context (or PODSHM_CONTEXT)" in result.stdout.str()
