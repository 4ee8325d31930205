"""The plugin against the real local cluster: header, namespaces, pods, reports, clean-up.

Each test runs an inner pytest (a subprocess, with the podshm plugin loaded through its entry
point) against the cluster `podshm cluster up` started, then checks the outcome both in the
inner run's output and on the cluster itself, through the admin client.
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from realcluster import ClusterEnv, assert_one_selected, run_id_of

from podshm.build.pins import DEFAULT
from podshm.kube.namespaces import KEEP_LABEL, KEPT_ANNOTATION_PREFIX, TEST_LABEL

pytestmark = pytest.mark.cluster

MIB = 1024 * 1024
K8S_VERSION = DEFAULT.kubernetes  # v1.37.2
RUNTIME = "containerd://" + DEFAULT.containerd.lstrip("v")  # 2.3.7
INNER_TIMEOUT_S = 300  # an inner run that hangs fails the test instead of the whole job
DEFAULT_DEVSHM = "test_default_devshm_is_64mib_and_fills_to_enospc"


def run_inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """An inner pytest in a subprocess: the plugin as users get it, its own process state."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=INNER_TIMEOUT_S)


def junit_cases(path: Path) -> dict[str, ET.Element]:
    """testcase name -> element."""
    return {case.get("name"): case for case in ET.parse(path).iter("testcase")}


def properties(case: ET.Element) -> dict[str, str]:
    """A testcase's <property> elements."""
    return {p.get("name"): p.get("value") for p in case.iter("property")}


def the_node(env: ClusterEnv) -> str:
    """The local cluster's one node, as the admin client sees it."""
    (node,) = env.cluster.core.list_node().items
    return node.metadata.name


def test_header_describes_the_real_cluster(pytester: pytest.Pytester, real_cluster_env):
    pytester.makepyfile("def test_x(): pass")
    result = run_inner(pytester)
    result.assert_outcomes(passed=1)
    cluster = real_cluster_env.cluster
    kernel = platform.uname().release  # a local cluster: the node's kernel is this kernel
    result.stdout.fnmatch_lines(
        [
            f"podshm: API server {cluster.server} (context podshm-local), Kubernetes {K8S_VERSION}",
            f"podshm: node {the_node(real_cluster_env)}: Ready, kubelet {K8S_VERSION}, "
            f"{RUNTIME}, kernel {kernel}, *, * GiB allocatable",
            f"podshm: container runtime {RUNTIME}; kernel {kernel}",
            f"podshm: test image {cluster.image} (*)",
            "podshm: run id * (namespaces labelled podshm.io/run-id)",
        ]
    )
    # A run whose tests use no cluster fixture creates nothing on the cluster.
    assert real_cluster_env.cluster.namespaces(run_id_of(result)) == []


NAMESPACE_TESTS = """
from kubernetes import client


def read(cluster, name):
    return client.CoreV1Api(cluster.api.api_client).read_namespace(name).metadata


def test_a(podshm_cluster, podshm_namespace, podshm_pod):
    assert podshm_namespace.name.startswith("team-{run_id}-")
    meta = read(podshm_cluster, podshm_namespace.name)
    assert meta.labels["podshm.io/run-id"] == "{run_id}"
    assert meta.labels["podshm.io/worker"] == "main"
    for mode in ("enforce", "warn", "audit"):
        assert meta.labels["pod-security.kubernetes.io/" + mode] == "restricted"
    # The run's first namespace holds its heartbeat, renewed while the run lives.
    lease_ns, lease = meta.annotations["podshm.io/heartbeat"].split("/")
    assert (lease_ns, lease) == (podshm_namespace.name, "podshm-heartbeat")
    coordination = client.CoordinationV1Api(podshm_cluster.api.api_client)
    assert coordination.read_namespaced_lease(lease, lease_ns).spec.holder_identity.startswith(
        "{run_id}/main "
    )
    pod = podshm_pod("devshm-default.yaml")
    assert pod.name == "devshm-default-" + podshm_pod.test_label
    assert pod.pod["metadata"]["labels"]["podshm.io/test"] == podshm_pod.test_label
    assert pod.pod["metadata"]["annotations"]["podshm.io/test"] == "test_ns.py::test_a"


def test_b(podshm_cluster, podshm_namespace, podshm_namespace_factory, podshm_pod):
    extra = podshm_namespace_factory("baseline")
    assert extra.name != podshm_namespace.name
    assert podshm_namespace_factory("baseline") is extra
    meta = read(podshm_cluster, extra.name)
    assert meta.labels["podshm.io/run-id"] == "{run_id}"
    assert meta.labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert meta.annotations["podshm.io/heartbeat"].startswith(podshm_namespace.name + "/")
    # test_a's pods were deleted when it ended (their deletion may still be under way).
    core = client.CoreV1Api(podshm_cluster.api.api_client)
    pods = core.list_namespaced_pod(podshm_namespace.name).items
    assert [p.metadata.name for p in pods if p.metadata.deletion_timestamp is None] == []
    podshm_pod("devshm-default.yaml", namespace=extra)
"""


