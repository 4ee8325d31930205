"""Writing past a memory-backed /dev/shm under a memory limit (seed 001, experiment #3/#4).

tmpfs pages are charged to the memory cgroup of the process that writes them. With a
sizeLimit above the pod's memory limit, a writer can hit its container's limit before the
tmpfs is full: depending on kernel, cgroup version and kubelet, the write stops with ENOSPC,
the container is OOM-killed (exit 137), or the kubelet evicts the pod. The test records which.
"""

from __future__ import annotations

import time

import pytest

from podshm.suite import helpers as ipc

pytestmark = [pytest.mark.shm, pytest.mark.destructive]
OUTCOMES = ("ENOSPC", "OOMKilled", "Evicted")


def classify(fill, pod) -> str:
    """ENOSPC, OOMKilled, Evicted, or a description of anything else."""
    pod.refresh()
    status = pod.pod.get("status") or {}
    if status.get("reason") == "Evicted":
        return "Evicted"
    for cs in status.get("containerStatuses") or []:
        for state in (cs.get("state") or {}, cs.get("lastState") or {}):
            if (state.get("terminated") or {}).get("reason") == "OOMKilled":
                return "OOMKilled"
    if fill.exit_code == 137:
        return "OOMKilled"
    if ipc.stop_reason(fill) == "ENOSPC":
        return "ENOSPC"
    return f"other (exit {fill.exit_code}, stopped_on {ipc.stop_reason(fill)})"


MANIFEST = "devshm-memory-sizelimit-memlimit.yaml"
PARAMS = {"size_limit": "1Gi", "memory_limit": "64Mi"}


@pytest.mark.podshm_pod(MANIFEST, **PARAMS)
def test_fill_past_memory_limit(podshm_pod, podshm_expect, podshm_record):
    """sizeLimit 1Gi over a 128Mi pod limit (64Mi per container): fill until it stops."""
    pod = podshm_pod(MANIFEST, **PARAMS)
    info = pod.run_ipc("sender", *ipc.shm_info())
    assert info.ok, info.describe()
    expectation = podshm_expect.devshm(
        "devshm-memory-sizelimit-memlimit", pod, info.get("page_size")
    )
    podshm_record("shm_size_bytes", info.get("size_bytes"))
    podshm_record("expected_shm_size_bytes", expectation.size_bytes)
    # The pod limit (2 x 64Mi) is below sizeLimit 1Gi: the tmpfs is 128 MiB before any write.
    assert info.get("size_bytes") == expectation.size_bytes, (
        f"/dev/shm is {info.get('size_bytes')} bytes, expected {expectation.size_bytes}: "
        f"{expectation.rule}"
    )

    fill = pod.run_ipc("sender", *ipc.shm_fill_until_full(timeout=240), timeout=300)
    outcome = classify(fill, pod)
    deadline = time.monotonic() + 20
    while outcome not in OUTCOMES and time.monotonic() < deadline:
        time.sleep(2)  # the kubelet reports OOMKilled/Evicted a moment after the exec ends
        outcome = classify(fill, pod)

    podshm_record("memory_pressure_outcome", outcome)
    podshm_record("bytes_written_before_stop", fill.get("bytes_written"))
    assert outcome in OUTCOMES, fill.describe()
    if outcome == "ENOSPC":
        assert fill.get("bytes_written") <= info.get("free_bytes"), fill.describe()
