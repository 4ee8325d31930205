"""Writing past a memory-backed /dev/shm under a memory limit (seed 001, experiment #3/#4).

tmpfs pages are charged to the memory cgroup of the process that writes them, not to the
volume. With a sizeLimit above the pod's memory limit, the tmpfs is sized from the pod limit;
a writer whose own container limit is below that size reaches its limit first and is
OOM-killed (exit 137) before write() could fail with ENOSPC. The outcome is predicted from the
admitted pod (podshm.expectations.fill_outcome) and asserted, with the bytes written when the
writer survives to say so.
"""

from __future__ import annotations

import pytest

from podshm.pressure import FILL_ENOSPC, FILL_OOM_KILLED, container_memory_limit, fill_outcome
from podshm.suite import helpers as ipc
from podshm.suite.checks import assert_size, fill_up, measure

pytestmark = [pytest.mark.shm, pytest.mark.destructive]
OOM_EXIT = 137
WRITER = "sender"


def stopped_by(fill) -> str:
    """ENOSPC (write() refused), OOMKilled (the writer got SIGKILL), or what else happened."""
    if fill.exit_code == OOM_EXIT:
        return FILL_OOM_KILLED
    if ipc.stop_reason(fill) == "ENOSPC":
        return FILL_ENOSPC
    return f"other (exit {fill.exit_code}, stopped_on {ipc.stop_reason(fill)})"


MANIFEST = "devshm-memory-sizelimit-memlimit.yaml"
PARAMS = {"size_limit": "1Gi", "memory_limit": "64Mi"}


@pytest.mark.podshm_pod(MANIFEST, **PARAMS)
def test_fill_past_memory_limit(podshm_pod, podshm_expect, podshm_record):
    """sizeLimit 1Gi over a 128Mi pod limit (64Mi per container): the tmpfs is 128 MiB, and the
    writer, limited to 64 MiB, is OOM-killed before the tmpfs is full."""
    pod = podshm_pod(MANIFEST, **PARAMS)
    expectation, info = measure(
        pod, podshm_expect, podshm_record, "devshm-memory-sizelimit-memlimit"
    )
    assert_size(expectation, info)
    room = info.get("free_bytes")
    assert isinstance(room, int), info.describe()
    predicted, rule = fill_outcome(container_memory_limit(pod.spec, WRITER), room)
    podshm_record("predicted_fill_outcome", predicted)

    fill = fill_up(pod)
    outcome = stopped_by(fill)
    podshm_record("memory_pressure_outcome", outcome)
    podshm_record("bytes_written_before_stop", fill.get("bytes_written"))
    assert predicted is not None, f"no outcome predicted: {rule}"
    assert outcome == predicted, f"the fill ended {outcome}, predicted {predicted}: {rule}\n" + (
        fill.describe()
    )
    if outcome == FILL_ENOSPC:
        written = fill.get("bytes_written")
        assert isinstance(written, int) and abs(written - room) < info.get("page_size"), (
            fill.describe()
        )
    pod.refresh()  # only the writer was killed: the pod and its containers still run
    assert (pod.pod.get("status") or {}).get("phase") == "Running", pod.pod.get("status")
