"""``podshm run``: argument passthrough, report path, the no-cluster message."""

from __future__ import annotations

import argparse

import pytest

from podshm import runner
from podshm.errors import PodshmError


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
    assert argv[:4] == ["--pyargs", "podshm.suite", "--junitxml", str(path)]
    assert argv[4:] == ["--podshm-kubeconfig", "/k", "-m", "shm"]


def test_a_named_cluster_that_does_not_answer_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("PODSHM_KUBECONFIG", raising=False)
    args = parse(["run", "--kubeconfig", str(tmp_path / "none")])
    with pytest.raises(PodshmError) as err:
        runner.ensure_cluster(args)
    assert "the cluster you named does not answer" in err.value.cause
    assert "podshm cluster up" in err.value.fix


def test_no_context_and_no_local_cluster_offers_to_start_one(tmp_path, monkeypatch):
    for var in ("PODSHM_KUBECONFIG", "PODSHM_CONTEXT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.setenv("PODSHM_STATE_DIR", str(tmp_path / "state"))  # no local cluster there
    with pytest.raises(PodshmError) as err:
        runner.ensure_cluster(parse(["run"]))
    assert "no cluster to run the suite against" in err.value.cause
    assert "podshm run --start-cluster" in err.value.fix
