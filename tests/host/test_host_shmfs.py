"""shm-fill and shm-info against a real, small tmpfs (what /dev/shm is in a container)."""

from __future__ import annotations

from pathlib import Path

from .ipc_harness import Ipc

SIZE = 4 * 1024 * 1024  # mounted with size=4m: tmpfs counts 1024 pages of 4 KiB


def test_until_full_stops_with_enospc_after_exactly_the_size(ipc: Ipc, tmpfs_4m: Path) -> None:
    run = ipc("shm-fill", "--dir", str(tmpfs_4m), "--until-full", "--timeout", "20")
    assert run.rc == 0, run.doc
    assert run.doc["stopped_on"] == "ENOSPC"
    assert run.doc["bytes_written"] == SIZE
    assert run.doc["after_write"]["free_bytes"] == 0
    assert list(tmpfs_4m.iterdir()) == []  # removed without --keep


def test_until_full_with_a_block_that_does_not_divide_the_size(ipc: Ipc, tmpfs_4m: Path) -> None:
    """The last write() is partial: the count must come from write(), not from --block."""
    run = ipc("shm-fill", "--dir", str(tmpfs_4m), "--until-full", "--block", "3000000")
    assert (run.rc, run.doc["stopped_on"], run.doc["bytes_written"]) == (0, "ENOSPC", SIZE)


def test_bytes_beyond_the_size_fails_with_enospc(ipc: Ipc, tmpfs_4m: Path) -> None:
    run = ipc("shm-fill", "--dir", str(tmpfs_4m), "--bytes", "5m")
    assert run.rc == 1, run.doc
    assert run.error["errno"] == "ENOSPC"
    assert run.doc["bytes_written"] == SIZE


def test_bytes_within_the_size_stops_at_the_limit_and_keep_keeps(ipc: Ipc, tmpfs_4m: Path) -> None:
    run = ipc("shm-fill", "--dir", str(tmpfs_4m), "--bytes", "1m", "--keep", "--name", "f")
    assert run.rc == 0, run.doc
    assert (run.doc["stopped_on"], run.doc["bytes_written"]) == ("limit", 1 << 20)
    assert (tmpfs_4m / "f").stat().st_size == 1 << 20
    (tmpfs_4m / "f").unlink()


def test_shm_info_reports_the_tmpfs_and_its_size(ipc: Ipc, tmpfs_4m: Path) -> None:
    run = ipc("shm-info", "--path", str(tmpfs_4m))
    assert run.rc == 0, run.doc
    assert run.doc["is_tmpfs"] is True
    assert run.doc["mount_point"] == str(tmpfs_4m)
    assert run.doc["size_option"] == SIZE
    assert run.doc["size_bytes"] == SIZE
    assert run.doc["used_bytes"] == 0


def test_shm_info_on_a_missing_path_fails_with_enoent(ipc: Ipc, tmp_path: Path) -> None:
    run = ipc("shm-info", "--path", str(tmp_path / "missing"))
    assert run.rc == 1, run.doc
    assert run.error["errno"] == "ENOENT"
