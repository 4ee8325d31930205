"""shm-loader (the DataLoader pattern) against a real small tmpfs at /dev/shm.

``multiprocessing.shared_memory`` always uses /dev/shm, so each run gets its own: a mount
namespace (``unshare --mount``, root) with a tmpfs of the size a pod would have there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

MIB = 1 << 20


def loader_in_tmpfs(size: str, *args: str) -> tuple[int, dict[str, Any]]:
    """Run ``podshm-ipc shm-loader`` with a private /dev/shm of ``size``; (rc, its JSON)."""
    script = (
        f'mount -t tmpfs -o size={size} shm /dev/shm && "$0" -m podshm.ipc shm-loader "$@"; '
        "rc=$?; ls -A /dev/shm >&2; exit $rc"
    )
    unshare = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
    proc = subprocess.run(
        [*unshare, sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.stdout.strip(), proc.stderr
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.stderr.strip() == "", f"left in /dev/shm or complained: {proc.stderr}"
    return proc.returncode, doc


def test_batches_past_the_tmpfs_size_kill_the_workers_with_sigbus() -> None:
    rc, doc = loader_in_tmpfs("16m", "--batch-bytes", "24m", "--batches", "2", "--workers", "2")
    assert rc == 1, doc
    assert doc["signals"] == ["SIGBUS"], doc
    assert all(w["signal"] == "SIGBUS" for w in doc["worker_exits"]), doc
    # The two workers filled the tmpfs page by page between them, exactly, then faulted.
    assert doc["shm_before"]["used_bytes"] == 0, doc
    assert doc["last_batches_bytes_total"] == 16 * MIB, doc
    assert doc["batches_intact"] == 0
    assert "killed by signal SIGBUS" in doc["error"]["reason"]


def test_batches_that_fit_arrive_intact_and_nothing_stays() -> None:
    rc, doc = loader_in_tmpfs("64m", "--batch-bytes", "24m", "--batches", "5", "--workers", "2")
    assert rc == 0, doc
    assert doc["batches_intact"] == 5 and doc["broken"] == []
    assert [w["exitcode"] for w in doc["worker_exits"]] == [0, 0]
    assert doc["unlinked_after"] == []  # each batch was unlinked once consumed
