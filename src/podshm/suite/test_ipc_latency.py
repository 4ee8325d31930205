"""Seed 004's question on your cluster (opt-in: ``-m bench``): which transport should two
containers of one pod use, and what does the pod cost against two processes on the host?

One test per transport: a bench pod, then the same programs on the host and in the pod,
interleaved (C and Python inner loops; same and different CPUs, pinned alike). The figures
go into the junit report as properties (see ``podshm.ipcbench.document.junit_properties``);
only the machinery is asserted (every message arrived, counts and pinning as asked), never
a speed. ``podshm bench`` runs the same measurement for all transports with table and chart.
The host baseline is the machine running pytest: meaningful when it is the pod's node.
"""

from __future__ import annotations

import pytest

from podshm.ipc.peers.wire import TRANSPORTS
from podshm.ipcbench.config import BenchConfig
from podshm.ipcbench.document import junit_properties
from podshm.ipcbench.environments import HostEnv, PodEnv
from podshm.ipcbench.measure import run_benchmark

pytestmark = [pytest.mark.bench]


@pytest.mark.podshm_pod("bench-pair.yaml")
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_transport_pod_vs_host(podshm_pod, podshm_record, transport):
    """Latency (p50, p99) and throughput of one transport, pod vs host, as junit properties."""
    pod = podshm_pod("bench-pair.yaml")
    with HostEnv.create() as host:
        result = run_benchmark(BenchConfig(transports=(transport,)), [host, PodEnv(pod)])
    for name, value in junit_properties(result):
        podshm_record(name, value)
    assert not result.problems, "\n".join(result.problems)
