"""``podshm diff``: exit codes 0/1/2, table, JSON and markdown outputs, help."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from podshm.cli import GROUPS
from podshm.errors import dispatch
from podshm.records import cli as records_cli
from podshm.records.load import load_record


def junit(*cases: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" '
        'timestamp="2026-05-01T12:00:00+00:00" time="1.0">' + "".join(cases) + "</testsuite>"
        "</testsuites>"
    )


def case(name: str, body: str = "", size: int = 67108864) -> str:
    return (
        f'<testcase classname="podshm.suite.test_devshm" name="{name}" time="0.1">'
        f'<properties><property name="shm_size_bytes" value="{size}"/>'
        f'<property name="namespace" value="ns-{size}-{name}"/></properties>{body}</testcase>'
    )


FAILED = '<failure message="AssertionError: /dev/shm is 1 byte">trace</failure>'


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    docs = {
        "base": junit(case("test_default"), case("test_size[1Gi]")),
        "same": junit(case("test_size[1Gi]"), case("test_default")),
        "broken": junit(case("test_default", FAILED), case("test_size[1Gi]")),
        "removed": junit(case("test_default")),
        "moved": junit(case("test_default", size=1), case("test_size[1Gi]")),
    }
    out = {}
    for name, text in docs.items():
        (tmp_path / f"{name}.xml").write_text(text)
        out[name] = str(tmp_path / f"{name}.xml")
    return out


def run_cli(argv: list[str]) -> int:
    """Parse with the diff group alone (the other groups are not under test here)."""
    parser = argparse.ArgumentParser(prog="podshm")
    records_cli.register(parser.add_subparsers(dest="command", required=True))
    return dispatch(parser.parse_args(argv))


def test_registered_in_the_podshm_command() -> None:
    assert ("diff", "podshm.records.cli") in GROUPS


@pytest.mark.parametrize(
    ("candidate", "fail_on", "code"),
    [
        ("same", "failures", 0),
        ("same", "changes", 0),
        ("broken", "failures", 1),
        ("removed", "failures", 1),
        ("moved", "failures", 0),
        ("moved", "changes", 1),
    ],
)
def test_exit_codes(files: dict[str, str], candidate: str, fail_on: str, code: int) -> None:
    assert run_cli(["diff", files["base"], files[candidate], "--fail-on", fail_on]) == code


def test_table_json_and_markdown(files: dict[str, str], tmp_path: Path, capsys) -> None:
    assert run_cli(["diff", files["base"], files["broken"]]) == 1
    out = capsys.readouterr().out
    assert "New failures (1)" in out and "AssertionError: /dev/shm is 1 byte" in out
    assert out.rstrip().endswith("1 new failure, 1 unchanged")
    md = tmp_path / "summary.md"
    assert run_cli(["diff", files["base"], files["moved"], "--json", "--markdown", str(md)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["counts"]["value_changed"] == 1 and doc["exit_code"] == 0
    assert md.read_text().startswith("### ✅ podshm diff: no regression")
    assert "`shm_size_bytes`: 67108864 → 1" in md.read_text()


def test_a_record_and_its_own_junit_agree(files: dict[str, str], tmp_path: Path) -> None:
    record = tmp_path / "podshm-x.json"
    record.write_text(json.dumps(load_record(files["base"]).to_json()))
    assert run_cli(["diff", str(record), files["base"], "--fail-on", "changes"]) == 0


def test_bad_input_exits_2_with_cause_and_fix(files: dict[str, str], tmp_path: Path, capsys):
    missing = tmp_path / "missing.xml"
    assert run_cli(["diff", files["base"], str(missing)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"podshm: error: {missing}: cannot read (No such file or directory)"
    assert err[1].startswith("podshm: fix: pass a podshm run record")
    assert run_cli(["diff", files["base"], files["base"], "--markdown", str(tmp_path)]) == 2
    assert "cannot write the markdown report" in capsys.readouterr().err


def test_help_lists_choices(capsys) -> None:
    with pytest.raises(SystemExit):
        run_cli(["diff", "--help"])
    help_text = capsys.readouterr().out
    assert "{failures,changes}" in help_text and "--markdown FILE" in help_text
    with pytest.raises(SystemExit):
        run_cli(["diff", "a", "b", "--fail-on", "warnings"])
    assert "invalid choice: 'warnings'" in capsys.readouterr().err
