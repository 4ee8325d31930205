"""Nothing left behind after any kind of death, on the real local cluster.

A run killed with SIGKILL cannot clean up: its pods end by themselves (activeDeadlineSeconds)
and the next run removes its namespaces once they expire. SIGTERM is handled like Ctrl-C.
Concurrent runs never touch each other's live namespaces, and `podshm gc --dry-run` lists
without deleting.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from realcluster import new_run_id

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


def test_sigkilled_run_ends_by_itself_and_the_next_run_removes_it(
    pytester: pytest.Pytester, real_cluster_env
):
    cluster = real_cluster_env.cluster
    dead = real_cluster_env.new_run_id()
    proc, log = start(pytester, "test_killed", SLEEPING_TEST, {"PODSHM_EXPIRY": "15s"})
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
        [f"podshm: removed the namespace of a dead run: {left} (run {dead}*"]
    )
    assert cluster.live_namespaces(dead) == []


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
    proc, log = start(pytester, "test_gc_victim", SLEEPING_TEST, {"PODSHM_EXPIRY": "600s"})
    wait_until(lambda: "POD IS RUNNING" in log.read_text(), "running pod", proc=proc, log=log)
    proc.send_signal(signal.SIGKILL)
    finish(proc)
    (left,) = cluster.live_namespaces(dead)
    # --older-than 1s below must find the run at least that old: a pod can be running within
    # a second of the run's start.
    time.sleep(max(0.0, OLDER_THAN_S + 1 - (time.monotonic() - started)))
    podshm = [str(Path(sys.executable).parent / "podshm"), "gc"]
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    # Not expired yet: the default gc leaves it; --older-than 0s picks it, --dry-run keeps it.
    listed = subprocess.run(
        [*podshm, "--older-than", f"{OLDER_THAN_S}s", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0, listed.stderr
    assert f"would remove {left} (run {dead}" in listed.stdout
    assert cluster.live_namespaces(dead) == [left]
    default = subprocess.run(podshm, env=env, capture_output=True, text=True)
    assert default.returncode == 0 and left not in default.stdout, default.stdout
    removed = subprocess.run(
        [*podshm, "--older-than", f"{OLDER_THAN_S}s"], env=env, capture_output=True, text=True
    )
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert f"removing {left}" in removed.stdout
    assert cluster.live_namespaces(dead) == []
