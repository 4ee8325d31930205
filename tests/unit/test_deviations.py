"""Deviations files: validation that names the file and entry, matching, and strictness both
ways (a declared failure is a deviation, a pass of it is reported as no longer happening)."""

from __future__ import annotations

import pytest
import yaml

from podshm import deviations
from podshm.deviations import Deviation
from podshm.errors import PodshmError
from podshm.plugin.matrix import Matrix, scenario_row
from podshm.plugin.params import without_runtime_class

ENTRY = {
    "runtime": "gvisor",
    "test": "test_ipc_mechanisms.py::test_ipc_between_containers[posix-mq-*]",
    "outcome": "failed",
    "message": "*ENOSYS*",
    "reason": "POSIX message queues are not implemented",
    "link": "https://github.com/google/gvisor/issues/136",
}


def parsed(*entries: dict) -> list[deviations.Deviation]:
    return deviations.parse({"deviations": list(entries)}, "f.yaml")


def test_an_entry_matches_by_class_name_or_handler_and_by_test_pattern():
    (dev,) = parsed(ENTRY)
    row = "test_ipc_mechanisms.py::test_ipc_between_containers[posix-mq-own-pid-ns]"
    assert deviations.find([dev], row, "gvisor", "runsc") is dev
    assert deviations.find([dev], row, "sandboxed", "gvisor") is dev
    assert deviations.find([dev], row, "runc", "runc") is None
    assert deviations.find([dev], row.replace("posix-mq", "posix-shm"), "gvisor", "") is None


def test_strict_both_ways():
    (dev,) = parsed(ENTRY)
    assert deviations.judge(dev, passed=False, message="mq_open: ENOSYS").kind == "deviation"
    gone = deviations.judge(dev, passed=True, message="")
    assert gone.kind == "gone" and "no longer happens" in gone.text and "f.yaml" in gone.text
    assert deviations.judge(dev, passed=False, message="EACCES").kind == "different"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({}, "no 'deviations:' list"),
        ({"deviations": ["x"]}, "entry 1 is not a mapping"),
        ({"deviations": [{**ENTRY, "link": ""}]}, "entry 1 lacks link"),
        ({"deviations": [{**ENTRY, "colour": 1}]}, "entry 1 has unknown colour"),
        ({"deviations": [ENTRY, {**ENTRY, "outcome": "passed"}]}, "entry 2: outcome 'passed'"),
    ],
)
def test_a_bad_file_names_the_file_and_the_entry(data, words):
    with pytest.raises(PodshmError) as err:
        deviations.parse(data, "f.yaml")
    assert "deviations file f.yaml" in str(err.value) and words in str(err.value)


def test_the_shipped_profiles_load_and_a_missing_user_file_is_one_clear_error(tmp_path):
    shipped = deviations.load([])
    assert all(d.link.startswith("https://") for d in shipped)
    own = tmp_path / "kata.yaml"
    own.write_text(yaml.safe_dump({"deviations": [{**ENTRY, "runtime": "kata"}]}))
    assert deviations.load([own])[-1].runtime == "kata"
    with pytest.raises(PodshmError, match="cannot read deviations file"):
        deviations.load([tmp_path / "none.yaml"])


def test_the_matrix_row_drops_only_the_runtime_class_part():
    assert without_runtime_class("t.py::f[a-rc=gvisor]", "gvisor") == "t.py::f[a]"
    assert without_runtime_class("t.py::f[rc=gvisor-node=vm]", "gvisor") == "t.py::f[node=vm]"
    assert without_runtime_class("t.py::f[rc=gvisor]", "gvisor") == "t.py::f"
    assert scenario_row("src/x/t.py::f[a-rc=crun]", "crun") == "t.py::f[a]"


def test_the_matrix_puts_scenarios_in_rows_and_runtime_classes_in_columns():
    matrix = Matrix()
    matrix.add("s/t.py::f[rc=runc]", {"runtime_class": "runc"}, "passed")
    matrix.add(
        "s/t.py::f[rc=gvisor]", {"runtime_class": "gvisor", "deviation": "deviation: x"}, "x"
    )
    matrix.add("s/t.py::g[rc=gvisor]", {"runtime_class": "gvisor"}, "failed")
    matrix.add("s/t.py::h", {}, "passed")  # no runtime class: not in the matrix
    assert matrix.lines() == [
        "scenario  runc    gvisor",
        "t.py::f   passed  deviation",
        "t.py::g   -       failed",
    ]


def test_a_wildcard_stays_within_one_line_of_the_message():
    """A declared cause is matched against each line of the failure's own message: ``*``
    cannot join a word of one line to a word of another (it used to, with re.DOTALL)."""
    dev = Deviation("gvisor", "t.py::f", "failed", "r", "l", message="*timed out*different keys*")
    two_lines = "exit 3 (timed out)\nsender and receiver derived different keys"
    assert deviations.judge(dev, passed=False, message=two_lines).kind == "different"
    one_line = "exit 3 (timed out): different keys 0x41 and 0x42"
    assert deviations.judge(dev, passed=False, message="x\n" + one_line).kind == "deviation"
    assert not deviations.glob_match("t.py::f*", "t.py::f[a]\nt.py::g")
