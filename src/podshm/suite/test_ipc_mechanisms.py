"""Every IPC mechanism between two containers, with and without shareProcessNamespace.

Containers of a pod share the IPC namespace whether or not they share the PID namespace
(``shareProcessNamespace``); the article's pods set it to true, and this matrix shows the
outcome does not depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from podshm.suite import helpers as ipc


@dataclass(frozen=True)
class Mechanism:
    """A sender/receiver pair of helper commands and the pod they run in."""

    manifest: str
    send: list[str]
    recv: list[str]
    carries_text: bool = True


MECHANISMS = {
    "sysv-shm": Mechanism("sysv-shared-ftok.yaml", ipc.sysv_shm_send(), ipc.sysv_shm_recv()),
    # The same with gVisor's mount hints (what a gVisor deployment adds): SysV sharing is then
    # checked positively under gVisor too.
    "sysv-shm-mount-hints": Mechanism(
        "sysv-shared-ftok-mount-hints.yaml", ipc.sysv_shm_send(), ipc.sysv_shm_recv()
    ),
    "sysv-sem": Mechanism(
        "ipc-pair.yaml", ipc.sysv_sem_post(), ipc.sysv_sem_wait(), carries_text=False
    ),
    "sysv-msg": Mechanism("ipc-pair.yaml", ipc.sysv_msg_send(), ipc.sysv_msg_recv()),
    "posix-shm": Mechanism("posix-shm.yaml", ipc.posix_shm_send(), ipc.posix_shm_recv()),
    "posix-mq": Mechanism("ipc-pair.yaml", ipc.posix_mq_send(), ipc.posix_mq_recv()),
}
MARKS = {"sysv": pytest.mark.sysv, "posix": pytest.mark.posix}
SHARE_PID = {"own-pid-ns": False, "shared-pid-ns": True}


def cases() -> list[object]:
    """Every mechanism with and without a shared PID namespace, each with its declared pod."""
    return [
        pytest.param(
            name,
            share_pid,
            id=f"{name}-{share_id}",
            marks=[
                MARKS[name.split("-")[0]],
                pytest.mark.podshm_pod(m.manifest, share_process_namespace=share_pid),
            ],
        )
        for share_id, share_pid in SHARE_PID.items()
        for name, m in MECHANISMS.items()
    ]


@pytest.mark.parametrize(("mechanism", "share_pid"), cases())
def test_ipc_between_containers(podshm_pod, podshm_record, mechanism, share_pid):
    """The sender's object reaches the receiver in the other container."""
    m = MECHANISMS[mechanism]
    pod = podshm_pod(m.manifest, share_process_namespace=share_pid)
    podshm_record("share_process_namespace", share_pid)

    sent = pod.run_ipc("sender", *m.send)
    assert sent.ok, f"{m.send[0]}: {sent.summary()}\n{sent.describe()}"
    recv = [*m.recv, *ipc.same_key(sent)]
    got = pod.run_ipc("receiver", *recv, timeout=ipc.exec_timeout(ipc.RECV_TIMEOUT_S))

    ipc.assert_same_key(sent, got)  # SysV: both containers ftok() the same shared file
    assert got.ok, f"{m.recv[0]}: {got.summary()}\n{got.describe()}"
    if m.carries_text:
        assert got.get("text") == ipc.TEXT, got.describe()
