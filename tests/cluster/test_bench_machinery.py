"""The benchmark through a real pod of the local cluster, at a tiny size.

The same checks as on the host, now across two containers: each of the seven transports,
C and Python, same and different CPUs, moves exactly the messages sent with identical
CRC-32s on both sides, pinned where asked, and the report validates. Host and pod run
interleaved, as in ``podshm bench``. No figure is compared with anything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from podshm.ipc.peers.wire import PROTOCOL, TRANSPORTS
from podshm.ipcbench.config import BenchConfig
from podshm.ipcbench.document import to_document, validate_document
from podshm.ipcbench.environments import HostEnv, PodEnv
from podshm.ipcbench.measure import run_benchmark
from podshm.ipcbench.table import render

pytestmark = pytest.mark.cluster
COUNT = 5


def test_tiny_benchmark_through_a_real_pod(podshm_pod, podshm_record) -> None:
    pod = podshm_pod("bench-pair.yaml")
    config = BenchConfig(
        sizes=(64, 4096), reps=1, count=COUNT, budget_s=30.0, warmup_s=0.0, verify="full"
    )
    with HostEnv.create() as host:
        result = run_benchmark(config, [host, PodEnv(pod)])
    assert result.problems == [], "\n".join(result.problems)
    info = result.environments["pod"]
    assert info["protocol"] == PROTOCOL and info["ipcbench"]["protocol"] == PROTOCOL
    assert info["node"] == pod.node_name
    pod_records = [r for r in result.records if r["env"] == "pod"]
    # 7 transports x 2 sizes x 2 modes x 2 inner loops x 2 placements
    assert len(pod_records) == len(TRANSPORTS) * 2 * 2 * 2 * 2
    assert {r["transport"] for r in pod_records} == set(TRANSPORTS)
    for record in pod_records:
        assert record["ok"] and record["sent"] == record["received"] == COUNT, record
    doc = json.loads(json.dumps(to_document(result)))
    assert validate_document(doc) == []
    assert all(
        row["ratio"]["p50" if row["mode"] == "lat" else "msgs_per_s"] for row in doc["summary"]
    )
    text = render(result)
    assert "pod / host" in text
    podshm_record("bench_cells", len(result.records))


def test_bench_per_runtime_class_puts_host_and_every_runtime_side_by_side(tmp_path) -> None:
    """`podshm bench --runtime-class all` on the local cluster (runc, crun, gvisor): one pod
    per class, measured beside the host, then one table with a column per class."""
    from podshm.providers.local.layout import Layout

    done = subprocess.run(
        [sys.executable, "-m", "podshm.cli", "bench",
         "--kubeconfig", str(Layout.default().admin_kubeconfig), "--pull-policy", "Never",
         "--runtime-class", "all", "--transports", "uds,posix-shm", "--sizes", "64",
         "--modes", "lat", "--impls", "c", "--placements", "same", "--reps", "1",
         "--budget", "0.05", "--warmup", "0.01", "--no-chart", "--reports-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("== by runtime class"))
    table = lines[header + 2 : header + 7]
    assert table[1].split() == ["transport", "host", "crun", "gvisor", "runc"], table
    for transport, row in zip(("uds", "posix-shm"), table[3:5], strict=True):
        cells = row.split()
        assert cells[0] == transport and "-" not in cells[1:], row
    assert len(list(tmp_path.glob("bench-*-gvisor.json"))) == 1
