"""``podshm run``: argument passthrough, report path, the no-cluster message."""

from __future__ import annotations

import argparse

import pytest

from podshm import runner
from podshm.errors import PodshmError
from podshm.settings import from_cli_args


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="podshm")
    runner.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    ("argv", "context", "passthrough"),
    [
        (["run", "-m", "sysv", "-n", "4"], None, ["-m", "sysv", "-n", "4"]),
        (["run", "--context", "kind", "-m", "sysv"], "kind", ["-m", "sysv"]),
        (["run", "--context=kind", "--", "--context", "x"], "kind", ["--context", "x"]),
        (["run"], None, []),
        (["run", "--start-cluster", "-x"], None, ["-x"]),
    ],
)
def test_pytest_arguments_pass_through(argv, context, passthrough):
    args = parse(argv)
    assert args.context == context
    assert args.pytest_args == passthrough
    assert args.func is runner.run


def test_pytest_argv_targets_the_suite_with_junit(tmp_path):
    args = parse(["run", "--kubeconfig", "/k", "-m", "shm"])
    path = runner.junit_path_for(str(tmp_path), now=0)
    assert path.name.startswith("junit-") and path.suffix == ".xml"
    argv = runner.pytest_argv(args, path)
    assert argv == ["--pyargs", "podshm.suite", "--junitxml", str(path), "-m", "shm"]


def test_run_settings_reach_pytest_as_environment(monkeypatch):
    monkeypatch.delenv("PODSHM_NODE", raising=False)
    args = parse(["run", "--kubeconfig", "/k", "--image", "img:1", "--node", "n1", "-x"])
    env = from_cli_args(args).env()
    assert env["PODSHM_KUBECONFIG"] == "/k"
    assert env["PODSHM_IMAGE"] == "img:1"
    assert env["PODSHM_NODE"] == "n1"
    assert "PODSHM_LOCAL" not in env
    assert args.pytest_args == ["-x"]


def test_a_named_cluster_that_does_not_answer_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    monkeypatch.delenv("PODSHM_KUBECONFIG", raising=False)
    args = parse(["run", "--start-cluster", "--kubeconfig", str(tmp_path / "none")])
    with pytest.raises(PodshmError) as err:
        runner.run(args)
    assert err.value.cause == f"no kubeconfig found at {tmp_path / 'none'}"


def test_the_mark_expression_is_read_from_pytests_arguments():
    markexpr_of = runner.markexpr_of
    assert markexpr_of(["-m", "workload", "-q"]) == "workload"
    assert markexpr_of(["-mworkload and not bench"]) == "workload and not bench"
    assert markexpr_of(["-n", "2", "-m", "sysv", "-m", "workload"]) == "workload"
    assert markexpr_of(["--podshm-image", "x", "-k", "pg"]) == ""