def test_a_runs_tests_share_a_labelled_namespace_per_level_deleted_after(
    pytester: pytest.Pytester, real_cluster_env
):
    """One namespace per Pod Security level per run, shared by its tests; each test's pods
    carry its own label and go when it ends; everything goes at the end of the run."""
    run_id = real_cluster_env.new_run_id()
    pytester.makepyfile(test_ns=NAMESPACE_TESTS.replace("{run_id}", run_id))
    junit = pytester.path / "junit.xml"
    result = run_inner(pytester, "--podshm-namespace-prefix", "team", f"--junitxml={junit}")
    result.assert_outcomes(passed=2)
    assert run_id_of(result) == run_id
    cases = junit_cases(junit)
    first = properties(cases["test_a"])["namespace"].split()
    both = properties(cases["test_b"])["namespace"].split()
    assert len(first) == 1 and both[0] == first[0] and len(both) == 2, (first, both)
    assert all(name.startswith(f"team-{run_id}-") for name in both)
    real_cluster_env.assert_cleaned_up(run_id, wait=True)


GONE_TESTS = """
import pytest

from podshm.kube.pods import PodRejected


def test_its_namespace_is_deleted_under_it(podshm_cluster, podshm_namespace, podshm_pod):
    podshm_cluster.api.delete_namespace(podshm_namespace.name)
    with pytest.raises(PodRejected) as refused:
        podshm_pod.submit("devshm-default.yaml")
    assert podshm_namespace.name in refused.value.message


def test_the_next_test_gets_a_new_one(podshm_namespace, podshm_pod):
    pod = podshm_pod("devshm-default.yaml")
    assert pod.namespace == podshm_namespace.name
"""


def test_a_namespace_deleted_under_the_run_is_replaced_for_its_next_test(
    pytester: pytest.Pytester, real_cluster_env
):
    """A run's namespace deleted mid-run (`podshm gc --older-than`, a user's kubectl) fails
    the test it was deleted under, not every later test of the run: the next one gets a new
    namespace of the level. Without prestart: a prestarted pod went with the namespace."""
    run_id = real_cluster_env.new_run_id()
    pytester.makepyfile(test_gone=GONE_TESTS)
    junit = pytester.path / "junit.xml"
    result = run_inner(pytester, "--podshm-prestart", "0", f"--junitxml={junit}")
    result.assert_outcomes(passed=2)
    cases = junit_cases(junit)
    gone = properties(cases["test_its_namespace_is_deleted_under_it"])["namespace"]
    new = properties(cases["test_the_next_test_gets_a_new_one"])["namespace"]
    assert gone != new, (gone, new)
    real_cluster_env.assert_cleaned_up(run_id, wait=True)


KEEP_TESTS = """
def test_fails(podshm_pod):
    podshm_pod("devshm-default.yaml")
    assert False, "on purpose"


def test_passes(podshm_pod):
    podshm_pod("devshm-disk.yaml")
"""


def test_failed_tests_pods_are_kept_when_asked(pytester: pytest.Pytester, real_cluster_env):
    """--podshm-keep-namespaces-on-failure: the failed test's pods stay, by its label, in a
    namespace labelled kept that names the test; the passing test's pods go."""
    run_id = real_cluster_env.new_run_id()
    pytester.makepyfile(test_keep=KEEP_TESTS)
    junit = pytester.path / "junit.xml"
    result = run_inner(pytester, "--podshm-keep-namespaces-on-failure", f"--junitxml={junit}")
    result.assert_outcomes(passed=1, failed=1)
    cluster = real_cluster_env.cluster
    (kept,) = cluster.live_namespaces(run_id)
    namespace = cluster.core.read_namespace(kept)
    assert namespace.metadata.labels[KEEP_LABEL] == "true"
    props = properties(junit_cases(junit)["test_fails"])
    label = props["kept_pods"].removeprefix(f"{TEST_LABEL}=")
    assert props["kept_namespace"] == kept
    notes = namespace.metadata.annotations
    assert notes[f"{KEPT_ANNOTATION_PREFIX}{label}"] == "test_keep.py::test_fails"
    result.stdout.fnmatch_lines(
        [
            "*podshm: kept for debugging (podshm.io/keep=true)*",
            f"test_keep.py::test_fails: kubectl get pods -n {kept} -l {TEST_LABEL}={label}",
        ]
    )
    # The failed test's pod stays, for debugging, and it still runs; nothing else does.
    (pod,) = cluster.core.list_namespaced_pod(kept, label_selector=props["kept_pods"]).items
    assert pod.metadata.name == f"devshm-default-{label}"
    assert pod.status.phase == "Running"
    others = cluster.core.list_namespaced_pod(kept).items
    assert [p.metadata.name for p in others if p.metadata.deletion_timestamp is None] == [
        pod.metadata.name
    ]
    assert properties(junit_cases(junit)["test_passes"]).get("kept_pods") is None
    # The kept namespace goes only when someone deletes it.
    cluster.core.delete_namespace(kept)
    real_cluster_env.assert_cleaned_up(run_id)


