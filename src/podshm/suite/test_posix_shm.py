"""POSIX shared memory and a named semaphore between the containers of one pod (seed 000).

The article's podposixshm.yaml: the writer shm_open()s /shMemEx and posts /mysemaphore, the
reader waits on the semaphore and prints "This is the way the world ends...". Both objects
live in the pod's /dev/shm, which every container of the pod shares.
"""

from __future__ import annotations

import pytest

from podshm.suite import helpers as ipc

pytestmark = [pytest.mark.posix]


@pytest.mark.podshm_pod("posix-shm.yaml")
def test_posix_shm_with_semaphore_between_containers(podshm_pod):
    """The receiver waits on the semaphore, then reads exactly the sender's text."""
    pod = podshm_pod("posix-shm.yaml")

    sent = pod.run_ipc("sender", *ipc.posix_shm_send())
    assert sent.ok, sent.describe()
    got = pod.run_ipc("receiver", *ipc.posix_shm_recv(), timeout=ipc.exec_timeout(10))

    assert got.ok, got.describe()
    assert got.get("text") == ipc.TEXT
