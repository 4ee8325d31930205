"""Nothing left behind after any kind of death, on the real local cluster.

A run killed with SIGKILL cannot clean up: its heartbeat stops, and within a minute the next
run (or `podshm gc`) recognises it as dead and removes everything it left; a run that could
not write a heartbeat is removed once its expiry passes, its pods having ended by themselves
(activeDeadlineSeconds). SIGTERM is handled like Ctrl-C. Concurrent runs never touch each
other's objects, heartbeat or not, and `podshm gc --dry-run` lists without deleting.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rbacusers import Rbac, load_cluster_ca, make_user, runner_rules, unique_user
from realcluster import ClusterEnv, new_run_id

from podshm.kube.heartbeat import PERIOD_S
from podshm.kube.namespaces import RUN_ID_LABEL

pytestmark = [pytest.mark.cluster]

SLEEPING_TEST = """
import time


def test_sleeps(podshm_pod):
    podshm_pod("devshm-default.yaml")
    print("POD IS RUNNING", flush=True)
    time.sleep(600)
"""
QUICK_TEST = """
def test_pod(podshm_pod):
    pod = podshm_pod("devshm-default.yaml")
    assert pod.spec["activeDeadlineSeconds"] > 0
"""
MIDWAY_TEST = """
import time


def test_done(podshm_pod):
    podshm_pod("devshm-default.yaml")


def test_sleeps(podshm_pod, podshm_namespace_factory):
    podshm_namespace_factory("baseline")  # the run's second namespace
    podshm_pod("devshm-disk.yaml")
    print("POD IS RUNNING", flush=True)
    time.sleep(600)