INTERRUPTED_TEST = """
import time


def test_sleeps(podshm_pod):
    podshm_pod("devshm-default.yaml")
    print("POD IS RUNNING", flush=True)
    time.sleep(600)
"""


def wait_for(condition, what: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0):
    """Poll ``condition`` while the inner run is alive."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"inner run ended before {what}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {what} after {timeout:g} s:\n{log.read_text()}"
        time.sleep(0.1)


@pytest.mark.parametrize("moment", ["namespace-exists", "pod-running"])
def test_sigint_leaves_no_namespace_of_the_run(
    pytester: pytest.Pytester, real_cluster_env, moment: str
):
    """Ctrl-C of a real pytest process, as soon as its namespace exists or while it sleeps."""
    run_id = real_cluster_env.new_run_id()
    test_file = pytester.makepyfile(test_interrupted=INTERRUPTED_TEST)
    log = pytester.path / "inner.log"
    cluster = real_cluster_env.cluster
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s", str(test_file)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=pytester.path,
            env=dict(os.environ),
            stdout=out,
            stderr=subprocess.STDOUT,
            # A shell that starts jobs in the background ignores SIGINT for them, and Python
            # then never raises KeyboardInterrupt: restore the default as a terminal would.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        if moment == "namespace-exists":
            wait_for(lambda: cluster.namespaces(run_id), "namespace", proc, log)
        else:
            wait_for(lambda: "POD IS RUNNING" in log.read_text(), "running pod", proc, log)
        proc.send_signal(signal.SIGINT)
        returncode = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert returncode == pytest.ExitCode.INTERRUPTED, output
    assert "KeyboardInterrupt" in output
    # Deletion of every namespace of the run was requested before the process exited...
    assert cluster.live_namespaces(run_id) == [], output
    # ...and the cluster finishes it: zero namespaces of the run.
    assert cluster.wait_gone(run_id) == [], output


POD_TEST = """
def test_pod(podshm_pod):
    podshm_pod("devshm-default.yaml")
"""


def test_missing_image_fails_fast_with_the_image_error(pytester: pytest.Pytester, real_cluster_env):
    """An image no node holds and none can pull (no registry here): the pull error, at once,
    not a timeout. (With pull policy Never the run refuses it up front: test_bad_inputs.)"""
    image = "podshm.local/does-not-exist:0"
    run_id = real_cluster_env.new_run_id()
    pytester.makepyfile(POD_TEST)
    junit = pytester.path / "junit.xml"
    start = time.monotonic()
    result = run_inner(
        pytester,
        "--podshm-image",
        image,
        "--podshm-pull-policy",
        "IfNotPresent",
        f"--junitxml={junit}",
    )
    elapsed = time.monotonic() - start
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"podshm: pod podshm-{run_id}-*/devshm-default-t1: container '*' is *Err*Pull*"
            "-- check --podshm-image (or PODSHM_IMAGE) and that the node can pull it; for an "
            "image loaded into the nodes pass Never to --podshm-pull-policy (or "
            "PODSHM_PULL_POLICY)",
            "*- podshm diagnostics -*",
            f"== pod podshm-{run_id}-*/devshm-default-t1",
            "container * waiting: *Err*Pull*",
            "-- events",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    # The default pod timeout is 120 s: the failure came from the pod's state, at once.
    assert elapsed < 30 + 10, f"inner run took {elapsed:.1f} s"
    props = properties(junit_cases(junit)["test_pod"])
    assert "ErrImagePull" in props["pod_diagnostics"]
    assert props["image"] == image
    real_cluster_env.assert_cleaned_up(run_id)


def run_default_devshm(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, Path]:
    """The suite's default /dev/shm scenario, with a junit report."""
    junit = pytester.path / "junit.xml"
    result = run_inner(
        pytester, "--pyargs", "podshm.suite", "-k", "default_devshm", f"--junitxml={junit}", *args
    )
    return result, junit


