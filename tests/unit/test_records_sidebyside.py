"""``podshm matrix``: runs side by side (versions, runtime classes, nodes, a fleet), the rule
for a cell's values, what counts as a change, text/markdown/JSON outputs and exit codes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from podshm.cli import main
from podshm.records import sidebyside_cli
from podshm.records.schema import (
    CaseResult,
    ClusterInfo,
    NodeInfo,
    RunRecord,
    RuntimeClassInfo,
    Value,
)
from podshm.records.sidebyside import Run, build, is_context, observed
from podshm.records.sidebyside_render import exact_size, render_markdown, render_text

MIB = 1 << 20
DEFAULT = "test_devshm.py::test_default_size"
SIZED = "test_devshm.py::test_memory_emptydir_sizelimit[1Gi]"
FILL = "test_devshm.py::test_fill_until_enospc"
SYSV = "test_sysv_shm.py::test_shared_ftok_file"
TWO_NODES = "test_isolation.py::test_pods_on_two_nodes"


def node(name: str, kernel: str = "6.1.0-18-amd64", runtime: str = "containerd://2.1.4"):
    return NodeInfo(name=name, container_runtime=runtime, kernel_version=kernel)


def record(version: str, *tests: CaseResult, nodes=("n1",), runtime_classes=()) -> RunRecord:
    """A run on a cluster at ``version`` (kubelets too); ``nodes`` are names or NodeInfo."""
    infos = [n if isinstance(n, NodeInfo) else node(n) for n in nodes]
    infos = [dataclasses.replace(n, kubelet_version=version) for n in infos]
    cluster = ClusterInfo(server_version=version, nodes=infos, runtime_classes=[*runtime_classes])
    return RunRecord(
        "2026-05-01T12:00:00Z", "2026-05-01T12:01:00Z", cluster=cluster, tests=[*tests]
    )


def case(test_id: str, outcome: str = "passed", **values: Value) -> CaseResult:
    """A test with what podshm records around a measurement (noise included)."""
    where = {"namespace": f"ns-{id(values)}", "node": "n1", "kernel": "6.1.0", "elapsed_s": 0.3}
    return CaseResult(test_id, f"suite/{test_id}", outcome, values={**where, **values})


def shm(size: int) -> dict[str, Value]:
    """A /dev/shm measurement as plugin.report.record_shm leaves it (context included)."""
    return {
        "shm_scenario": "devshm-default",
        "expected_shm_size_bytes": 64 * MIB,
        "shm_size_bytes": size,
        "shm_is_tmpfs": True,
        "shm_verdict": "ok" if size == 64 * MIB else "MISMATCH",
        "expected_shm_rule": "kubelet default",
        "page_size": 4096,
    }


def runs(*pairs: tuple[str, RunRecord]) -> list[Run]:
    return [Run(label, rec) for label, rec in pairs]


def lines(text: str) -> list[str]:
    """The output's lines, runs of spaces collapsed (column widths are not under test)."""
    return [" ".join(line.split()) for line in text.splitlines()]


def test_a_cell_shows_observed_values_only() -> None:
    context = {"runtime_class": "gvisor", "owner_node": "n2", "prestarted": True}
    values = {**shm(64 * MIB), **context, "sysv_key": "0x1", "namespace": "ns"}
    assert observed(values) == {"shm_size_bytes": 64 * MIB, "shm_is_tmpfs": True}
    kept = ("bytes_written_before_enospc", "memory_pressure_outcome", "share_process_namespace")
    assert not any(is_context(n) for n in kept)
    sizes = [exact_size(n) for n in (64 * MIB, 1 << 30, 65532 << 10, 12, 0)]
    assert sizes == ["64 MiB", "1 GiB", "65532 KiB", "12 B", "0 B"]


