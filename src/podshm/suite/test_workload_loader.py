"""The DataLoader pattern (PyTorch's DataLoader, Ray, NCCL, vLLM): worker processes hand
batches to their parent through shared memory in /dev/shm, written through ``mmap``.

A tmpfs allocates pages when they are first touched, so the symptom on a too-small /dev/shm
is not ENOSPC but SIGBUS: "DataLoader worker (pid N) is killed by signal: Bus error"
(pytorch#16979). Each scenario runs the standard-library twin of that pattern
(``podshm-ipc shm-loader``: ``multiprocessing.shared_memory`` batches of 96 MiB, two workers,
four batches) and predicts its end from the pod, through the kubelet's sizing rule
(:mod:`podshm.expectations`): the runtime's 64 MiB default and a ``sizeLimit`` below the batch
kill the workers with SIGBUS once the tmpfs is full, exactly at its predicted size; a
memory-backed emptyDir without ``sizeLimit`` (the fix) carries every batch intact.
"""

from __future__ import annotations

import pytest

from podshm.suite import helpers as ipc
from podshm.suite.checks import assert_size, measure

pytestmark = [pytest.mark.workload, pytest.mark.shm]
MIB = 1 << 20
BATCH_BYTES = 96 * MIB
"""Past the 64 MiB default, as a batch of images or a tensor of activations is."""
BATCHES = 4
WORKERS = 2
SIZE_LIMIT = "80Mi"
"""Above the runtime's default, below one batch: a sizeLimit that looks generous and is not."""
LOADER_TIMEOUT_S = 120.0


def run_loader(pod, podshm_record):
    """The loader in the pod's first container, its outcome recorded."""
    loaded = pod.run_ipc(
        "sender",
        *ipc.shm_loader(BATCH_BYTES, BATCHES, WORKERS, LOADER_TIMEOUT_S),
        timeout=ipc.exec_timeout(LOADER_TIMEOUT_S),
    )
    assert loaded.get("command") == "shm-loader", loaded.describe()
    podshm_record("loader_signals", ",".join(loaded.get("signals") or []) or "none")
    podshm_record("loader_batches_intact", loaded.get("batches_intact"))
    podshm_record("loader_bytes_at_end", loaded.get("last_batches_bytes_total"))
    return loaded


def sigbus_case(manifest: str, case_id: str, key: str, **params: str) -> object:
    return pytest.param(
        manifest, key, params, id=case_id, marks=pytest.mark.podshm_pod(manifest, **params)
    )


@pytest.mark.parametrize(
    ("manifest", "key", "params"),
    [
        sigbus_case("devshm-default.yaml", "default-devshm", "devshm-default"),
        sigbus_case(
            "devshm-memory-sizelimit.yaml",
            "sizelimit-below-batch",
            "devshm-memory-sizelimit",
            size_limit=SIZE_LIMIT,
        ),
    ],
)
def test_dataloader_workers_die_of_sigbus_at_the_predicted_size(
    podshm_pod, podshm_expect, podshm_record, manifest, key, params
):
    """A 96 MiB batch on a smaller /dev/shm: every worker is killed by SIGBUS (the signal,
    not an exit code), once the batches in flight fill the tmpfs to its predicted size."""
    pod = podshm_pod(manifest, **params)
    expectation, info = measure(pod, podshm_expect, podshm_record, f"loader[{key}]", key)
    loaded = run_loader(pod, podshm_record)
    observed = f"/dev/shm is {info.get('size_bytes')} bytes ({ipc.mount_text(info)})"
    predicted = f"SIGBUS once {expectation.size_bytes} bytes are written ({expectation.rule})"
    exits = loaded.get("worker_exits") or []
    assert exits and all(w.get("signal") == "SIGBUS" for w in exits), (
        f"no SIGBUS: {loaded.get('batches_intact')} of {BATCHES} batches of {BATCH_BYTES} bytes "
        f"arrived intact, workers ended {[(w.get('exitcode'), w.get('signal')) for w in exits]}; "
        f"{observed}; predicted {predicted}\n{loaded.describe()}"
    )
    assert not loaded.ok and loaded.get("batches_intact") == 0, loaded.describe()
    before = (loaded.get("shm_before") or {}).get("used_bytes")
    at_fault = loaded.get("last_batches_bytes_total")
    assert isinstance(before, int) and isinstance(at_fault, int), loaded.describe()
    assert before + at_fault == expectation.size_bytes, (
        f"the workers faulted with {before + at_fault} bytes on the tmpfs ({before} before they "
        f"started); predicted {predicted}\n{loaded.describe()}"
    )
    assert_size(expectation, info)


@pytest.mark.podshm_pod("devshm-memory.yaml")
def test_dataloader_batches_arrive_intact_through_a_memory_backed_devshm(
    podshm_pod, podshm_expect, podshm_record
):
    """The fix: a memory-backed emptyDir at /dev/shm, no sizeLimit (sized by the node's
    allocatable memory): every batch arrives with every page as its worker wrote it."""
    pod = podshm_pod("devshm-memory.yaml")
    expectation, info = measure(
        pod, podshm_expect, podshm_record, "loader[devshm-memory]", "devshm-memory"
    )
    assert expectation.size_bytes is not None, expectation.rule
    assert expectation.size_bytes >= WORKERS * BATCH_BYTES, (
        f"the predicted /dev/shm ({expectation.size_bytes} bytes: {expectation.rule}) cannot "
        f"hold {WORKERS} batches of {BATCH_BYTES} bytes in flight: this node cannot show the fix"
    )
    loaded = run_loader(pod, podshm_record)
    assert loaded.ok, f"{loaded.summary()}\n{loaded.describe()}"
    assert loaded.get("batches_intact") == BATCHES, loaded.describe()
    assert loaded.get("signals") == [], loaded.describe()
    assert_size(expectation, info)
