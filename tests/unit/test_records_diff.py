"""Real pytest junit files, read into run records and diffed: every class, every exit code.

Two throwaway suites are run by a real pytest (one from a subdirectory, one not, so their
node ids differ and only the stable ids match): the base ("A") and the candidate ("B").
"""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from podshm.records.diff import Policy, ValueChange, diff, exit_code, is_noise
from podshm.records.load import load_record
from podshm.records.render import counts_line, render_json, render_markdown, render_text
from podshm.records.schema import RunRecord, validate

MODULE = """
import pytest

SPEC = SPEC_HERE


def check(name, record_property):
    spec = SPEC[name]
    for key, value in spec.get("values", {}).items():
        record_property(key, value)
    if "skip" in spec:
        pytest.skip(spec["skip"])
    assert spec.get("ok", True), spec.get("msg", "broken")


def test_stays_green(record_property):
    check("stays_green", record_property)


def test_breaks(record_property):
    check("breaks", record_property)


def test_gets_fixed(record_property):
    check("gets_fixed", record_property)


def test_still_broken(record_property):
    check("still_broken", record_property)


def test_skip_then_pass(record_property):
    check("skip_then_pass", record_property)


@pytest.mark.parametrize("size", ["memory-1Gi", "64Mi"])
def test_size(size, record_property):
    check("size-" + size, record_property)


@pytest.fixture
def broken_fixture():
    raise RuntimeError("fixture broke")


def test_setup_error(broken_fixture):
    pass


@pytest.mark.xfail(reason="known bug")
def test_known_bug():
    assert 0


class TestGroup:
    def test_member(self):
        pass


EXTRA_HERE
"""


def where(kubelet: str, namespace: str) -> dict:
    """What podshm's fixtures record about where a test ran: noise for the per-test diff."""
    return {
        "node": "n1",
        "kubelet_version": kubelet,
        "container_runtime": "containerd://2.1.4",
        "kernel": "6.1.0-18-amd64",
        "kubernetes_version": kubelet,
        "image": f"localhost/podshm-test:{kubelet}",
        "run_id": f"run-{namespace}",
        "namespace": namespace,
    }