def test_several_versions_one_column_each() -> None:
    matrix = build(
        runs(
            ("v1.35", record("v1.35.9", case(DEFAULT, **shm(64 * MIB)), case(SYSV))),
            ("v1.36", record("v1.36.3", case(DEFAULT, **shm(64 * MIB)), case(SYSV))),
            ("v1.37", record("v1.37.2", case(DEFAULT, "failed", **shm(MIB)), case(SYSV))),
        )
    )
    assert [c.label for c in matrix.columns] == ["v1.35", "v1.36", "v1.37"]
    assert dict(matrix.columns[0].facts) == {
        "Kubernetes": "v1.35.9",
        "kubelet": "v1.35.9",
        "runtime": "containerd://2.1.4",
        "kernel": "6.1.0-18-amd64",
        "RuntimeClass": "none",
        "nodes": "n1",
    }
    default, sysv = matrix.rows
    assert default.changed and default.changed_names() == ["shm_size_bytes"]
    assert [c.outcome for c in default.present()] == ["passed", "passed", "failed"]
    assert not sysv.changed  # its noise (namespace, elapsed_s) differs in every run
    assert lines(render_text(matrix)) == [
        "podshm matrix: 3 runs as 3 columns, 1 of 2 scenarios differ",
        "",
        "v1.35 v1.36 v1.37",
        "Kubernetes v1.35.9 v1.36.3 v1.37.2",
        "kubelet v1.35.9 v1.36.3 v1.37.2",
        "runtime containerd://2.1.4 containerd://2.1.4 containerd://2.1.4",
        "kernel 6.1.0-18-amd64 6.1.0-18-amd64 6.1.0-18-amd64",
        "RuntimeClass none none none",
        "nodes n1 n1 n1",
        "",
        f"* {DEFAULT} passed passed failed",
        "shm_is_tmpfs true true true",
        "* shm_size_bytes 64 MiB 64 MiB 1 MiB",
        f"{SYSV} passed passed passed",
        "",
        "* differs across columns; -: not run in that column",
    ]


SIZE = "test_devshm.py::test_size[64Mi]"
README_RUNS = (("v1.36", "20261201-101500"), ("v1.37", "20261202-093000"))


def upgrade() -> tuple[RunRecord, RunRecord]:
    """v1.36 under the default runtime, then v1.37 with ``--podshm-runtime-class runc,gvisor``
    (every test twice, the class in its id): README's example of ``podshm matrix``."""
    gvisor = {"runtime_class": "gvisor", "deviation": "deviation: gVisor sizes /dev/shm itself"}
    before = record("v1.36.3", case(DEFAULT, **shm(64 * MIB)), case(SIZE), case(SYSV))
    after = record(
        "v1.37.2",
        case(f"{DEFAULT}[rc=runc]", runtime_class="runc", **shm(64 * MIB)),
        case(f"{DEFAULT}[rc=gvisor]", "deviation", **gvisor, **shm(8 << 30)),
        case("test_devshm.py::test_size[64Mi-rc=runc]", runtime_class="runc"),
        case("test_devshm.py::test_size[64Mi-rc=gvisor]", runtime_class="gvisor"),
        case(f"{SYSV}[rc=runc]", runtime_class="runc"),
        case(f"{SYSV}[rc=gvisor]", "deviation", runtime_class="gvisor"),
        runtime_classes=[RuntimeClassInfo("runc", "runc"), RuntimeClassInfo("gvisor", "runsc")],
    )
    return before, after


def test_a_runtime_class_run_is_split_into_columns() -> None:
    matrix = build(runs(*zip(("v1.36", "v1.37"), upgrade(), strict=True)))
    assert [(c.label, c.runtime_class) for c in matrix.columns] == [
        ("v1.36", ""),
        ("v1.37 rc=runc", "runc"),
        ("v1.37 rc=gvisor", "gvisor"),
    ]
    facts = [dict(c.facts)["RuntimeClass"] for c in matrix.columns]
    assert facts == ["none", "runc", "gvisor (runsc)"]
    assert [r.id for r in matrix.rows] == [DEFAULT, SIZE, SYSV]
    default, size, sysv = matrix.rows
    assert [c.outcome for c in default.present()] == ["passed", "passed", "deviation"]
    assert default.changed_names() == ["shm_size_bytes"]  # not runtime_class, not deviation
    assert not size.changed and sysv.changed
    text = lines(render_text(matrix))
    assert f"* {DEFAULT} passed passed deviation" in text
    assert "* shm_size_bytes 64 MiB 64 MiB 8 GiB" in text


def test_a_per_node_run_is_split_into_columns() -> None:
    nodes = (node("kind-worker", "6.1.0"), node("kind-worker2", "6.12.0"))
    per_node = record(
        "v1.37.2",
        case(f"{DEFAULT}[node=kind-worker]", **shm(64 * MIB), node="kind-worker"),
        case(f"{DEFAULT}[node=kind-worker2]", **shm(64 * MIB), node="kind-worker2"),
        # a test that failed before its pod ran records no node: the cluster's names decide
        case(f"{SIZED[:-1]}-node=kind-worker2]", "error", node=""),
        case(f"{SIZED[:-1]}-node=kind-worker]", node="kind-worker"),
        nodes=nodes,
    )
    matrix = build(runs(("lab", per_node)))
    assert [(c.label, c.node) for c in matrix.columns] == [
        ("lab node=kind-worker", "kind-worker"),
        ("lab node=kind-worker2", "kind-worker2"),
    ]
    assert [dict(c.facts)["kernel"] for c in matrix.columns] == ["6.1.0", "6.12.0"]
    assert [dict(c.facts)["nodes"] for c in matrix.columns] == ["kind-worker", "kind-worker2"]
    assert [(r.id, r.changed) for r in matrix.rows] == [(DEFAULT, False), (SIZED, True)]
    assert f"* {SIZED} passed error" in lines(render_text(matrix))


