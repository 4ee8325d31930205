"""The size of /dev/shm, and what happens when it is full (seeds 000, 001, 002, 003).

Expected sizes are computed from the cluster's own facts by :mod:`podshm.expectations`
(runtime default, node allocatable memory, pod memory limit, sizeLimit); an
``--podshm-expectations`` file may override them for runtimes configured differently.
"""

from __future__ import annotations

import pytest

from podshm.expectations import RESIZE_KEEPS_MOUNT_SIZE, human_size
from podshm.objects import MANAGED_BY_LABEL, MANAGED_BY_RUN
from podshm.suite import helpers as ipc
from podshm.suite.checks import assert_size, fill_to_enospc, measure

pytestmark = [pytest.mark.shm]
SIZE_LIMIT = "256Mi"


@pytest.mark.podshm_pod("devshm-default.yaml")
def test_default_devshm_is_64mib_and_fills_to_enospc(podshm_pod, podshm_expect, podshm_record):
    """No volume: the runtime's 64 MiB tmpfs; writing stops at 67108864 bytes with ENOSPC."""
    pod = podshm_pod("devshm-default.yaml")
    expectation, info = measure(pod, podshm_expect, podshm_record, "devshm-default")
    assert_size(expectation, info)
    fill_to_enospc(pod, podshm_record, expectation, info)


@pytest.mark.podshm_pod("devshm-memory.yaml")
def test_memory_emptydir_without_sizelimit(podshm_pod, podshm_expect, podshm_record):
    """medium: Memory alone: sized by node allocatable memory (not filled: that is the node)."""
    pod = podshm_pod("devshm-memory.yaml")
    expectation, info = measure(pod, podshm_expect, podshm_record, "devshm-memory")
    assert_size(expectation, info)


@pytest.mark.podshm_pod("devshm-memory-sizelimit.yaml", size_limit=SIZE_LIMIT)
def test_memory_emptydir_with_sizelimit_fills_to_enospc(podshm_pod, podshm_expect, podshm_record):
    """sizeLimit 256Mi: the tmpfs is 256 MiB and writing past it fails with ENOSPC."""
    pod = podshm_pod("devshm-memory-sizelimit.yaml", size_limit=SIZE_LIMIT)
    expectation, info = measure(pod, podshm_expect, podshm_record, "devshm-memory-sizelimit")
    assert_size(expectation, info)
    fill_to_enospc(pod, podshm_record, expectation, info)


def memlimit_pod(memory_limit: str) -> pytest.MarkDecorator:
    """The pod of one memory-limit case (created ahead of the test: podshm.plugin.prestart)."""
    return pytest.mark.podshm_pod(
        "devshm-memory-sizelimit-memlimit.yaml", size_limit=SIZE_LIMIT, memory_limit=memory_limit
    )


@pytest.mark.parametrize(
    "memory_limit",
    [
        # Two containers x 64Mi = a 128Mi pod limit below sizeLimit 256Mi: seed 001's "128M".
        pytest.param("64Mi", id="64Mi-per-container", marks=memlimit_pod("64Mi")),
        # Two containers x 128Mi = 256Mi: the pod limit is the SUM, not one container's limit.
        pytest.param("128Mi", id="128Mi-per-container", marks=memlimit_pod("128Mi")),
    ],
)
def test_memory_emptydir_sizelimit_and_memory_limit(
    podshm_pod, podshm_expect, podshm_record, memory_limit
):
    """sizeLimit 256Mi and limits.memory on every container: the smaller of the two wins."""
    pod = podshm_pod(
        "devshm-memory-sizelimit-memlimit.yaml", size_limit=SIZE_LIMIT, memory_limit=memory_limit
    )
    scenario = f"devshm-memory-sizelimit-memlimit[{memory_limit}/container]"
    expectation, info = measure(pod, podshm_expect, podshm_record, scenario)
    assert_size(expectation, info)


@pytest.mark.podshm_pod("devshm-disk.yaml")
def test_disk_emptydir_is_not_tmpfs(podshm_pod, podshm_expect, podshm_record):
    """A disk-backed emptyDir at /dev/shm works as a directory but is not memory."""
    pod = podshm_pod("devshm-disk.yaml")
    expectation, info = measure(pod, podshm_expect, podshm_record, "devshm-disk")
    assert info.get("is_tmpfs") is expectation.is_tmpfs, (
        f"/dev/shm is {info.get('fs_type')}: {expectation.rule}"
    )


# Every branch of the kubelet's sizing rule (podshm.expectations.pod_memory_limit and
# memory_emptydir_size), each with its own pod, the expectation computed from the admitted pod.
def branch(manifest: str, case_id: str, **params: str) -> object:
    """One case of the sizing rule: its manifest, placeholder values, and its declared pod."""
    return pytest.param(
        manifest, params, id=case_id, marks=pytest.mark.podshm_pod(manifest, **params)
    )


