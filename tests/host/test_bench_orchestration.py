"""The benchmark's orchestration on the host: batches, pairing checks, statistics, reports.

One real host run at a tiny size (5 messages per cell, every byte verified) feeds the report
checks; the pairing checks and statistics are also fed hand-made records so each failure
mode is seen once. Nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from podshm.ipc.peers.batch import cpus_for, plan
from podshm.ipc.peers.wire import TRANSPORTS
from podshm.ipcbench import cli as bench_cli
from podshm.ipcbench.chart import write_chart
from podshm.ipcbench.config import BenchConfig
from podshm.ipcbench.document import SCHEMA, to_document, validate_document
from podshm.ipcbench.environments import HostEnv
from podshm.ipcbench.hostpython import host_python
from podshm.ipcbench.measure import BenchResult, run_benchmark
from podshm.ipcbench.records import pair_problems
from podshm.ipcbench.stats import find, summarise
from podshm.ipcbench.table import render

TINY = BenchConfig(sizes=(64,), reps=1, count=5, budget_s=30.0, warmup_s=0.0, verify="full")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def host_run() -> BenchResult:
    """Every transport, both inner loops, both placements, on the host: 56 cells."""
    with HostEnv.create() as host:
        return run_benchmark(TINY, [host])


def test_every_cell_ran_and_checked_out(host_run: BenchResult) -> None:
    assert host_run.problems == []
    assert len(host_run.records) == len(TRANSPORTS) * 2 * 2 * 2
    for record in host_run.records:
        assert record["ok"] and record["sent"] == record["received"] == 5, record
        assert record["verify"] == "full"
        assert (record["server_cpu"], record["client_cpu"]) == cpus_for(
            record["placement"], host_run.cpus
        )
        if record["mode"] == "lat":
            assert record["lat_us"]["samples"] == 5 and record["thr"] is None
        else:
            assert record["thr"]["messages"] == 5 and record["lat_us"] is None
    seen = {(r["transport"], r["impl"], r["placement"], r["mode"]) for r in host_run.records}
    assert len(seen) == len(host_run.records)


def test_host_python_is_the_image_interpreter_when_there_is_one(host_run: BenchResult) -> None:
    python = host_python()
    info = host_run.environments["host"]
    assert info["python_executable"] == python.argv[0]
    if python.note is None:
        assert python.argv[0] == "/usr/bin/python3"
        assert python.env["PYTHONPATH"].endswith("lib/python3.11/dist-packages")


def test_document_validates_after_a_json_round_trip(host_run: BenchResult) -> None:
    doc = json.loads(json.dumps(to_document(host_run)))
    assert doc["schema"] == SCHEMA
    assert validate_document(doc) == []
    assert len(doc["summary"]) == len(TRANSPORTS) * 2 * 2 * 2  # no pod: ratios are null
    assert all(row["ratio"][name] is None for row in doc["summary"] for name in row["ratio"])


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        (("schema",), "podshm-bench/0", "schema"),
        (("measurements", 0, "rep"), -1, "rep"),
        (("measurements", 0, "received"), 4, "sent"),
        (("measurements", 0, "ok"), False, "problems"),
        (("measurements", 0, "lat_us", "p99"), 0.0, "lat_us"),
        (("measurements", 1, "thr", "bytes_per_s"), 1.0, "bytes_per_s"),
        (("summary", 0, "host", "p50"), {"median": 2, "min": 3, "max": 4, "n": 1}, "median"),
        (("placements", "same"), {"cpu": 0}, "server_cpu"),
        (("measurements",), "none", "measurements"),
    ],
)
def test_validator_names_what_is_broken(
    host_run: BenchResult, path: tuple, value: object, needle: str
) -> None:
    doc = json.loads(json.dumps(to_document(host_run)))
    assert doc["measurements"][0]["mode"] == "lat" and doc["measurements"][1]["mode"] == "thr"
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    problems = validate_document(doc)
    assert problems and any(needle in p for p in problems), problems


def test_table_and_chart(host_run: BenchResult, tmp_path: Path) -> None:
    text = render(host_run)
    for transport in TRANSPORTS:
        assert f"\n{transport:<10}" in text
    assert "same CPU" in text and "different CPUs" in text and "seed 004" in text
    png = write_chart(host_run, tmp_path / "chart.png")
    assert png.read_bytes().startswith(PNG_MAGIC)


def _doc(**fields: object) -> dict:
    base = {
        "ok": True,
        "placement": "same",
        "impl": "c",
        "transport": "fifo",
        "size": 64,
        "mode": "lat",
        "sent": 5,
        "received": 5,
        "measured": 5,
        "verify": "full",
        "crc_sent": "0000abcd",
        "crc_recv": "0000abcd",
        "cpus_allowed": [0],
        "cpu_end": 0,
        "lat_ns": {"samples": 5},
    }
    return {**base, **fields}


CELL = {"placement": "same", "impl": "c", "transport": "fifo", "size": 64, "mode": "lat"}


@pytest.mark.parametrize(
    ("server", "client", "needle"),
    [
        ({}, {}, None),
        ({"received": 4, "sent": 4}, {}, "client sent 5 messages, server received 4"),
        ({"crc_recv": "00000000"}, {}, "CRC-32"),
        ({}, {"cpus_allowed": [0, 1], "cpu_end": 1}, "client was to run on CPU 0"),
        ({"ok": False, "error": {"reason": "boom"}}, {}, "server failed"),
        ({}, {"transport": "uds"}, "client ran another cell"),
        ({}, {"measured": 3}, "client measured 3 round trips"),
    ],
)
def test_pair_checks(server: dict, client: dict, needle: str | None) -> None:
    problems = pair_problems(CELL, (0, 0), _doc(**server), _doc(**client))
    if needle is None:
        assert problems == []
    else:
        assert any(needle in p for p in problems), problems


def _record(env: str, rep: int, p50: float | None, ok: bool = True) -> dict:
    return {
        **CELL,
        "env": env,
        "rep": rep,
        "ok": ok,
        "problems": [] if ok else ["x"],
        "lat_us": {"p50": p50, "p99": p50 * 2} if p50 else None,
        "thr": None,
    }


def test_ratio_is_taken_per_repetition_pair() -> None:
    records = [
        _record("host", 0, 1.0),
        _record("pod", 0, 1.5),
        _record("host", 1, 2.0),
        _record("pod", 1, 2.0),
        _record("host", 2, 1.0),
        _record("pod", 2, 9.0, ok=False),  # failed: left out, its pair too
    ]
    (row,) = summarise(records)
    assert row["host"]["p50"] == {"median": 1.0, "min": 1.0, "max": 2.0, "n": 3}
    assert row["pod"]["p50"] == {"median": 1.75, "min": 1.5, "max": 2.0, "n": 2}
    assert row["ratio"]["p50"] == {"median": 1.25, "min": 1.0, "max": 1.5, "n": 2}
    assert find([row], transport="fifo", mode="lat") is row
    assert find([row], transport="tcp") is None


def test_plan_leaves_out_what_a_transport_refuses() -> None:
    cells = plan(("same",), ("c",), ("posix-mq", "tcp"), (64, 1 << 20), ("lat",))
    assert [(c.transport, c.size) for c in cells] == [
        ("posix-mq", 64),
        ("tcp", 64),
        ("tcp", 1 << 20),
    ]
    assert [c.index for c in cells] == [0, 1, 2]
    assert cpus_for("same", (3, 5)) == (3, 3)
    assert cpus_for("diff", (3, 5)) == (3, 5)
    assert cpus_for("none", ()) == (-1, -1)


def test_default_run_is_sized_for_three_minutes() -> None:
    """The issue's bound on a 2-core machine: the plan's own estimate, not a measurement."""
    config = BenchConfig()
    cells = sum(len(config.cells(p, i)) for p, i in config.groups())
    assert cells == 152
    assert config.estimate_s() < 150


def test_batch_contract_on_bad_usage() -> None:
    argv = [sys.executable, "-m", "podshm.ipc", "bench-batch", "--role", "server"]
    proc = subprocess.run([*argv, "--dir", "/tmp"], capture_output=True, text=True)
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    assert doc["command"] == "bench-batch" and doc["ok"] is False


def test_cli_host_only_writes_the_three_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = bench_cli_args(tmp_path)
    assert args.func(args) == 0
    out = capsys.readouterr().out
    reports = sorted(tmp_path.iterdir())
    assert [p.suffix for p in reports] == [".json", ".png", ".txt"]
    doc = json.loads(reports[0].read_text())
    assert validate_document(doc) == []
    assert reports[1].read_bytes().startswith(PNG_MAGIC)
    assert reports[2].read_text().strip() in out


def bench_cli_args(reports: Path) -> object:
    import argparse

    parser = argparse.ArgumentParser()
    bench_cli.register(parser.add_subparsers(dest="command"))
    argv = ["bench", "--host-only", "--transports", "fifo,sysv-mq", "--sizes", "64"]
    argv += ["--reps", "2", "--budget", "0.02", "--warmup", "0", "--reports-dir", str(reports)]
    return parser.parse_args(argv)


def test_result_can_be_copied_for_reports(host_run: BenchResult) -> None:
    """Rendering never mutates the records it reads."""
    before = copy.deepcopy(host_run.records)
    render(host_run)
    to_document(host_run)
    assert host_run.records == before