"""
DEAD_AFTER_S = 60
"""A killed run is removed by the first run that starts this long after its death."""


def start(pytester: pytest.Pytester, name: str, source: str, env: dict[str, str]):
    """An inner pytest as its own process (so it can be killed), output in a log file."""
    test_file = pytester.makepyfile(**{name: source})
    log = pytester.path / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s", str(test_file)],
            cwd=pytester.path,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            # A shell's background job ignores SIGINT, and so would this child: the tests'
            # SIGINT must be Ctrl-C at a terminal, whatever started the tests.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    return proc, log


def wait_until(condition, what: str, timeout: float = 90.0, proc=None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"inner run ended before {what}:\n{log.read_text() if log else ''}")
        assert time.monotonic() < deadline, f"no {what} after {timeout:g} s"
        time.sleep(0.2)


def finish(proc: subprocess.Popen, timeout: float = 120) -> int:
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def podshm_gc(cluster, *args: str) -> subprocess.CompletedProcess:
    """`podshm gc` as a user runs it, against the local cluster."""
    podshm = [str(Path(sys.executable).parent / "podshm"), "gc", *args]
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    return subprocess.run(podshm, env=env, capture_output=True, text=True)


def gc_line(output: str, verb: str, namespace: str, run_id: str) -> str:
    """The line `podshm gc` printed about ``namespace`` with ``verb`` (keeping, would remove)."""
    lines = [
        line
        for line in output.splitlines()
        if line.startswith(f"{verb} {namespace} (run {run_id}, started ")
    ]
    assert len(lines) == 1, f"no {verb!r} line for {namespace}:\n{output}"
    return lines[0]


def run_objects(cluster, run_id: str) -> list[str]:
    """Every namespace and pod of a run that still exists, terminating or not."""
    pods = cluster.core.list_pod_for_all_namespaces(label_selector=f"{RUN_ID_LABEL}={run_id}")
    return [f"namespace {ns.metadata.name}" for ns in cluster.namespaces(run_id)] + [
        f"pod {pod.metadata.namespace}/{pod.metadata.name}" for pod in pods.items
    ]


def test_a_sigkilled_run_is_dead_within_a_minute_and_the_next_run_removes_all_it_left(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv
):
    """SIGKILL mid-run: `podshm gc` calls it live while its heartbeat is fresh and dead once
    it stopped; a run started 60 s after the death removes its namespaces, pods and Lease."""
    cluster = real_cluster_env.cluster
    dead = real_cluster_env.new_run_id()
    proc, log = start(pytester, "test_midway", MIDWAY_TEST, {})
    wait_until(lambda: "POD IS RUNNING" in log.read_text(), "running pod", proc=proc, log=log)
    proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    finish(proc)
    left = cluster.live_namespaces(dead)
    assert len(left) == 2, left  # restricted (its pods, the heartbeat) and baseline
    assert any(o.startswith("pod ") for o in run_objects(cluster, dead))

    fresh = podshm_gc(cluster, "--dry-run")
    if time.monotonic() - killed < 2 * PERIOD_S:  # a slow machine may get here late
        for name in left:
            assert "live: heartbeat " in gc_line(fresh.stdout, "keeping", name, dead)

    time.sleep(max(0.0, killed + DEAD_AFTER_S - time.monotonic()))
    later = podshm_gc(cluster, "--dry-run")
    print(f"podshm gc --dry-run, {time.monotonic() - killed:.0f} s after the SIGKILL:")
    print(later.stdout)
    assert later.returncode == 0, later.stderr
    for name in left:
        assert "dead: no heartbeat for " in gc_line(later.stdout, "would remove", name, dead)
    assert sorted(cluster.live_namespaces(dead)) == sorted(left)  # --dry-run deleted nothing

    real_cluster_env.new_run_id()
    pytester.makepyfile(test_next=QUICK_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_next.py")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"podshm: removed the namespace of a dead run: {name} (run {dead}, *, "
            "dead: no heartbeat for * s)"
            for name in sorted(left)
        ],
        consecutive=False,
    )
    assert cluster.wait_gone(dead) == []
    assert run_objects(cluster, dead) == []


def test_without_a_heartbeat_a_killed_runs_pods_end_and_its_expiry_removes_it(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv, rbac: Rbac, tmp_path: Path
):
    """A user who may not write Leases: the run works without a heartbeat, says so, and once
    killed its pods end by themselves and its namespace goes when its expiry passes."""
    cluster = real_cluster_env.cluster
    user = no_lease_user(cluster, rbac, tmp_path)
    dead = real_cluster_env.new_run_id()
    proc, log = start(
        pytester,
        "test_killed",
        SLEEPING_TEST,
        {"PODSHM_EXPIRY": "15s", "PODSHM_KUBECONFIG": str(user.kubeconfig)},
    )
    wait_until(lambda: "POD IS RUNNING" in log.read_text(), "running pod", proc=proc, log=log)
    proc.send_signal(signal.SIGKILL)
    finish(proc)
    (left,) = cluster.live_namespaces(dead)  # nobody cleaned up: the namespace is still there

    def pod_phase() -> tuple[str, str]:
        (pod,) = cluster.core.list_namespaced_pod(left).items
        return pod.status.phase, pod.status.reason or ""

    # The pod ends by itself at its activeDeadlineSeconds (15 s)...
    wait_until(lambda: pod_phase()[0] == "Failed", "pod ended by its deadline", timeout=90)
    assert pod_phase() == ("Failed", "DeadlineExceeded")
    # ...and the next run, once the namespace expired, says it removed it.
    real_cluster_env.new_run_id()
    pytester.makepyfile(test_next=QUICK_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_next.py")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"podshm: removed the namespace of a dead run: {left} (run {dead}, *, dead: expired)"]
    )
    assert cluster.live_namespaces(dead) == []


def no_lease_user(cluster, rbac: Rbac, directory: Path):
    """A user bound to manifests/rbac/podshm-runner.yaml without its Lease rule."""
    name = unique_user("podshm-test-nolease")
    user = make_user(cluster, directory, name, load_cluster_ca(cluster))
    rules = [r for r in runner_rules() if r["resources"] != ["leases"]]
    assert len(rules) == len(runner_rules()) - 1
    rbac.bind(name, rules)
    return user


def pods_of(cluster, run_id: str) -> dict[str, tuple[str, str]]:
    """name -> (uid, phase) of a run's pods."""
    pods = cluster.core.list_pod_for_all_namespaces(label_selector=f"{RUN_ID_LABEL}={run_id}")
    return {p.metadata.name: (p.metadata.uid, p.status.phase) for p in pods.items}


def test_concurrent_runs_never_touch_each_others_objects_heartbeat_or_not(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv, rbac: Rbac, tmp_path: Path
):
    """Two live runs, one with a heartbeat and one without (no Lease rights), outlive three
    heartbeat periods; a third run starts and ends, and `podshm gc` looks: nothing of theirs
    is removed, each is called live for its own reason."""
    cluster = real_cluster_env.cluster
    user = no_lease_user(cluster, rbac, tmp_path)
    beating, silent = (real_cluster_env.track(new_run_id()) for _ in range(2))
    procs = [
        start(pytester, "test_beating", SLEEPING_TEST, {"PODSHM_RUN_ID": beating}),
        start(
            pytester,
            "test_silent",
            SLEEPING_TEST,
            {"PODSHM_RUN_ID": silent, "PODSHM_KUBECONFIG": str(user.kubeconfig)},
        ),
    ]
    try:
        for proc, log in procs:
            wait_until(lambda log=log: "POD IS RUNNING" in log.read_text(), "pod", proc=proc)
        started = time.monotonic()
        before = {run: pods_of(cluster, run) for run in (beating, silent)}
        namespaces = {run: cluster.live_namespaces(run) for run in (beating, silent)}
        time.sleep(max(0.0, started + PERIOD_S * 3 + 5 - time.monotonic()))

        third = real_cluster_env.new_run_id()
        pytester.makepyfile(test_third=QUICK_TEST)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_third.py")
        result.assert_outcomes(passed=1)
        for run in (beating, silent):
            assert f"(run {run}," not in result.stdout.str()
        listed = podshm_gc(cluster, "--dry-run")
        assert listed.returncode == 0, listed.stderr
        for name in namespaces[beating]:
            assert "live: heartbeat " in gc_line(listed.stdout, "keeping", name, beating)
        for name in namespaces[silent]:
            assert "live: no heartbeat to read" in gc_line(listed.stdout, "keeping", name, silent)
        for run in (beating, silent):
            assert cluster.live_namespaces(run) == namespaces[run]
            assert pods_of(cluster, run) == before[run]
            assert {phase for _uid, phase in before[run].values()} == {"Running"}
        assert third not in {beating, silent}
    finally:
        for proc, _log in procs:
            proc.send_signal(signal.SIGINT)
        for proc, _log in procs:
            finish(proc, timeout=60)
    silent_log = procs[1][1].read_text()
    assert "podshm: this run had no heartbeat (creating its Lease failed: HTTP 403" in silent_log
    for run in (beating, silent):
        assert cluster.live_namespaces(run) == []