def fleet(single_node_outcome: str = "not-applicable") -> list[Run]:
    """Four clusters: other versions, runtimes, node names, sizes; the two-node scenario
    cannot run on the single-node ones."""
    two_nodes = {"owner_node": "a", "observer_node": "b", "owner_ipc_namespace": "ipc:[1]"}
    clusters = [
        ("prod-eu", "v1.36.3", "containerd://2.1.4", ("eu-1", "eu-2", "eu-3", "eu-4")),
        ("prod-us", "v1.36.3", "containerd://2.1.4", ("us-1", "us-2")),
        ("staging", "v1.37.2", "cri-o://1.37.0", ("st-1",)),
        ("edge", "v1.35.9", "containerd://1.7.27", ("edge-1",)),
    ]
    out = []
    for i, (name, version, runtime, names) in enumerate(clusters):
        size = 32 * MIB if name == "edge" else 64 * MIB
        two = single_node_outcome if len(names) == 1 else "passed"
        tests = [
            case(DEFAULT, **shm(size), node=names[0]),
            case(FILL, bytes_written_before_enospc=size - 4096 * i, node=names[0]),
            case(TWO_NODES, two, **two_nodes),
        ]
        nodes = [node(n, runtime=runtime) for n in names]
        out.append(Run(name, record(version, *tests, nodes=nodes)))
    return out


def test_a_fleet() -> None:
    matrix = build(fleet())
    facts = [dict(c.facts) for c in matrix.columns]
    assert [f["nodes"] for f in facts] == ["4 nodes", "us-1, us-2", "st-1", "edge-1"]
    assert [f["runtime"] for f in facts][2:] == ["cri-o://1.37.0", "containerd://1.7.27"]
    default, fill, two_nodes = matrix.rows
    assert default.changed_names() == ["shm_size_bytes"]
    assert fill.changed_names() == ["bytes_written_before_enospc"]
    # an outcome this podshm does not know is shown as it is; node names are no change
    outcomes = [c.outcome for c in two_nodes.present()]
    assert outcomes == ["passed", "passed", "not-applicable", "not-applicable"]
    assert two_nodes.changed and two_nodes.names() == []
    text = lines(render_text(matrix, changed_only=True))
    assert "* bytes_written_before_enospc 64 MiB 65532 KiB 65528 KiB 32756 KiB" in text
    assert f"* {TWO_NODES} passed passed not-applicable not-applicable" in text


def test_changed_rows_are_marked_and_bold_in_markdown() -> None:
    markdown = render_markdown(build(fleet())).splitlines()
    assert markdown[:3] == [
        "### podshm matrix: 4 runs as 4 columns, 3 of 3 scenarios differ",
        "",
        "|  | prod-eu | prod-us | staging | edge |",
    ]
    assert "| Kubernetes | v1.36.3 | v1.36.3 | **v1.37.2** | **v1.35.9** |" in markdown
    assert f"| \\* | `{DEFAULT}` | passed | passed | passed | passed |" in markdown
    assert "| \\* | ↳ `shm_size_bytes` | 64 MiB | 64 MiB | 64 MiB | **32 MiB** |" in markdown
    assert "|  | ↳ `shm_is_tmpfs` | true | true | true | true |" in markdown
    same = render_markdown(build(fleet()[:2])).splitlines()
    assert f"|  | `{DEFAULT}` | passed | passed |" in same
    assert same[-1].endswith("**bold**: differs from the first column")


def test_a_scenario_missing_from_a_column_is_a_change() -> None:
    matrix = build(
        runs(("a", record("v1", case(DEFAULT), case(SYSV))), ("b", record("v1", case(SYSV))))
    )
    assert [(r.id, r.changed) for r in matrix.rows] == [(DEFAULT, True), (SYSV, False)]
    assert f"* {DEFAULT} passed -" in lines(render_text(matrix))
    assert f"| \\* | `{DEFAULT}` | passed | **-** |" in render_markdown(matrix)


def test_repeated_labels_and_a_run_without_tests() -> None:
    matrix = build(runs(("v1", record("v1.36.3", case(SYSV))), ("v1", record("v1.36.3"))))
    assert [c.label for c in matrix.columns] == ["v1", "v1#2"]
    assert matrix.rows[0].cells[1] is None
    assert sidebyside_cli.parse_run("before=reports/a.json") == ("before", "reports/a.json")
    assert sidebyside_cli.parse_run("reports/podshm-1.json") == (
        "podshm-1",
        "reports/podshm-1.json",
    )


