"""PostgreSQL's parallel queries on /dev/shm: the failure platform teams meet, and its fixes.

A parallel hash join builds one hash table that the leader and its workers share through
dynamic shared memory. With ``dynamic_shared_memory_type = posix`` every segment is a file in
/dev/shm, grown with ``posix_fallocate``, so a table bigger than the runtime's 64 MiB /dev/shm
fails the query with PostgreSQL's own error: 'could not resize shared memory segment
"/PostgreSQL.NNN" to N bytes: No space left on device' (CrunchyData PGO#2640). Each scenario
runs the server from Debian's packages (the workload image, as uid 65532) in one pod and the
same join, whose table (400000 rows of 200 bytes, about 96 MiB) is made to need more than the
default /dev/shm; the /dev/shm each pod gets is predicted by :mod:`podshm.expectations` and
measured beside the server. The fixes verified: a memory-backed emptyDir at /dev/shm, and
``dynamic_shared_memory_type = sysv`` (segments in the pod's IPC namespace, manageiq-pods#974).
"""

from __future__ import annotations

import json
import re

import pytest

from podshm.expectations import DEFAULT_SHM_SIZE
from podshm.suite import helpers as ipc
from podshm.suite.checks import assert_size, measure

pytestmark = [pytest.mark.workload, pytest.mark.shm]
SERVER = "postgres"
PROBE = "probe"
ROWS = 400_000
PAD = 200
LOAD = (
    f"CREATE UNLOGGED TABLE t AS SELECT g AS id, repeat('x', {PAD}) AS pad "
    f"FROM generate_series(1, {ROWS}) g",
    "ANALYZE t",
)
QUERY = "SELECT count(*), sum(length(b.pad)) FROM t a JOIN t b ON a.id = b.id"
EXPECTED_ROW = f"{ROWS}|{ROWS * PAD}"
"""Every id matches itself once: ROWS rows, each carrying PAD bytes of b.pad."""
SMALL_ROWS = 1000
SMALL_QUERY = (
    "SELECT count(*), sum(length(b.pad)) FROM t a JOIN (SELECT * FROM t WHERE id <= "
    f"{SMALL_ROWS}) b ON a.id = b.id"
)
SMALL_ROW = f"{SMALL_ROWS}|{SMALL_ROWS * PAD}"
"""The control: the same parallel hash join over a table that fits in any /dev/shm."""
PLANNER = {
    # A parallel hash join, one batch (the whole table in memory), whatever the row estimates.
    "max_parallel_workers_per_gather": "2",
    "parallel_setup_cost": "0",
    "parallel_tuple_cost": "0",
    "min_parallel_table_scan_size": "0",
    "enable_parallel_hash": "on",
    "work_mem": "1GB",
}
RESIZE_ERROR = re.compile(
    r'could not resize shared memory segment "(/PostgreSQL\.\d+)" to (\d+) bytes: '
    r"No space left on device"
)
READY_S = 90.0
SQL_TIMEOUT_S = 300.0


