"""System V shared memory between the containers of one pod (seed 000).

The article's two outcomes: with the ftok file on a shared emptyDir the receiver reads the
sender's text; without a shared file, ftok() either fails (the path does not exist) or yields
a different key in each container, and nothing is shared.
"""

from __future__ import annotations

import pytest

from podshm.kube.ipccall import EXIT_IPC_FAILED, EXIT_TIMEOUT
from podshm.suite import helpers as ipc

pytestmark = [pytest.mark.sysv]


@pytest.mark.podshm_pod("sysv-shared-ftok.yaml")
def test_shared_ftok_file_gives_both_containers_the_segment(podshm_pod, podshm_record):
    """podsendershared_success.yaml: same file, same key, the receiver reads the text."""
    pod = podshm_pod("sysv-shared-ftok.yaml")

    sent = pod.run_ipc("sender", *ipc.sysv_shm_send())
    assert sent.ok, sent.describe()
    recv = [*ipc.sysv_shm_recv(), *ipc.same_key(sent)]
    got = pod.run_ipc("receiver", *recv, timeout=ipc.exec_timeout(10))

    podshm_record("sysv_key", sent.get("key_hex") or sent.get("key"))
    ipc.assert_same_key(sent, got)
    assert got.ok, got.describe()
    assert got.get("text") == ipc.TEXT
    assert got.get("shmid") == sent.get("shmid"), "and attach the same segment"


@pytest.mark.podshm_pod("sysv-no-shared-file.yaml")
def test_missing_ftok_file_fails_fast_with_enoent(podshm_pod):
    """podsendershared_failed.yaml: ftok("/dummy") fails at once instead of looping forever."""
    pod = podshm_pod("sysv-no-shared-file.yaml")  # FTOK_PATH=/dummy, which does not exist

    got = pod.run_ipc("receiver", *ipc.sysv_shm_recv(timeout=10), timeout=ipc.exec_timeout(10))

    assert got.exit_code == EXIT_IPC_FAILED, got.describe()
    assert got.errno_name == "ENOENT", got.describe()
    # The helper's own clock: the exec's wall time also counts the node starting a process
    # (seconds on a VM node under emulation), which says nothing about ftok() waiting.
    waited = got.get("elapsed_s")
    assert waited is not None and waited < 8, (
        f"ftok() should fail without waiting for the 10 s receive timeout\n{got.describe()}"
    )


@pytest.mark.podshm_pod("sysv-no-shared-file.yaml", ftok_path="/private/me")
def test_private_ftok_files_give_different_keys_and_nothing_is_shared(podshm_pod, podshm_record):
    """Same path, different files (one emptyDir per container): two keys, receiver times out."""
    pod = podshm_pod("sysv-no-shared-file.yaml", ftok_path="/private/me")
    for container in pod.containers:
        touched = pod.exec(container, ["touch", "/private/me"])
        assert touched.exit_code == 0, touched.describe()

    sent = pod.run_ipc("sender", *ipc.sysv_shm_send(create_ftok_file=False))
    assert sent.ok, sent.describe()
    got = pod.run_ipc("receiver", *ipc.sysv_shm_recv(timeout=5), timeout=ipc.exec_timeout(5))

    podshm_record("sender_key", sent.get("key_hex"))
    podshm_record("receiver_key", got.get("key_hex"))
    assert got.exit_code == EXIT_TIMEOUT, got.describe()
    assert got.get("key") is not None, got.describe()
    assert got.get("key") != sent.get("key"), "different files must give different keys"
