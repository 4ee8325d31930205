"""Failure paths, each produced for real on the local cluster: a registry that refuses, a pod
no node can fit, and the API server stopped in the middle of a run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from realcluster import ClusterEnv

from podshm.providers.local import daemons, startup
from podshm.providers.local.state import read_record

pytestmark = [pytest.mark.cluster]

POD_TEST = """
def test_pod(podshm_pod):
    podshm_pod("devshm-default.yaml")
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_registry_that_refuses_fails_fast_with_the_pull_error(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv
):
    image = f"127.0.0.1:{closed_port()}/podshm/none:1"
    run_id = real_cluster_env.new_run_id()
    pytester.makepyfile(POD_TEST)
    start = time.monotonic()
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--podshm-image", image, "--podshm-pull-policy", "Always"
    )
    elapsed = time.monotonic() - start
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [f"podshm: pod podshm-{run_id}-*/devshm-default-t1: container '*' is *ImagePull*refused*"]
    )
    assert elapsed < 30, f"the refused pull took {elapsed:.1f} s to report"
    assert "Traceback" not in result.stdout.str()
    real_cluster_env.assert_cleaned_up(run_id)


HUGE = """
apiVersion: v1
kind: Pod
metadata: {name: "${NAME}"}
spec:
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: main
      image: ${IMAGE}
      imagePullPolicy: ${PULL_POLICY}
      command: ["sleep", "infinity"]
      resources: {requests: {memory: 100Ti}, limits: {memory: 100Ti}}
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: ["ALL"]}}
"""


def test_a_pod_no_node_can_fit_fails_with_the_schedulers_message(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv
):
    """A user's own manifest (--podshm-manifests) asking for more memory than any node has."""
    own = pytester.path / "own-manifests"
    own.mkdir()
    (own / "huge.yaml").write_text(HUGE)
    pytester.makepyfile('def test_huge(podshm_pod):\n    podshm_pod("huge.yaml")\n')
    run_id = real_cluster_env.new_run_id()
    start = time.monotonic()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--podshm-manifests", str(own))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"podshm: pod podshm-{run_id}-*/huge-t1: pod cannot be scheduled: "
            "0/* nodes are available: * Insufficient memory*"
        ]
    )
    assert time.monotonic() - start < 30
    real_cluster_env.assert_cleaned_up(run_id)


def test_a_misspelt_field_in_a_manifest_is_refused_not_dropped(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv
):
    """Pods are created with fieldValidation=Strict: a typo fails the test, naming the field."""
    own = pytester.path / "own-manifests"
    own.mkdir()
    (own / "typo.yaml").write_text(HUGE.replace("resources:", "resourcez:"))
    pytester.makepyfile('def test_typo(podshm_pod):\n    podshm_pod("typo.yaml")\n')
    run_id = real_cluster_env.new_run_id()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--podshm-manifests", str(own))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["podshm: pod 'typo-t1' rejected by the API server (HTTP 400)*unknown field*resourcez*"]
    )
    assert "Traceback" not in result.stdout.str()
    real_cluster_env.assert_cleaned_up(run_id)


STOPPED_MID_RUN = """
import time
from pathlib import Path


def test_first(podshm_pod):
    pod = podshm_pod("devshm-default.yaml")
    print("POD IS RUNNING", flush=True)
    go = Path("go")
    while not go.exists():
        time.sleep(0.1)
    pod.run_ipc("sender", "shm-info", "--path", "/dev/shm")


def test_second(podshm_pod):
    podshm_pod("devshm-default.yaml")
"""


@pytest.mark.exclusive(0)
def test_the_api_server_stopped_mid_run_gives_one_line_and_ends_the_run(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv
):
    """kube-apiserver is stopped while a test runs: that test fails with one line, the run
    ends, the leftovers are reported by name; the API server is started again afterwards."""
    layout = real_cluster_env.cluster.layout
    info = read_record(layout)
    assert info is not None
    run_id = real_cluster_env.new_run_id()
    test_file = pytester.makepyfile(test_stopped=STOPPED_MID_RUN)
    log = pytester.path / "inner.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider", str(test_file)],
            cwd=pytester.path,
            env=dict(os.environ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "POD IS RUNNING" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert daemons.stop(layout, "kube-apiserver")
        (pytester.path / "go").touch()
        returncode = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        restart_apiserver(layout, info.binary_paths())
    output = log.read_text()
    assert returncode == pytest.ExitCode.INTERRUPTED, output  # the run was stopped there
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.startswith("podshm: lost the API server")]
    assert lines == [
        "podshm: lost the API server at https://127.0.0.1:6443 during call: connection refused"
    ], output
    # One line for the test, and the run ended there: the second test never started.
    assert "1 failed in" in output and "error" not in output.splitlines()[-1], output
    assert "test_second" not in output, output
    # The run could not delete its namespace: it says so, by name.
    assert f"podshm: cannot delete namespace podshm-{run_id}-" in output, output
    assert "MaxRetryError" not in output, output
    real_cluster_env.cluster.delete_run(run_id)


def restart_apiserver(layout, binaries: dict[str, Path]) -> None:
    """Bring the control plane back as it was (the controllers restart with it)."""
    startup.restart_control_plane(layout, binaries)