SIZING_BRANCHES = [
    branch("devshm-memory-one-limit.yaml", "one-container-limited"),
    branch("devshm-memory-init-limit.yaml", "init-container-above-sum"),
    branch("devshm-memory-sidecar.yaml", "sidecar-adds-to-sum"),
    branch("devshm-memory-sidecar-init-order.yaml", "sidecar-then-unlimited-init"),
    branch("devshm-memory-pod-limit.yaml", "pod-level-limit"),
    branch("devshm-memory-empty-pod-resources.yaml", "empty-pod-level-resources"),
    branch(
        "devshm-memory-sizelimit-memlimit.yaml",
        "sizelimit-above-pod-limit",
        size_limit="1Gi",
        memory_limit="128Mi",
    ),
]


@pytest.mark.parametrize(("manifest", "params"), SIZING_BRANCHES)
def test_memory_emptydir_sizing_rule(podshm_pod, podshm_expect, podshm_record, manifest, params):
    """The tmpfs is exactly what calculateEmptyDirMemorySize gives for this pod and node."""
    pod = podshm_pod(manifest, **params)
    scenario = manifest.removesuffix(".yaml")
    expectation, info = measure(pod, podshm_expect, podshm_record, scenario)
    assert_size(expectation, info)


OVERHEAD = "64Mi"


@pytest.fixture
def overhead_runtime_class(podshm_cluster, podshm_namespace, podshm_pod, podshm_runtime_class):
    """A RuntimeClass with a 64Mi pod overhead and the handler of the runtime class under test
    (default "runc"), deleted after; named after the run's namespace and the test's label, so
    neither concurrent runs nor two tests of one run share one."""
    handlers = {rc.name: rc.handler for rc in podshm_cluster.facts.runtime_classes}
    handler = handlers.get(podshm_runtime_class, "runc")
    name = f"{podshm_namespace.name}-{podshm_pod.test_label}-overhead"
    podshm_cluster.api.create_runtime_class(
        {
            "apiVersion": "node.k8s.io/v1",
            "kind": "RuntimeClass",
            "metadata": {"name": name, "labels": {MANAGED_BY_LABEL: MANAGED_BY_RUN}},
            "handler": handler,
            "overhead": {"podFixed": {"memory": OVERHEAD}},
        }
    )
    try:
        yield name
    finally:
        podshm_cluster.api.delete_runtime_class(name)


@pytest.mark.cluster_scoped
def test_memory_emptydir_with_runtimeclass_overhead(
    podshm_pod, podshm_expect, podshm_record, overhead_runtime_class
):
    """The class's overhead lands in spec.overhead and is added to the pod's memory limit."""
    pod = podshm_pod("devshm-memory-overhead.yaml", runtime_class=overhead_runtime_class)
    assert (pod.spec.get("overhead") or {}).get("memory") == OVERHEAD, pod.spec.get("overhead")
    expectation, info = measure(pod, podshm_expect, podshm_record, "devshm-memory-overhead")
    assert_size(expectation, info)


RESIZE_FROM, RESIZE_TO = "64Mi", "128Mi"


@pytest.mark.podshm_pod(
    "devshm-memory-sizelimit-memlimit.yaml", size_limit="1Gi", memory_limit=RESIZE_FROM
)
def test_an_in_place_memory_resize_leaves_devshm_at_its_mount_time_size(
    podshm_pod, podshm_expect, podshm_record
):
    """Two containers limited to 64Mi and sizeLimit 1Gi: /dev/shm is the 128Mi pod limit.
    Resized in place to 128Mi each, the pod limit the sizing rule would now give is 256Mi,
    and /dev/shm stays at 128Mi: the kubelet sized the tmpfs once, at mount."""
    pod = podshm_pod(
        "devshm-memory-sizelimit-memlimit.yaml", size_limit="1Gi", memory_limit=RESIZE_FROM
    )
    mounted, info = measure(pod, podshm_expect, podshm_record, "devshm-resize")
    assert_size(mounted, info)
    pod.resize_memory({name: RESIZE_TO for name in pod.containers})
    resized = podshm_expect.devshm("devshm-resize", pod, info.get("page_size"))
    # The check can fail only if the resize changed what a fresh mount would get.
    assert resized.size_bytes != mounted.size_bytes, (
        f"the resize to {RESIZE_TO} per container did not change the sizing rule's answer "
        f"({human_size(mounted.size_bytes)}): {resized.rule}"
    )
    after = pod.run_ipc("sender", *ipc.shm_info())
    assert after.ok, after.describe()
    podshm_record("size_after_resize", after.get("size_bytes"))
    assert after.get("size_bytes") == mounted.size_bytes, (
        f"/dev/shm is {after.get('size_bytes')} bytes after the in-place resize, expected "
        f"{mounted.size_bytes} as mounted ({RESIZE_KEEPS_MOUNT_SIZE}); a fresh mount would get "
        f"{resized.size_bytes}"
    )
