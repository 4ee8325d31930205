"""Stable test ids: the same test has one id from a node id and from junit, however collected."""

from __future__ import annotations

import pytest

from podshm.records.ids import (
    nodeid_from_junit,
    stable_id_from_junit,
    stable_id_from_nodeid,
    without_param,
)

# (pytest node id, junit classname, junit name, stable id): the same test as each source
# writes it. junit's classname is pytest's node-id path with "/" -> "." and ".py" dropped.
CASES = [
    (  # a checkout
        "src/podshm/suite/test_sysv_shm.py::test_shared_ftok_file",
        "src.podshm.suite.test_sysv_shm",
        "test_shared_ftok_file",
        "test_sysv_shm.py::test_shared_ftok_file",
    ),
    (  # --pyargs podshm.suite from a directory where the package is importable
        "podshm/suite/test_devshm.py::test_size[memory-1Gi]",
        "podshm.suite.test_devshm",
        "test_size[memory-1Gi]",
        "test_devshm.py::test_size[memory-1Gi]",
    ),
    (  # an installed wheel, outside the rootdir
        "../.venv/lib/python3.11/site-packages/podshm/suite/test_devshm.py::test_size[64Mi]",
        "....venv.lib.python3.11.site-packages.podshm.suite.test_devshm",
        "test_size[64Mi]",
        "test_devshm.py::test_size[64Mi]",
    ),
    (  # a class, and parameters that contain "::", "/" and "."
        "tests/test_x.py::TestFoo::test_bar[a::b/c.d]",
        "tests.test_x.TestFoo",
        "test_bar[a::b/c.d]",
        "test_x.py::TestFoo::test_bar[a::b/c.d]",
    ),
    (  # nested classes, module at the rootdir
        "test_x.py::TestOuter::TestInner::test_y",
        "test_x.TestOuter.TestInner",
        "test_y",
        "test_x.py::TestOuter::TestInner::test_y",
    ),
    (  # a module not named test_*: the CapWords rule finds the class
        "checks/shm_checks.py::TestShm::test_size",
        "checks.shm_checks.TestShm",
        "test_size",
        "shm_checks.py::TestShm::test_size",
    ),
    (  # a module that failed to collect: junit writes classname="" and the module as name
        "src/podshm/suite/test_devshm.py",
        "",
        "src.podshm.suite.test_devshm",
        "test_devshm.py",
    ),
]


@pytest.mark.parametrize(("nodeid", "classname", "name", "stable"), CASES)
def test_nodeid_and_junit_forms_agree(nodeid: str, classname: str, name: str, stable: str) -> None:
    assert stable_id_from_nodeid(nodeid) == stable
    assert stable_id_from_junit(classname, name) == stable


def test_checkout_and_pyargs_runs_give_the_same_ids() -> None:
    checkout = stable_id_from_nodeid("src/podshm/suite/test_devshm.py::test_size[memory-1Gi]")
    pyargs = stable_id_from_junit("podshm.suite.test_devshm", "test_size[memory-1Gi]")
    assert checkout == pyargs == "test_devshm.py::test_size[memory-1Gi]"


def test_nodeid_from_junit_is_a_best_effort_path() -> None:
    assert (
        nodeid_from_junit("src.podshm.suite.test_x.TestFoo", "test_bar[p.q]")
        == "src/podshm/suite/test_x.py::TestFoo::test_bar[p.q]"
    )
    assert nodeid_from_junit("", "suite.test_x") == "suite/test_x.py"


@pytest.mark.parametrize(
    ("test_id", "word", "value", "row"),
    [
        ("t.py::f[rc=gvisor]", "rc", "gvisor", "t.py::f"),
        ("t.py::f[a-rc=gvisor]", "rc", "gvisor", "t.py::f[a]"),
        ("t.py::f[rc=gvisor-node=vm]", "rc", "gvisor", "t.py::f[node=vm]"),
        ("t.py::f[a-node=kind-worker-rc=runc]", "node", "kind-worker", "t.py::f[a-rc=runc]"),
        # only a whole parameter counts: a prefix of a value, or no such parameter, is kept
        ("t.py::f[a-rc=gvisor2]", "rc", "gvisor", "t.py::f[a-rc=gvisor2]"),
        # ambiguous ("kind" and a parameter "worker"?): callers try the longest value first
        ("t.py::f[node=kind-worker]", "node", "kind", "t.py::f[worker]"),
        ("t.py::f", "rc", "gvisor", "t.py::f"),
    ],
)
def test_without_param(test_id: str, word: str, value: str, row: str) -> None:
    assert without_param(test_id, word, value) == row
