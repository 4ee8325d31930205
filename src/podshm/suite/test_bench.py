"""Round-trip cost of the pod-internal IPC paths (seed 004's question), opt-in: -m bench.

Each helper reports its own ``elapsed_s``; the medians land in the junit report. These are
indicative (they include process start-up inside the container), not ipc-bench figures.
"""

from __future__ import annotations

import statistics

import pytest

from podshm.suite import helpers as ipc

pytestmark = [pytest.mark.bench]
ROUNDS = 5


@pytest.mark.parametrize(
    ("manifest", "send", "recv"),
    [
        pytest.param(
            "sysv-shared-ftok.yaml", ipc.sysv_shm_send(), ipc.sysv_shm_recv(), id="sysv-shm"
        ),
        pytest.param("posix-shm.yaml", ipc.posix_shm_send(), ipc.posix_shm_recv(), id="posix-shm"),
        pytest.param("ipc-pair.yaml", ipc.posix_mq_send(), ipc.posix_mq_recv(), id="posix-mq"),
    ],
)
def test_round_trip(podshm_pod, podshm_record, manifest, send, recv):
    """Median helper-measured time of a send and of a receive."""
    pod = podshm_pod(manifest)
    sends, recvs = [], []
    for _ in range(ROUNDS):
        sent = pod.run_ipc("sender", *send)
        got = pod.run_ipc("receiver", *recv, timeout=ipc.exec_timeout(ipc.RECV_TIMEOUT_S))
        assert sent.ok and got.ok, sent.describe() + "\n" + got.describe()
        sends.append(float(sent.get("elapsed_s")))
        recvs.append(float(got.get("elapsed_s")))
    podshm_record("send_elapsed_s_median", statistics.median(sends))
    podshm_record("recv_elapsed_s_median", statistics.median(recvs))
