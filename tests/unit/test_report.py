"""The /dev/shm summary: verdicts and table layout."""

from __future__ import annotations

from podshm.expectations import MIB, ShmExpectation
from podshm.plugin.report import format_shm_table, row_from_properties, shm_verdict
from podshm.plugin.state import ShmRow

TMPFS_64 = ShmExpectation("devshm-default", True, 64 * MIB, "ENOSPC", "runtime default")
DISK = ShmExpectation("devshm-disk", False, None, "disk", "disk")


def test_verdicts():
    assert shm_verdict(TMPFS_64, 64 * MIB, True) == "ok"
    assert shm_verdict(TMPFS_64, 128 * MIB, True) == "MISMATCH"
    assert shm_verdict(TMPFS_64, 64 * MIB, False) == "MISMATCH (tmpfs)"
    assert shm_verdict(DISK, 10**12, False) == "ok"
    assert shm_verdict(DISK, 10**12, True) == "MISMATCH (is tmpfs)"


def test_row_from_properties():
    props = {
        "shm_scenario": "devshm-default",
        "expected_shm_size_bytes": 67108864,
        "shm_size_bytes": "67108864",
        "shm_verdict": "ok",
    }
    assert row_from_properties(props, "passed") == ShmRow(
        "devshm-default", 67108864, 67108864, "ok", "passed"
    )
    assert row_from_properties({"node": "n"}, "passed") is None


def test_table_is_aligned_and_sorted():
    lines = format_shm_table(
        [
            ShmRow("devshm-memory-sizelimit", 256 * MIB, 256 * MIB, "ok", "passed", "n2"),
            ShmRow("devshm-default", 64 * MIB, 128 * MIB, "MISMATCH", "failed", "n2"),
            ShmRow("devshm-default", 64 * MIB, 64 * MIB, "ok", "passed", "n1"),
        ]
    )
    assert lines[0].split() == ["scenario", "node", "expected", "observed", "verdict", "test"]
    assert lines[1].split()[:2] == ["devshm-default", "n1"]
    lines = lines[:1] + lines[2:]
    assert lines[1].startswith("devshm-default ")
    assert "64.0 MiB" in lines[1] and "128.0 MiB" in lines[1] and "MISMATCH" in lines[1]
    assert lines[0].index("expected") == lines[1].index("64.0 MiB")
