"""load_record: run record or junit by content; anything else is one clear PodshmError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podshm.errors import PodshmError
from podshm.records.load import load_record
from podshm.records.schema import CaseResult, RunRecord

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuite name="pytest" tests="1" time="0.5" timestamp="2026-05-01T14:00:00+02:00">
  <testcase classname="podshm.suite.test_devshm" name="test_default" time="0.5">
    <properties><property name="shm_size_bytes" value="67108864"/></properties>
  </testcase>
</testsuite>
"""


def record_doc() -> dict:
    return RunRecord(
        started="2026-05-01T12:00:00Z",
        finished="2026-05-01T12:00:01Z",
        tests=[CaseResult("test_x.py::test_a", "suite/test_x.py::test_a", "passed")],
    ).to_json()


def test_junit_detected_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "artifact.txt"
    path.write_text(JUNIT)
    record = load_record(path)
    assert [(t.id, t.values) for t in record.tests] == [
        ("test_devshm.py::test_default", {"shm_size_bytes": 67108864})
    ]
    # A lone <testsuite> root; its local timestamp becomes UTC.
    assert (record.started, record.finished) == (
        "2026-05-01T12:00:00Z",
        "2026-05-01T12:00:00.500000Z",
    )


def test_junit_without_timestamp_is_dated_by_the_file(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_bytes(
        b"\xef\xbb\xbf<testsuites><testsuite><testcase classname='t' name='test_a'/>"
        b"</testsuite></testsuites>"
    )
    record = load_record(path)
    assert record.tests[0].id == "t.py::test_a" and record.finished.endswith("Z")


def test_record_json_detected_by_content(tmp_path: Path) -> None:
    path = tmp_path / "run.xml"  # misnamed on purpose
    path.write_text("\n  " + json.dumps(record_doc()))
    assert load_record(path).tests[0].id == "test_x.py::test_a"


def _bad_inputs(tmp_path: Path) -> list[tuple[Path, str]]:
    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    wrong_schema = {**record_doc(), "schema": "podshm-run/2"}
    invalid = record_doc()
    invalid["tests"][0]["outcome"] = "flaky"
    del invalid["run_id"]
    return [
        (tmp_path / "missing.json", "cannot read (No such file or directory)"),
        (tmp_path, "is a directory"),
        (write("empty.json", ""), "empty file"),
        (write("blank.xml", " \n\t\n"), "empty file"),
        (write("notes.txt", "hello"), "neither JSON nor XML (starts with b'hello')"),
        (write("binary.bin", b"\x00\x01\x02"), "neither JSON nor XML"),
        (write("broken.json", '{"schema": '), "not valid JSON (line 1, column 12"),
        (write("latin1.json", b'{"a": "\xe9"}'), "not UTF-8 JSON"),
        (write("list.json", "[1, 2]"), 'JSON without a "schema" field is not a run record'),
        (
            write("bench.json", '{"schema": "podshm-bench/1"}'),
            "unsupported schema 'podshm-bench/1'",
        ),
        (write("future.json", json.dumps(wrong_schema)), "unsupported schema 'podshm-run/2'"),
        (write("invalid.json", json.dumps(invalid)), "invalid podshm-run/1 record: record.run_id"),
        (write("page.html", "<html><body/></html>"), "not a junit XML: root element is <html>"),
        (write("cut.xml", "<testsuites><testsuite>"), "not a junit XML: not well-formed XML"),
    ]


def test_bad_inputs_are_one_line_errors_naming_the_file(tmp_path: Path) -> None:
    for path, cause in _bad_inputs(tmp_path):
        with pytest.raises(PodshmError) as info:
            load_record(path)
        err = info.value
        assert err.cause.startswith(f"{path}: "), err.cause
        assert cause in err.cause, err.cause
        assert "\n" not in err.cause and err.fix


def test_newer_schema_says_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "future.json"
    path.write_text(json.dumps({**record_doc(), "schema": "podshm-run/2"}))
    with pytest.raises(PodshmError, match="upgrade podshm"):
        load_record(path)


def test_invalid_record_counts_the_other_problems(tmp_path: Path) -> None:
    doc = record_doc()
    doc["tests"][0]["outcome"] = "flaky"
    del doc["run_id"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(PodshmError, match=r"\(and 1 more\)"):
        load_record(path)