def test_sigterm_mid_run_leaves_nothing(pytester: pytest.Pytester, real_cluster_env):
    cluster = real_cluster_env.cluster
    run_id = real_cluster_env.new_run_id()
    proc, log = start(pytester, "test_terminated", SLEEPING_TEST, {})
    wait_until(lambda: "POD IS RUNNING" in log.read_text(), "running pod", proc=proc, log=log)
    proc.send_signal(signal.SIGTERM)
    returncode = finish(proc, timeout=60)
    output = log.read_text()
    assert returncode == pytest.ExitCode.INTERRUPTED, output
    assert "signal SIGTERM" in output
    assert cluster.live_namespaces(run_id) == [], output
    assert cluster.wait_gone(run_id) == [], output


def test_two_concurrent_runs_both_pass_and_clean_up(pytester: pytest.Pytester, real_cluster_env):
    cluster = real_cluster_env.cluster
    runs = [real_cluster_env.track(new_run_id()) for _ in range(2)]
    procs = [
        start(pytester, f"test_concurrent_{i}", QUICK_TEST, {"PODSHM_RUN_ID": run_id})
        for i, run_id in enumerate(runs)
    ]
    for proc, log in procs:
        assert finish(proc) == 0, log.read_text()
    for (_, log), other in zip(procs, reversed(runs), strict=True):
        assert f"(run {other}," not in log.read_text()  # never swept the other's namespaces
    for run_id in runs:
        assert cluster.live_namespaces(run_id) == []


def test_a_run_id_held_by_a_live_run_is_refused(pytester: pytest.Pytester, real_cluster_env):
    run_id = real_cluster_env.new_run_id()
    proc, log = start(pytester, "test_holder", SLEEPING_TEST, {})
    try:
        wait_until(lambda: "POD IS RUNNING" in log.read_text(), "running pod", proc=proc, log=log)
        pytester.makepyfile(test_second=QUICK_TEST)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_second.py")
        assert result.ret == 2
        result.stdout.fnmatch_lines([f"*podshm: run id {run_id} is in use by a live run*"])
    finally:
        proc.send_signal(signal.SIGINT)
        finish(proc, timeout=60)


OLDER_THAN_S = 1


@pytest.mark.exclusive(0)  # gc --older-than 1s removes every run's namespaces, live or not
def test_gc_dry_run_lists_and_gc_removes(pytester: pytest.Pytester, real_cluster_env):
    cluster = real_cluster_env.cluster
    dead = real_cluster_env.new_run_id()
    started = time.monotonic()
    proc, log = start(pytester, "test_gc_victim", SLEEPING_TEST, {})
    wait_until(lambda: "POD IS RUNNING" in log.read_text(), "running pod", proc=proc, log=log)
    proc.send_signal(signal.SIGKILL)
    finish(proc)
    (left,) = cluster.live_namespaces(dead)
    # --older-than 1s below must find the run at least that old: a pod can be running within
    # a second of the run's start.
    time.sleep(max(0.0, OLDER_THAN_S + 1 - (time.monotonic() - started)))
    # Its heartbeat is still fresh: the default gc keeps it (live); --older-than picks it,
    # --dry-run keeps it.
    listed = podshm_gc(cluster, "--older-than", f"{OLDER_THAN_S}s", "--dry-run")
    assert listed.returncode == 0, listed.stderr
    assert f"would remove {left} (run {dead}" in listed.stdout
    assert cluster.live_namespaces(dead) == [left]
    default = podshm_gc(cluster)
    assert default.returncode == 0, default.stdout
    assert "live: heartbeat " in gc_line(default.stdout, "keeping", left, dead)
    removed = podshm_gc(cluster, "--older-than", f"{OLDER_THAN_S}s")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert f"removing {left}" in removed.stdout
    assert cluster.live_namespaces(dead) == []