def psql(pod, *commands: str, timeout: float = SQL_TIMEOUT_S):
    """Run SQL commands in one session of the pod's server (planner settings applied)."""
    options = " ".join(f"-c {name}={value}" for name, value in PLANNER.items())
    argv = ["env", f"PGOPTIONS={options}", "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
    argv += ["-h", "/tmp", "-U", "postgres", "-d", "postgres"]
    for command in commands:
        argv += ["-c", command]
    return pod.exec(SERVER, argv, timeout=timeout)


def start(
    podshm_pod,
    podshm_expect,
    podshm_record,
    case: str,
    key: str,
    manifest: str,
    server_dsm: str,
    **params: str,
):
    """The pod, its /dev/shm measured and predicted (``key``: the /dev/shm scenario it is;
    compared at the end of each test, so a runtime that sizes it otherwise still shows what the
    workload did), the server accepting connections with ``server_dsm`` as its DSM type
    (``params``: the manifest's placeholders, as the marker declares them), the table loaded."""
    pod = podshm_pod(manifest, **params)
    expectation, info = measure(pod, podshm_expect, podshm_record, f"postgres[{case}]", key, PROBE)
    polls = int(READY_S * 10)
    ready_cmd = "pg_isready -q -h /tmp -U postgres"
    wait = f"for i in $(seq {polls}); do {ready_cmd} && exit 0; sleep 0.1; done; exit 1"
    ready = pod.exec(SERVER, ["sh", "-c", wait], timeout=READY_S + 30)
    assert ready.exit_code == 0, f"the server did not accept connections\n{ready.describe()}"
    uid = pod.exec(SERVER, ["id", "-u"])
    assert uid.exit_code == 0 and uid.stdout.strip() not in ("", "0"), (
        f"the server must run as non-root\n{uid.describe()}"
    )
    podshm_record("server_uid", int(uid.stdout))
    shown = psql(pod, "SHOW dynamic_shared_memory_type")
    assert shown.stdout.strip() == server_dsm, (
        f"the server runs another DSM type\n{shown.describe()}"
    )
    loaded = psql(pod, *LOAD)
    assert loaded.exit_code == 0, loaded.describe()
    return pod, expectation, info


def hash_node(plan: dict) -> dict:
    """The Hash node under the join (the table the workers share); empty if there is none."""
    if plan.get("Node Type") == "Hash":
        return plan
    for child in plan.get("Plans") or []:
        if found := hash_node(child):
            return found
    return {}


def run_join(pod, podshm_record) -> dict:
    """The join returns the right row, and its plan shows a parallel hash join in one batch:
    the Hash node's peak memory (recorded) is the dynamic shared memory it needed."""
    joined = psql(pod, QUERY)
    assert joined.exit_code == 0, joined.describe()
    assert joined.stdout.strip() == EXPECTED_ROW, joined.describe()
    explained = psql(pod, f"EXPLAIN (ANALYZE, FORMAT JSON) {QUERY}")
    assert explained.exit_code == 0, explained.describe()
    plan = json.loads(explained.stdout)[0]["Plan"]
    node = hash_node(plan)
    assert node.get("Parallel Aware") is True, f"not a parallel hash join: {explained.stdout}"
    assert node.get("Hash Batches") == 1, f"the hash table was split: {node}"
    peak = int(node["Peak Memory Usage"]) * 1024
    podshm_record("hash_peak_memory_bytes", peak)
    return node


def observed(info, expectation) -> str:
    """The /dev/shm as measured and as predicted, for a message."""
    return (
        f"/dev/shm is {info.get('size_bytes')} bytes ({ipc.mount_text(info)}); predicted "
        f"{expectation.size_bytes} ({expectation.rule})"
    )


@pytest.mark.podshm_pod("postgres.yaml")
def test_parallel_hash_join_fails_on_the_default_devshm(podshm_pod, podshm_expect, podshm_record):
    """Default /dev/shm (64 MiB), DSM in POSIX shared memory: the join fails with
    PostgreSQL's own "could not resize shared memory segment ... No space left on device",
    while the same join over a small table runs on the same /dev/shm (the size, not the DSM
    type, is the cause)."""
    pod, expectation, info = start(
        podshm_pod,
        podshm_expect,
        podshm_record,
        "posix",
        "devshm-default",
        "postgres.yaml",
        "posix",
    )
    small = psql(pod, SMALL_QUERY)
    assert small.exit_code == 0 and small.stdout.strip() == SMALL_ROW, (
        f"the control join over {SMALL_ROWS} rows failed\n{small.describe()}"
    )
    joined = psql(pod, QUERY)
    failure = RESIZE_ERROR.search(joined.stderr)
    assert joined.exit_code != 0 and failure is not None, (
        f"the join returned {joined.stdout.strip()!r} (exit {joined.exit_code}) instead of "
        f"PostgreSQL's resize error: {observed(info, expectation)}\n{joined.describe()}"
    )
    podshm_record("postgres_error", failure.group(0))
    asked = int(failure.group(2))
    podshm_record("segment_bytes_asked", asked)
    assert expectation.size_bytes is not None, expectation.rule
    assert asked <= expectation.size_bytes, (
        f"a {asked}-byte segment is larger than the whole predicted /dev/shm: the failure does "
        f"not show the join filling it ({observed(info, expectation)})"
    )
    assert_size(expectation, info)


@pytest.mark.podshm_pod("postgres-memory.yaml")
def test_parallel_hash_join_runs_with_a_memory_backed_devshm(
    podshm_pod, podshm_expect, podshm_record
):
    """The fix: a memory-backed emptyDir at /dev/shm. The join returns the right count; its
    hash table needed more than the runtime's default /dev/shm and fits in the predicted one."""
    pod, expectation, info = start(
        podshm_pod,
        podshm_expect,
        podshm_record,
        "posix-memory",
        "devshm-memory",
        "postgres-memory.yaml",
        "posix",
    )
    node = run_join(pod, podshm_record)
    peak = int(node["Peak Memory Usage"]) * 1024
    assert peak > DEFAULT_SHM_SIZE, (
        f"the join needed {peak} bytes, not more than the runtime's default /dev/shm "
        f"({DEFAULT_SHM_SIZE}): it does not show the fix"
    )
    assert expectation.size_bytes is not None, expectation.rule
    assert peak <= expectation.size_bytes, observed(info, expectation)
    assert_size(expectation, info)


@pytest.mark.podshm_pod("postgres.yaml", dsm_type="sysv")
def test_parallel_hash_join_runs_with_sysv_dynamic_shared_memory(
    podshm_pod, podshm_expect, podshm_record
):
    """The other fix: dynamic_shared_memory_type = sysv on the default /dev/shm. The same join
    returns the right count with a hash table larger than the whole predicted /dev/shm."""
    pod, expectation, info = start(
        podshm_pod,
        podshm_expect,
        podshm_record,
        "sysv",
        "devshm-default",
        "postgres.yaml",
        "sysv",
        dsm_type="sysv",
    )
    node = run_join(pod, podshm_record)
    peak = int(node["Peak Memory Usage"]) * 1024
    assert expectation.size_bytes is not None, expectation.rule
    assert peak > expectation.size_bytes, (
        f"the join needed {peak} bytes, not more than the predicted /dev/shm: "
        f"{observed(info, expectation)}"
    )
    assert_size(expectation, info)
