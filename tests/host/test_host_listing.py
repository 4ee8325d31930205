"""ipc-list sees what senders created, and no longer after ipc-remove."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .ipc_harness import Ipc


def _listed(ipc: Ipc, *args: str) -> dict:
    run = ipc("ipc-list", *args)
    assert run.rc == 0, run.doc
    return run.doc


def test_list_then_remove_every_kind(
    ipc: Ipc, ftok_file: Path, unique_name: str, mqueue_dir: Path
) -> None:
    sysv_sent = [
        ipc(cmd, "--ftok-path", str(ftok_file)) for cmd in ("sysv-shm-send", "sysv-msg-send")
    ]
    key = sysv_sent[0].doc["key"]
    sem_name = f"{unique_name}-sem"
    posix_sent = [
        ipc("posix-shm-send", "--name", unique_name, "--sem-name", sem_name),
        ipc("posix-mq-send", "--name", f"{unique_name}-mq"),
    ]
    assert [r.rc for r in sysv_sent + posix_sent] == [0, 0, 0, 0]
    selection = ("--prefix", unique_name, "--key", hex(key), "--mqueue-dir", str(mqueue_dir))

    seen = _listed(ipc, *selection)
    assert seen["ipc_ns"] == os.readlink("/proc/self/ns/ipc")  # the host's, as we share it
    assert [row["key"] for row in seen["sysv_shm"]] == [key]
    assert [row["key_hex"] for row in seen["sysv_msg"]] == [sysv_sent[0].doc["key_hex"]]
    assert seen["sysv_sem"] == []
    assert [e["name"] for e in seen["posix_shm"]] == [f"/{unique_name}"]
    assert [e["name"] for e in seen["posix_sem"]] == [f"/{sem_name}"]
    assert seen["mqueue_mounted"] is True
    assert [(e["name"], e["qsize"]) for e in seen["posix_mq"]] == [(f"/{unique_name}-mq", 33)]

    removed = ipc("ipc-remove", *selection)
    assert removed.rc == 0, removed.doc
    assert sorted(e["kind"] for e in removed.doc["removed"]) == [
        "posix_mq",
        "posix_sem",
        "posix_shm",
        "sysv_msg",
        "sysv_shm",
    ]

    after = _listed(ipc, *selection)
    for kind in ("sysv_shm", "sysv_sem", "sysv_msg", "posix_shm", "posix_sem", "posix_mq"):
        assert after[kind] == [], kind


def test_remove_of_missing_objects_is_not_an_error(
    ipc: Ipc, unique_name: str, ftok_file: Path
) -> None:
    names = ("--shm-name", unique_name, "--mq-name", unique_name)
    run = ipc("ipc-remove", *names, "--ftok-path", str(ftok_file))
    assert run.rc == 0, run.doc
    assert run.doc["removed"] == []
    assert len(run.doc["absent"]) == 5  # 3 SysV kinds for the ftok key + 2 names


def test_the_direct_mq_probe_finds_no_failure_here_and_leaves_no_queue():
    """mq_failing_call asks libc itself why posix_ipc failed; where mq_* work it finds nothing
    and removes the queue it made (gVisor answers ('mq_getattr', ENOSYS))."""
    import posix_ipc

    from podshm.ipc.posix import mq_failing_call

    assert mq_failing_call("/podshm-test-probe") is None
    with pytest.raises(posix_ipc.ExistentialError):
        posix_ipc.MessageQueue("/podshm-test-probe")
