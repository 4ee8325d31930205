"""RunRecorder in a real inner pytest: the record it writes agrees with pytest's junit."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from podshm.plugin.runrecord import RunRecorder
from podshm.records.diff import diff
from podshm.records.load import load_record
from podshm.records.report import record_path
from podshm.records.schema import validate

CONFTEST = """
from podshm.kube.facts import ClusterFacts, NodeFacts
from podshm.plugin.runrecord import RunRecorder

NODE = NodeFacts(
    name="n1", ready=True, kubelet_version="v1.36.3", container_runtime="containerd://2.1.4",
    kernel_version="6.1.0", os_image="Debian GNU/Linux 12", architecture="amd64",
    allocatable_memory_bytes=8 << 30, capacity_memory_bytes=9 << 30,
)
FACTS = ClusterFacts("https://127.0.0.1:6443", "local", "v1.36.3", nodes=(NODE,))


def pytest_configure(config):
    recorder = RunRecorder(
        config, "run123", facts=lambda: FACTS, image=lambda: "localhost/podshm-test:1",
        options=lambda: {"node": "n1", "expectations": None},
    )
    config.pluginmanager.register(recorder, "podshm-runrecord")
"""

SUITE = """
import pytest


@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")


@pytest.fixture
def bad_teardown(record_property):
    yield
    record_property("kept_namespace", "ns-1")
    raise RuntimeError("teardown broke")


def test_pass(record_property):
    record_property("shm_size_bytes", 67108864)
    record_property("shm_is_tmpfs", "true")


def test_fail(record_property):
    record_property("shm_size_bytes", 1)
    assert 0, "boom"


def test_error(broken):
    pass


def test_teardown_error(bad_teardown):
    pass


def test_skip():
    pytest.skip("no hugepages")


def test_not_applicable():
    pytest.skip("not applicable: needs 2 Ready nodes; cluster has 1: run on two nodes")


@pytest.mark.xfail(reason="known")
def test_xfail():
    assert 0


@pytest.mark.xfail(reason="known")
def test_xpass():
    pass


@pytest.mark.parametrize("p", ["a::b/c"])
def test_param(p):
    pass
"""
JUNIT = "reports/junit-20260501-120000.xml"
RECORD = "reports/podshm-20260501-120000.json"


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_record_beside_junit_agrees_with_it(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-p", "no:podshm", "-p", "no:cacheprovider", "--junitxml", JUNIT)
    result.stdout.fnmatch_lines([f"*podshm run record: {suite.path / RECORD}*"])
    doc = json.loads((suite.path / RECORD).read_text())
    assert validate(doc) == []
    record = load_record(suite.path / RECORD)
    tests = {t.id.removeprefix("test_suite.py::"): t for t in record.tests}
    assert {k: t.outcome for k, t in tests.items()} == {
        "test_pass": "passed",
        "test_fail": "failed",
        "test_error": "error",
        "test_teardown_error": "error",
        "test_skip": "skipped",
        "test_not_applicable": "not-applicable",
        "test_xfail": "xfailed",
        "test_xpass": "xpassed",
        "test_param[a::b/c]": "passed",
    }
    assert tests["test_pass"].values == {"shm_size_bytes": 67108864, "shm_is_tmpfs": True}
    assert tests["test_teardown_error"].values == {"kept_namespace": "ns-1"}
    assert tests["test_fail"].message.startswith("AssertionError: boom")
    assert tests["test_skip"].message == "no hugepages"
    assert tests["test_not_applicable"].message.startswith("not applicable: needs 2 Ready nodes")
    assert record.run_id == "run123" and record.image.ref == "localhost/podshm-test:1"
    assert record.options == {"node": "n1", "expectations": ""}
    assert record.cluster.server_version == "v1.36.3"
    node = record.cluster.nodes[0]
    assert (node.name, node.allocatable_memory_bytes, node.page_size_bytes) == ("n1", 8 << 30, None)
    # The same run read from junit: the same tests, outcomes, values and messages, except that
    # junit cannot tell an xpass from a pass.
    junit = load_record(suite.path / JUNIT)
    result = diff(junit, record)
    assert {r.id: r.kind for r in result.rows if r.kind != "unchanged"} == {
        "test_suite.py::test_xpass": "outcome_changed",
        "test_suite.py::test_fail": "still_failing",
        "test_suite.py::test_error": "still_failing",
        "test_suite.py::test_teardown_error": "still_failing",
    }
    assert not any(r.changes for r in result.rows)
    assert {t.id: t.message for t in junit.tests} == {t.id: t.message for t in record.tests}


def test_no_junit_no_record(suite: pytest.Pytester) -> None:
    suite.runpytest("-p", "no:podshm", "-p", "no:cacheprovider")
    assert list(suite.path.rglob("podshm-*.json")) == []


def test_only_the_xdist_controller_writes(suite: pytest.Pytester) -> None:
    import xdist  # noqa: F401  (a dev dependency: a missing one is a failure, not a skip)

    result = suite.runpytest(
        "-p", "no:podshm", "-p", "no:cacheprovider", "-n", "2", "--junitxml", JUNIT
    )
    result.assert_outcomes(passed=3, failed=1, errors=2, skipped=2, xfailed=1, xpassed=1)
    assert [p.name for p in suite.path.rglob("podshm-*.json")] == [Path(RECORD).name]
    record = load_record(suite.path / RECORD)
    assert len(record.tests) == 9
    assert (
        next(t for t in record.tests if t.id.endswith("test_pass")).values["shm_size_bytes"]
        == 67108864
    )


def test_record_path() -> None:
    assert record_path("r/junit-20260501-120000.xml") == Path("r/podshm-20260501-120000.json")
    now = time.mktime((2026, 5, 1, 12, 0, 0, 0, 0, -1))
    assert record_path("out/report.xml", now) == Path("out/podshm-20260501-120000.json")


def test_a_worker_writes_nothing(tmp_path: Path) -> None:
    config = SimpleNamespace(option=SimpleNamespace(xmlpath=str(tmp_path / "junit-x.xml")))
    config.workerinput = {"workerid": "gw0"}
    recorder = RunRecorder(config, "r", lambda: None, lambda: None, lambda: {})  # type: ignore[arg-type]
    recorder.pytest_sessionfinish()
    assert recorder.written is None and list(tmp_path.iterdir()) == []


def test_broken_fact_sources_leave_the_cluster_unknown(tmp_path: Path) -> None:
    def no_cluster() -> None:
        raise RuntimeError("API server unreachable")

    config = SimpleNamespace(option=SimpleNamespace(xmlpath=str(tmp_path / "junit-x.xml")))
    recorder = RunRecorder(config, "r", no_cluster, lambda: None, lambda: {})  # type: ignore[arg-type]
    recorder.pytest_sessionfinish()
    assert recorder.written == tmp_path / "podshm-x.json"
    assert load_record(recorder.written).cluster.nodes == []
    assert recorder.problems == ["cluster facts unknown: API server unreachable"]