# --- the command ----------------------------------------------------------------------------


def junit(*cases: str) -> str:
    """A junit file of one bare ``<testsuite>`` (no timestamp: the file's time dates it)."""
    return '<testsuite name="pytest">' + "".join(cases) + "</testsuite>"


def junit_case(name: str, size: int) -> str:
    """A case as podshm's suite writes it: a size, and where it ran."""
    props = {"shm_size_bytes": size, "node": "old-1", "kubernetes_version": "v1.35.9"}
    xml = "".join(f'<property name="{k}" value="{v}"/>' for k, v in props.items())
    return (
        f'<testcase classname="podshm.suite.test_devshm" name="{name}" time="0.1">'
        f"<properties>{xml}</properties></testcase>"
    )


@pytest.fixture
def files(tmp_path: Path) -> list[str]:
    """The fleet as run records (the schema of this podshm has no not-applicable: skipped),
    and an older run as a junit XML."""
    out = []
    for run in fleet("skipped"):
        path = tmp_path / f"podshm-{run.label}.json"
        path.write_text(json.dumps(run.record.to_json()))
        out.append(str(path))
    old = tmp_path / "junit-old.xml"
    old.write_text(junit(junit_case("test_default_size", 64 * MIB), junit_case("test_gone", 1)))
    return [*out, str(old)]


def run_cli(argv: list[str]) -> int:
    """The whole ``podshm`` command: the matrix must be registered in it."""
    return main(argv)


def test_records_and_junit_in_any_mix(files: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["matrix", f"old={files[4]}", files[0]]) == 0
    out = lines(capsys.readouterr().out)
    assert out[:3] == [
        "podshm matrix: 2 runs as 2 columns, 4 of 4 scenarios differ",
        f"old: {files[4]}",
        f"podshm-prod-eu: {files[0]}",
    ]
    assert "Kubernetes v1.35.9 v1.36.3" in out and "nodes old-1 4 nodes" in out
    assert f"* {DEFAULT} passed passed" in out  # the old run recorded no shm_is_tmpfs
    assert "* shm_is_tmpfs (none) true" in out and "shm_size_bytes 64 MiB 64 MiB" in out
    assert "* test_devshm.py::test_gone passed -" in out
    assert f"* {FILL} - passed" in out


def test_changed_only_markdown_json_and_fail_on_change(
    files: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["matrix", files[0], files[1], "--changed-only"]) == 0
    out = capsys.readouterr().out
    assert FILL in out and DEFAULT not in out and "1 of 3 scenarios differ" in out
    assert run_cli(["matrix", files[0], files[0], "--changed-only", "--fail-on-change"]) == 0
    assert "(no scenario differs)" in capsys.readouterr().out
    md = tmp_path / "matrix.md"
    argv = ["matrix", *files[:4], "--json", "--markdown", str(md), "--fail-on-change"]
    assert run_cli(argv) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "podshm-matrix/1" and doc["counts"] == {"rows": 3, "changed": 3}
    labels = [f"podshm-{name}" for name in ("prod-eu", "prod-us", "staging", "edge")]
    assert [c["label"] for c in doc["columns"]] == labels
    assert doc["rows"][0]["cells"][3] == {
        "outcome": "passed",
        "values": {"shm_size_bytes": 32 * MIB, "shm_is_tmpfs": True},
    }
    assert "| \\* | ↳ `shm_size_bytes` | 64 MiB | 64 MiB | 64 MiB | **32 MiB** |" in md.read_text()


def test_bad_input_exits_2_with_cause_and_fix(
    files: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a run")
    assert run_cli(["matrix", files[0], f"eu={bad}"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"podshm: error: {bad}: neither JSON nor XML (starts with b'not a run')"
    assert err[1].startswith("podshm: fix: pass a podshm run record")
    assert run_cli(["matrix", files[0], "--markdown", str(tmp_path)]) == 2
    assert "cannot write the markdown report" in capsys.readouterr().err


def test_the_readme_example_is_this_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports").mkdir()
    argv = ["matrix"]
    for (label, stamp), rec in zip(README_RUNS, upgrade(), strict=True):
        path = f"reports/podshm-{stamp}.json"
        (tmp_path / path).write_text(json.dumps(rec.to_json()))
        argv.append(f"{label}={path}")
    argv.append("--changed-only")
    assert run_cli(argv) == 0
    example = f"$ podshm {' '.join(argv)}\n{capsys.readouterr().out}```"
    assert example in (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_cli(["matrix", "--help"])
    help_text = capsys.readouterr().out
    for option in ("--changed-only", "--markdown FILE", "--json", "--fail-on-change", "LABEL="):
        assert option in help_text
