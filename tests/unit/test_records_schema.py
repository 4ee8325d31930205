"""The run record: JSON round trip, validation, value normalisation."""

from __future__ import annotations

import json

import pytest

from podshm.records.schema import (
    SCHEMA,
    CaseResult,
    ClusterInfo,
    ImageInfo,
    NodeInfo,
    RunRecord,
    RuntimeClassInfo,
    normalize_value,
    podshm_version,
    validate,
)


def sample() -> RunRecord:
    return RunRecord(
        started="2026-05-01T12:00:00Z",
        finished="2026-05-01T12:03:00.5Z",
        run_id="r1a2b3",
        options={"expectations": "", "node": "n1"},
        image=ImageInfo("localhost/podshm-test:abc", None),
        cluster=ClusterInfo(
            context="kind-kind",
            api_url="https://127.0.0.1:6443",
            server_version="v1.36.3",
            nodes=[
                NodeInfo(
                    "n1", "v1.36.3", "containerd://2.1.4", "6.1.0", "Debian 12", "amd64", 8 << 30
                )
            ],
            runtime_classes=[RuntimeClassInfo("gvisor", "runsc", None)],
        ),
        tests=[
            CaseResult(
                "test_devshm.py::test_default",
                "src/podshm/suite/test_devshm.py::test_default",
                "passed",
                1.25,
                "",
                {"shm_size_bytes": 67108864, "shm_is_tmpfs": True, "shm_fs_type": "tmpfs"},
            )
        ],
    )


def test_round_trip_through_json_text() -> None:
    record = sample()
    doc = json.loads(json.dumps(record.to_json()))
    assert validate(doc) == []
    assert next(iter(doc)) == "schema" and doc["schema"] == SCHEMA
    assert RunRecord.from_json(doc) == record


def test_version_of_the_installed_package() -> None:
    assert podshm_version() not in ("", None)
    assert sample().podshm_version == podshm_version()


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda d: d.update(schema="podshm-run/2"), "record.schema: 'podshm-run/2'"),
        (lambda d: d.pop("run_id"), "record.run_id: missing"),
        (lambda d: d.update(started="yesterday"), "record.started: 'yesterday' is not an ISO"),
        (lambda d: d.update(started="2026-05-01T12:00:00"), "is not in UTC"),
        (lambda d: d.update(extra=1), "record.extra: unknown field"),
        (lambda d: d["options"].update(n=3), "record.options.n: expected str, got int"),
        (lambda d: d.update(options=[]), "record.options: expected dict, got list"),
        (lambda d: d["image"].update(digest=5), "record.image.digest: expected str, got int"),
        (lambda d: d["cluster"]["nodes"][0].update(page_size_bytes="4k"), "page_size_bytes"),
        (lambda d: d["cluster"]["nodes"].append("n2"), "nodes[1]: expected an object, got str"),
        (lambda d: d["tests"][0].update(outcome="flaky"), "'flaky' is not one of passed"),
        (lambda d: d["tests"][0].update(duration_s=True), "duration_s: expected int, got bool"),
        (lambda d: d["tests"][0]["values"].update(x=None), "values.x: expected str/int"),
        (lambda d: d["tests"][0].update(values=[1]), "values: expected dict, got list"),
    ],
)
def test_validate_names_each_problem(mutate, problem: str) -> None:
    doc = sample().to_json()
    mutate(doc)
    problems = validate(doc)
    assert any(problem in p for p in problems), problems
    with pytest.raises(ValueError, match="record"):
        RunRecord.from_json(doc)


def test_validate_a_non_object() -> None:
    assert validate([]) == ["record: expected an object, got list"]


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("67108864", 67108864),
        (67108864, 67108864),
        ("-3", -3),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("true", True),
        ("False", False),
        (True, True),
        (None, ""),
        ("", ""),
        ("0x5100a1b2", "0x5100a1b2"),
        ("ipc:[4026532]", "ipc:[4026532]"),
        ("nan", "nan"),
        (float("inf"), "inf"),
        (("a", 1), "('a', 1)"),
    ],
)
def test_normalize_value(raw, stored) -> None:
    value = normalize_value(raw)
    assert value == stored and type(value) is type(stored)