def test_suite_scenario_junit_properties_and_summary(pytester: pytest.Pytester, real_cluster_env):
    result, junit = run_default_devshm(pytester)
    assert_one_selected(result, "passed")
    result.stdout.fnmatch_lines(
        [
            "*podshm /dev/shm summary*",
            "scenario * expected * observed * verdict * test",
            "devshm-default * 64.0 MiB * 64.0 MiB * ok * passed",
        ]
    )
    (case,) = junit_cases(junit).values()
    props = properties(case)
    assert case.get("name") == DEFAULT_DEVSHM
    assert props["kubernetes_version"] == K8S_VERSION
    assert props["node"] == the_node(real_cluster_env)
    assert props["container_runtime"] == RUNTIME
    assert props["kernel"] == platform.uname().release
    assert props["image"] == real_cluster_env.cluster.image
    assert props["shm_size_bytes"] == props["expected_shm_size_bytes"] == str(64 * MIB)
    assert props["bytes_written_before_enospc"] == str(64 * MIB)
    assert props["shm_verdict"] == "ok"
    assert "pod_diagnostics" not in props
    real_cluster_env.assert_cleaned_up(real_cluster_env.track(props["run_id"]))


def test_wrong_expectation_is_a_mismatch_with_pod_diagnostics(
    pytester: pytest.Pytester, real_cluster_env
):
    expectations = pytester.path / "wrong.yaml"
    expectations.write_text("devshm-default: 128Mi\n")
    result, junit = run_default_devshm(pytester, "--podshm-expectations", str(expectations))
    assert_one_selected(result, "failed")
    result.stdout.fnmatch_lines(
        [
            f"*/dev/shm is {64 * MIB} bytes (tmpfs size={64 * MIB}), expected {128 * MIB}: "
            f"overridden by {expectations}*",
            "*- podshm diagnostics -*",
            "*podshm /dev/shm summary*",
            "devshm-default * 128.0 MiB * 64.0 MiB * MISMATCH * failed",
        ]
    )
    (case,) = junit_cases(junit).values()
    assert case.find("failure") is not None
    props = properties(case)
    assert props["shm_size_bytes"] == str(64 * MIB)
    assert props["expected_shm_size_bytes"] == str(128 * MIB)
    assert props["shm_verdict"] == "MISMATCH"
    diagnostics = props["pod_diagnostics"]
    for part in ("== pod podshm-", "-- status", "phase Running", "container sender: running"):
        assert part in diagnostics, diagnostics
    for part in ("-- events", "Normal Scheduled", "Normal Started", "-- logs sender"):
        assert part in diagnostics, diagnostics
    real_cluster_env.assert_cleaned_up(real_cluster_env.track(props["run_id"]))


def test_expectations_file_overrides_the_computed_size(pytester: pytest.Pytester, real_cluster_env):
    expectations = pytester.path / "containerd.yaml"
    expectations.write_text("devshm-default: 64Mi  # what containerd mounts\n")
    result, junit = run_default_devshm(pytester, "--podshm-expectations", str(expectations))
    assert_one_selected(result, "passed")
    (case,) = junit_cases(junit).values()
    props = properties(case)
    assert props["expected_shm_rule"].startswith(f"overridden by {expectations} (computed: ")
    assert props["shm_size_bytes"] == props["expected_shm_size_bytes"] == str(64 * MIB)
    real_cluster_env.assert_cleaned_up(real_cluster_env.track(props["run_id"]))


XDIST_TESTS = """
import os

import pytest


@pytest.mark.parametrize("n", range(3))
def test_ns(podshm_namespace, n):
    pass


def test_pod(podshm_pod):
    pod = podshm_pod("devshm-default.yaml")
    assert pod.exec("sender", ["true"]).exit_code == 0


def test_worker_crash(podshm_namespace):
    os._exit(1)
"""


def test_xdist_workers_share_the_run_and_clean_up(pytester: pytest.Pytester, real_cluster_env):
    pytester.makepyfile(test_dist=XDIST_TESTS)
    junit = pytester.path / "junit.xml"
    result = run_inner(pytester, "-n", "2", "-p", "xdist", f"--junitxml={junit}")
    result.assert_outcomes(passed=4, failed=1)
    run_id = real_cluster_env.track(run_id_of(result))  # the controller's
    cases = junit_cases(junit)
    finished = [properties(case) for name, case in cases.items() if name != "test_worker_crash"]
    assert {props["run_id"] for props in finished} == {run_id}
    assert all(props["namespace"].startswith(f"podshm-{run_id}-") for props in finished)
    # The crashed worker could not clean up; the controller swept its namespace.
    real_cluster_env.assert_cleaned_up(run_id, wait=True)