PYTEST = [sys.executable, "-m", "pytest", "-p", "no:podshm", "-p", "no:cacheprovider"]
GIB = 1 << 30
BASE = {
    "stays_green": {
        "values": {**where("v1.36.3", "ns-a"), "shm_size_bytes": 67108864, "elapsed_s": 0.5}
    },
    "breaks": {"values": {"shm_size_bytes": 67108864}},
    "gets_fixed": {"ok": False, "msg": "was broken"},
    "still_broken": {"ok": False, "msg": "broken in A"},
    "skip_then_pass": {"skip": "no hugepages"},
    "size-memory-1Gi": {"values": {"shm_size_bytes": GIB, "shm_is_tmpfs": "true"}},
    "size-64Mi": {"values": {"shm_size_bytes": 64 << 20, "sysv_key": "0x1"}},
}
CANDIDATE = {
    "stays_green": {
        "values": {**where("v1.37.2", "ns-b"), "shm_size_bytes": 67108864, "elapsed_s": 0.7}
    },
    "breaks": {"values": {"shm_size_bytes": 1}, "ok": False, "msg": "/dev/shm is 1 byte"},
    "gets_fixed": {},
    "still_broken": {"ok": False, "msg": "broken in B"},
    "skip_then_pass": {},
    "size-memory-1Gi": {"values": {"shm_size_bytes": GIB // 2, "shm_is_tmpfs": "true"}},
    "size-64Mi": {"values": {"shm_size_bytes": 64 << 20, "sysv_key": "0x2"}},
}
EXPECTED = {
    "test_sample.py::test_stays_green": "unchanged",
    "test_sample.py::test_breaks": "new_failure",
    "test_sample.py::test_gets_fixed": "fixed",
    "test_sample.py::test_still_broken": "still_failing",
    "test_sample.py::test_skip_then_pass": "outcome_changed",
    "test_sample.py::test_size[memory-1Gi]": "value_changed",
    "test_sample.py::test_size[64Mi]": "unchanged",
    "test_sample.py::test_setup_error": "still_failing",
    "test_sample.py::test_known_bug": "unchanged",
    "test_sample.py::TestGroup::test_member": "unchanged",
    "test_sample.py::test_only_in_candidate": "added",
    "test_sample.py::test_only_in_base": "removed",
}


def run_suite(root: Path, subdir: str, spec: dict, extra: str) -> Path:
    """Run a real pytest on the sample module in ``root/subdir``; returns the junit XML."""
    module = root / subdir / "test_sample.py"
    module.parent.mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text("[pytest]\n")  # rootdir = root: node ids include subdir
    module.write_text(MODULE.replace("SPEC_HERE", repr(spec)).replace("EXTRA_HERE", extra))
    out = root / "junit.xml"
    subprocess.run(
        [*PYTEST, str(module), "--junitxml", str(out), "-q"],
        cwd=root,
        capture_output=True,
        check=False,
    )
    assert out.is_file(), f"pytest wrote no junit to {out}"
    return out


@pytest.fixture(scope="module")
def junit_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("runs")
    base = run_suite(root / "a", "suite", BASE, "def test_only_in_base():\n    pass\n")
    candidate = run_suite(root / "b", ".", CANDIDATE, "def test_only_in_candidate():\n    pass\n")
    return base, candidate


@pytest.fixture
def records(junit_files: tuple[Path, Path]) -> tuple[RunRecord, RunRecord]:
    return load_record(junit_files[0]), load_record(junit_files[1])


def test_junit_reads_outcomes_values_and_cluster(records: tuple[RunRecord, RunRecord]) -> None:
    base = records[0]
    assert validate(base.to_json()) == []
    tests = {t.id: t for t in base.tests}
    assert tests["test_sample.py::test_stays_green"].nodeid == (
        "suite/test_sample.py::test_stays_green"
    )
    outcomes = {t.id.split("::", 1)[1]: t.outcome for t in base.tests}
    assert outcomes == {
        "test_stays_green": "passed",
        "test_breaks": "passed",
        "test_gets_fixed": "failed",
        "test_still_broken": "failed",
        "test_skip_then_pass": "skipped",
        "test_size[memory-1Gi]": "passed",
        "test_size[64Mi]": "passed",
        "test_setup_error": "error",
        "test_known_bug": "xfailed",
        "TestGroup::test_member": "passed",
        "test_only_in_base": "passed",
    }
    assert tests["test_sample.py::test_still_broken"].message.startswith("AssertionError: broken")
    assert "fixture broke" in tests["test_sample.py::test_setup_error"].message
    assert tests["test_sample.py::test_skip_then_pass"].message == "no hugepages"
    assert tests["test_sample.py::test_known_bug"].message == "known bug"
    assert tests["test_sample.py::test_size[memory-1Gi]"].values == {
        "shm_size_bytes": GIB,
        "shm_is_tmpfs": True,
    }
    assert all(isinstance(t.duration_s, float) for t in base.tests)
    assert base.started <= base.finished and base.started.endswith("Z")
    # The cluster, from the properties podshm's fixtures record.
    assert base.cluster.server_version == "v1.36.3"
    assert [(n.name, n.kubelet_version, n.kernel_version) for n in base.cluster.nodes] == [
        ("n1", "v1.36.3", "6.1.0-18-amd64")
    ]
    assert base.image.ref == "localhost/podshm-test:v1.36.3" and base.run_id == "run-ns-a"


def test_diff_classifies_every_test(records: tuple[RunRecord, RunRecord]) -> None:
    result = diff(*records)
    assert {r.id: r.kind for r in result.rows} == EXPECTED
    rows = {r.id: r for r in result.rows}
    assert rows["test_sample.py::test_size[memory-1Gi]"].changes == [
        ValueChange("shm_size_bytes", GIB, GIB // 2)
    ]
    assert rows["test_sample.py::test_breaks"].changes == [
        ValueChange("shm_size_bytes", 67108864, 1)
    ]
    assert "/dev/shm is 1 byte" in rows["test_sample.py::test_breaks"].message
    header = {h.label: (h.before, h.after, h.changed) for h in result.header}
    assert header["Kubernetes"] == ("v1.36.3", "v1.37.2", True)
    assert header["kubelet"] == ("v1.36.3", "v1.37.2", True)
    assert header["runtime"] == ("containerd://2.1.4", "containerd://2.1.4", False)
    assert header["nodes"] == ("1", "1", False)
    assert exit_code(result) == 1


def _mutated(record: RunRecord, change) -> RunRecord:
    other = copy.deepcopy(record)
    change({t.id.split("::", 1)[1]: t for t in other.tests}, other)
    return other


@pytest.mark.parametrize(
    ("change", "on_failures", "on_changes"),
    [
        (lambda tests, rec: None, 0, 0),
        (lambda tests, rec: setattr(tests["test_stays_green"], "outcome", "failed"), 1, 1),
        (lambda tests, rec: setattr(tests["test_known_bug"], "outcome", "error"), 1, 1),
        (lambda tests, rec: rec.tests.remove(tests["test_only_in_base"]), 1, 1),
        (lambda tests, rec: tests["test_size[64Mi]"].values.update(shm_size_bytes=1), 0, 1),
        (lambda tests, rec: setattr(tests["test_skip_then_pass"], "outcome", "passed"), 0, 1),
        (lambda tests, rec: setattr(tests["test_gets_fixed"], "outcome", "passed"), 0, 0),
        (lambda tests, rec: rec.tests.append(dataclasses.replace(rec.tests[0], id="new")), 0, 0),
        (lambda tests, rec: tests["test_size[64Mi]"].values.update(latency_us=9, x_s=1), 0, 0),
    ],
    ids=[
        "identical",
        "new-failure",
        "xfail-to-error",
        "removed",
        "value",
        "outcome",
        "fixed",
        "added",
        "noise-only",
    ],
)
def test_exit_codes(
    records: tuple[RunRecord, RunRecord], change, on_failures: int, on_changes: int
) -> None:
    base = records[0]
    result = diff(base, _mutated(base, change))
    assert exit_code(result, Policy("failures")) == on_failures
    assert exit_code(result, Policy("changes")) == on_changes


def _not_applicable_now(tests, rec) -> None:
    tests["test_stays_green"].outcome = "not-applicable"
    tests["test_stays_green"].message = "not applicable: needs 2 Ready nodes; cluster has 1: ..."


def test_a_check_that_ran_before_and_is_not_applicable_now_is_a_regression(
    records: tuple[RunRecord, RunRecord],
) -> None:
    """passed -> not applicable: the gate no longer makes that check, so it fails unless the
    user accepts it (--allow-not-applicable); the row says why it did not run."""
    base = records[0]
    result = diff(base, _mutated(base, _not_applicable_now))
    [row] = result.of("not_applicable")
    assert (row.id, row.before, row.after) == (
        "test_sample.py::test_stays_green",
        "passed",
        "not-applicable",
    )
    assert exit_code(result) == 1
    assert exit_code(result, Policy(allow_not_applicable=True)) == 0
    assert "needs 2 Ready nodes" in render_text(result, "a", "b")
    back = diff(_mutated(base, _not_applicable_now), base)
    assert [r.kind for r in back.rows if r.id.endswith("test_stays_green")] == ["outcome_changed"]
    assert exit_code(back) == 0
    same = diff(_mutated(base, _not_applicable_now), _mutated(base, _not_applicable_now))
    assert exit_code(same) == 0


def test_noise_rule() -> None:
    noisy = ["namespace", "run_id", "node", "elapsed_s", "p50_us", "msgs_per_s", "sysv_key"]
    noisy += ["owner_ipc_namespace", "bench.cpus", "same.c.64B.lat.p50_us.pod", "pod_diagnostics"]
    assert all(is_noise(n) for n in noisy)
    kept = ["shm_size_bytes", "shm_is_tmpfs", "share_process_namespace", "shm_verdict"]
    kept += ["bytes_written_before_enospc", "memory_pressure_outcome"]
    assert not any(is_noise(n) for n in kept)


def test_renderers(records: tuple[RunRecord, RunRecord]) -> None:
    result = diff(*records)
    counts = (
        "1 new failure, 1 fixed, 2 still failing, 1 outcome changed, 1 added, 1 removed, "
        "1 value changed, 4 unchanged"
    )
    assert counts_line(result) == counts
    text = render_text(result, "a.xml", "b.xml")
    assert "  Kubernetes  v1.36.3 → v1.37.2" in text
    assert "New failures (1)" in text and "      shm_size_bytes: 1073741824 → 536870912" in text
    assert "test_stays_green" not in text  # unchanged rows are only counted
    assert text.splitlines()[-1] == counts
    markdown = render_markdown(result, "a.xml", "b.xml")
    assert markdown.startswith("### ❌ podshm diff: regression")
    assert "| Kubernetes | v1.36.3 | **v1.37.2** |" in markdown
    assert "| `test_sample.py::test_breaks` | passed → failed |" in markdown
    doc = json.loads(render_json(result, "a.xml", "b.xml", Policy("changes")))
    assert doc["exit_code"] == 1 and doc["counts"]["unchanged"] == 4
    assert len(doc["rows"]) == len(EXPECTED)
    same = diff(records[0], records[0])
    assert render_markdown(same, "a", "a").startswith("### ✅ podshm diff: no regression")
    assert counts_line(same) == "3 still failing, 8 unchanged"
