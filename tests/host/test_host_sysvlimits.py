"""The SysV limit probes (sysv-sem-set, sysv-msg-size) against this host's IPC namespace: at
its limits they succeed, one past them they fail with the kernel's EINVAL."""

from __future__ import annotations

from pathlib import Path

from .ipc_harness import Ipc


def _limits(name: str) -> list[int]:
    return [int(part) for part in Path("/proc/sys/kernel", name).read_text().split()]


def test_a_semaphore_set_up_to_semmsl_is_made_and_removed(ipc: Ipc) -> None:
    semmsl = _limits("sem")[0]
    made = ipc("sysv-sem-set", "--nsems", str(semmsl))
    assert made.rc == 0, made.doc
    assert made.doc["kernel_sem"][0] == semmsl and made.doc["removed"] is True
    refused = ipc("sysv-sem-set", "--nsems", str(semmsl + 1))
    assert refused.rc == 1, refused.doc
    assert refused.error["errno"] == "EINVAL"
    assert "SEMMSL" in refused.error["reason"]


def test_a_message_up_to_msgmax_is_sent_and_one_past_it_is_einval(ipc: Ipc) -> None:
    msgmax = _limits("msgmax")[0]
    sent = ipc("sysv-msg-size", "--bytes", str(msgmax))
    assert sent.rc == 0, sent.doc
    assert sent.doc["sent"] is True and sent.doc["removed"] is True
    refused = ipc("sysv-msg-size", "--bytes", str(msgmax + 1))
    assert refused.rc == 1, refused.doc
    assert refused.error["errno"] == "EINVAL"
    assert refused.doc["removed"] is True and "kernel.msgmax" in refused.error["reason"]
