"""Expected /dev/shm sizes, computed the way the kubelet and the container runtimes do it.

Pure functions of the pod spec and the node's facts, so every rule is unit-tested without a
cluster and the suite asserts exact byte counts instead of "looks about 64M".

Rules (Kubernetes v1.37 sources cited where they live):

* No volume at /dev/shm: the runtime's own tmpfs, 64 MiB for containerd
  (``defaultShmSize``), CRI-O (``DefaultShmSize``) and Docker (``--shm-size`` default 64m).
* ``emptyDir.medium: Memory``: ``calculateEmptyDirMemorySize`` in
  pkg/volume/emptydir/empty_dir.go takes node allocatable memory, lowers it to the pod's memory
  limit as ``cm.ResourceConfigForPod`` computes it for the pod cgroup, then to ``sizeLimit``
  (each only when ``0 < value <= current``), and mounts ``tmpfs -o size=<that>``: writes past
  it get ENOSPC.
* Kubelets without SizeMemoryBackedVolumes (alpha 1.20, beta/on 1.22, GA 1.32) mount the tmpfs
  without ``size=``: the kernel default, half of RAM; ``sizeLimit`` is then enforced only by
  eviction.
* tmpfs rounds ``size=`` up to whole pages; ``df`` shows 1K blocks. Sizes here are bytes as
  ``statvfs`` reports them (blocks x fragment size), i.e. page-rounded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kubernetes.utils import parse_quantity

from podshm.errors import PodshmError
from podshm.objects import quantity_to_bytes

MIB = 1024 * 1024
PAGE_SIZE = 4096
# containerd pkg/cri defaultShmSize, CRI-O DefaultShmSize, Docker's default --shm-size.
DEFAULT_SHM_SIZE = 64 * MIB
# Kubelet feature defaults that change the result; each cites the upstream change it follows.
# SizeMemoryBackedVolumes (KEP-1967): alpha 1.20, beta and on 1.22, GA 1.32; without it the
# tmpfs gets no size= (k8s.io/kubernetes pkg/features/kube_features.go, and
# pkg/volume/emptydir/empty_dir.go calculateEmptyDirMemorySize, which it gates).
SIZE_MEMORY_BACKED_VOLUMES_SINCE = (1, 22)
# PodLevelResources (KEP-2837): alpha and off 1.32-1.33, beta and on from 1.34
# (pkg/features/kube_features.go of v1.33.13 and v1.34.4); with it, spec.resources.limits
# .memory becomes the pod cgroup's limit (pkg/kubelet/cm/helpers_linux.go
# ResourceConfigForPod) and so the emptyDir size; before, the API server drops the field.
POD_LEVEL_RESOURCES_SINCE = (1, 34)
# Up to 1.36, ResourceConfigForPod judged "every container declares a memory limit" through
# PodLimits' ContainerFn, which sees a regular init container's limit with the sidecars
# started before it added (and a sidecar's as the sum of the sidecars so far): an init
# container without a limit after a limited sidecar counted as limited. 1.37 checks each
# container's own limit (pkg/kubelet/cm/helpers_linux.go ResourceConfigForPod in v1.36.3 and
# v1.37.2; k8s.io/component-helpers resource/helpers.go PodLimits). No CHANGELOG entry.
OWN_LIMITS_DECLARE_SINCE = (1, 37)
# With PodLevelResources on, up to 1.36 the QoS class came from any non-nil spec.resources, so
# an empty `resources: {}` made a pod BestEffort: no pod memory limit. From 1.37
# PodLevelResourcesFixKubeletQOSClass (beta, on) ignores empty pod resources
# (pkg/apis/core/v1/helper/qos/qos.go ComputePodQOS in v1.36.3 and v1.37.2; CHANGELOG-1.37).
POD_LEVEL_QOS_FIX_SINCE = (1, 37)

# The kubelet mounts a memory-backed emptyDir with `noswap` where the kernel has it, so swap
# never takes pod memory from the tmpfs: pkg/volume/emptydir/empty_dir.go
# generateTmpfsMountOptions, gated by pkg/kubelet/util/swap/swap_util.go
# IsTmpfsNoswapOptionSupported (kernel >= TmpfsNoswapSupportKernelVersion "6.4", and not when
# the kubelet itself runs in a user namespace), in every supported kubelet (v1.33.13 to
# v1.37.2). The runtime's own /dev/shm (containerd's sandbox mount) never has it.
TMPFS_NOSWAP_KERNEL = (6, 4)

# A memory-backed emptyDir is sized once, when the kubelet sets the volume up
# (pkg/volume/emptydir/empty_dir.go SetUpAt -> setupTmpfs): an in-place resize of the pod's
# memory limit (InPlacePodVerticalScaling, on by default since 1.33, GA 1.35) leaves the tmpfs
# at its mount-time size. KEP-6030's InPlacePodVerticalScalingMemoryBackedVolumes (alpha, off,
# from 1.37; refused on cgroup v1: pkg/kubelet/allocation/handlers.go
# disallowResizeForMemoryBackedVolumes in v1.37.2) is what would change it.
RESIZE_KEEPS_MOUNT_SIZE = (
    "a memory-backed emptyDir keeps its mount-time size after an in-place resize "
    "(empty_dir.go setupTmpfs runs once; KEP-6030's gate is off)"
)

ENFORCED_ENOSPC = "ENOSPC"
ENFORCED_EVICTION = "eviction"
ENFORCED_DISK = "disk"

# Scenario keys: what the suite measures and what an expectations file may override.
SCENARIOS: dict[str, str] = {
    "devshm-default": "no volume at /dev/shm: the container runtime's tmpfs",
    "devshm-memory": "emptyDir medium Memory, no sizeLimit",
    "devshm-memory-sizelimit": "emptyDir medium Memory, sizeLimit",
    "devshm-memory-sizelimit-memlimit": "emptyDir medium Memory, sizeLimit and memory limits",
    "devshm-disk": "disk-backed emptyDir at /dev/shm (not a tmpfs)",
    "devshm-memory-one-limit": "emptyDir medium Memory, a memory limit on one container of two",
    "devshm-memory-init-limit": "emptyDir medium Memory, an init container's limit above the sum",
    "devshm-memory-sidecar": "emptyDir medium Memory, a sidecar's limit added to the sum",
    "devshm-memory-sidecar-init-order": "emptyDir medium Memory, a sidecar, then an init "
    "container without a limit (limited up to 1.36, unlimited from 1.37)",
    "devshm-memory-pod-limit": "emptyDir medium Memory, a pod-level memory limit (1.34+)",
    "devshm-memory-empty-pod-resources": "emptyDir medium Memory, limited containers and an "
    "empty pod-level resources (BestEffort on 1.34-1.36)",
    "devshm-memory-overhead": "emptyDir medium Memory, a RuntimeClass memory overhead",
    "devshm-resize": "emptyDir medium Memory sized by the pod limit, then the limits resized "
    "in place (the mount-time size stays)",
}


@dataclass(frozen=True)
class ShmExpectation:
    """What /dev/shm should look like in one scenario, and why."""

    scenario: str
    is_tmpfs: bool
    size_bytes: int | None  # as statvfs reports it (page-rounded); None: not predictable
    enforced_by: str  # ENOSPC, eviction, disk
    rule: str  # the reasoning, for reports and assertion messages
    source: str = "computed"  # or the expectations file that overrode it
    noswap: bool | None = None
    """Whether the tmpfs must carry ``noswap`` (None: not predicted, e.g. kernel unknown)."""


# -- sizes -------------------------------------------------------------------------------------
def parse_size(value: Any, where: str) -> int:
    """A user-supplied size: bytes as an integer or a Kubernetes quantity; whole bytes > 0.

    ``where`` names the spot for the error message (file and key).
    """
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise PodshmError(
            f"{where}: {value!r} is not a size",
            "write bytes (67108864) or a Kubernetes quantity (64Mi, 1Gi, 256M)",
        )
    try:
        amount = parse_quantity(value)
    except (ValueError, TypeError, InvalidOperation) as err:
        raise PodshmError(
            f"{where}: {value!r} is not a size",
            "write bytes (67108864) or a Kubernetes quantity (64Mi, 1Gi, 256M); "
            "note that a lowercase m means milli, not mega",
        ) from err
    if amount <= 0 or amount != Decimal(int(amount)):
        raise PodshmError(
            f"{where}: {value!r} is not a whole positive number of bytes",
            "write bytes (67108864) or a Kubernetes quantity (64Mi, 1Gi, 256M); "
            "note that a lowercase m means milli, not mega",
        )
    return int(amount)


def page_round_up(size: int, page: int = PAGE_SIZE) -> int:
    """tmpfs ``size=`` in bytes as the kernel keeps it: whole pages, rounded up."""
    return -(-size // page) * page


def tmpfs_default_size(mem_total: int, page: int = PAGE_SIZE) -> int:
    """An unsized tmpfs: half of RAM in whole pages (``totalram_pages() / 2``)."""
    return (mem_total // page // 2) * page


_KERNEL_RELEASE = re.compile(r"(\d+)\.(\d+)")


def kernel_release(text: str | None) -> tuple[int, int] | None:
    """(6, 18) from a node's kernelVersion such as ``6.18.44-fc-v1147``; None if unreadable."""
    match = _KERNEL_RELEASE.match(text or "")
    return (int(match[1]), int(match[2])) if match else None


def version_at_least(version: tuple[int, int] | None, since: tuple[int, int]) -> bool:
    """Unknown versions count as current (a 1.37 suite mostly meets recent clusters)."""
    return version is None or version >= since


# -- the kubelet's pod memory limit ------------------------------------------------------------
def memory_limit_of(resources: Mapping[str, Any] | None) -> int:
    """``limits.memory`` of a container's (or the pod's) resources in bytes; 0 when unset."""
    limits = (resources or {}).get("limits") or {}
    value = limits.get("memory")
    return quantity_to_bytes(value) if value not in (None, "") else 0


def pod_level_resources_set(spec: Mapping[str, Any]) -> bool:
    """``IsPodLevelResourcesSet``: spec.resources names cpu, memory or hugepages-*."""
    resources = spec.get("resources") or {}
    names = list((resources.get("requests") or {}).keys()) + list(
        (resources.get("limits") or {}).keys()
    )
    return any(n in ("cpu", "memory") or str(n).startswith("hugepages-") for n in names)


def aggregate_container_memory_limit(spec: Mapping[str, Any]) -> int:
    """``AggregateContainerLimits`` for memory, the sidecar-aware formula.

    App containers and restartable init containers (sidecars) add up; each regular init
    container needs its own limit plus the sidecars started before it; the pod needs the larger
    of the two.
    """
    total = sum(memory_limit_of(c.get("resources")) for c in spec.get("containers") or [])
    sidecars = 0
    init_peak = 0
    for c in spec.get("initContainers") or []:
        limit = memory_limit_of(c.get("resources"))
        if c.get("restartPolicy") == "Always":
            total += limit
            sidecars += limit
            init_peak = max(init_peak, sidecars)
        else:
            init_peak = max(init_peak, limit + sidecars)
    return max(total, init_peak)


def _every_container_declares(spec: Mapping[str, Any], own_limits_only: bool) -> bool:
    """Whether the kubelet sees a memory limit on every container (see
    OWN_LIMITS_DECLARE_SINCE for how init containers and sidecars were judged before 1.37)."""
    containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
    if own_limits_only:
        return all(memory_limit_of(c.get("resources")) > 0 for c in containers)
    sidecars = 0
    for c in spec.get("initContainers") or []:
        own = memory_limit_of(c.get("resources"))
        if c.get("restartPolicy") == "Always":
            sidecars += own
            seen = sidecars
        else:
            seen = own + sidecars
        if seen <= 0:
            return False
    return all(memory_limit_of(c.get("resources")) > 0 for c in spec.get("containers") or [])


def pod_memory_limit(
    spec: Mapping[str, Any],
    pod_level_resources: bool = True,
    own_limits_only: bool = True,
    empty_pod_resources_best_effort: bool = False,
) -> int | None:
    """The memory limit of the pod cgroup (``cm.ResourceConfigForPod``), None if unlimited.

    The pod cgroup gets a memory limit only when EVERY container (init containers included)
    declares one, or when pod-level ``spec.resources.limits.memory`` is set (PodLevelResources,
    on by default from 1.34), which then replaces the containers' sum. RuntimeClass overhead is
    added to a non-zero limit.
    """
    if (
        pod_level_resources
        and empty_pod_resources_best_effort
        and spec.get("resources") is not None
        and not pod_level_resources_set(spec)
    ):
        return None  # BestEffort (see POD_LEVEL_QOS_FIX_SINCE): the pod cgroup has no limit
    declared = _every_container_declares(spec, own_limits_only)
    limit = aggregate_container_memory_limit(spec)
    # mutation: equivalent boolop -> pod_level_resources because the branch only acts on a
    # pod-level memory limit > 0, and such a limit already makes pod_level_resources_set true
    if pod_level_resources and pod_level_resources_set(spec):
        pod_limit = memory_limit_of(spec.get("resources"))
        if pod_limit > 0:
            declared = True
            limit = pod_limit
    if not declared or limit <= 0:
        return None
    overhead = (spec.get("overhead") or {}).get("memory")
    if overhead not in (None, ""):
        limit += quantity_to_bytes(overhead)
    return limit


def memory_emptydir_size(
    node_allocatable: int,
    spec: Mapping[str, Any],
    size_limit: int | None,
    pod_level_resources: bool = True,
    own_limits_only: bool = True,
    empty_pod_resources_best_effort: bool = False,
) -> tuple[int, str]:
    """``calculateEmptyDirMemorySize``: the tmpfs ``size=`` in bytes, and which input won."""
    size, why = node_allocatable, "node allocatable memory"
    pod_limit = pod_memory_limit(
        spec, pod_level_resources, own_limits_only, empty_pod_resources_best_effort
    )
    # mutation: equivalent compare -> 0 <= pod_limit <= size because pod_memory_limit never
    # returns 0 (a limit counts only when > 0, and the API rejects a negative overhead)
    # mutation: equivalent chain -> pod_limit <= size because pod_limit is never 0 (as above)
    if pod_limit is not None and 0 < pod_limit <= size:
        size, why = pod_limit, "the pod's memory limit"
    if size_limit is not None and 0 < size_limit <= size:
        size, why = size_limit, "sizeLimit"
    return size, why


def memory_volume_at(
    spec: Mapping[str, Any], mount_path: str = "/dev/shm"
) -> dict[str, Any] | None:
    """The volume mounted at ``mount_path`` in the first container that mounts it."""
    by_name = {v.get("name"): v for v in spec.get("volumes") or []}
    for c in spec.get("containers") or []:
        for m in c.get("volumeMounts") or []:
            if m.get("mountPath", "").rstrip("/") == mount_path:
                return by_name.get(m.get("name"))
    return None


# -- the expectation for a pod ------------------------------------------------------------------
def expect_devshm(
    scenario: str,
    spec: Mapping[str, Any],
    *,
    node_allocatable: int | None,
    node_capacity: int | None,
    kubelet_version: tuple[int, int] | None,
    kernel: tuple[int, int] | None = None,
    default_shm_size: int = DEFAULT_SHM_SIZE,
    page: int = PAGE_SIZE,
) -> ShmExpectation:
    """What /dev/shm should be in a pod with this (admitted) spec on this node (``kernel``:
    its release, which decides the ``noswap`` option of a memory-backed emptyDir)."""
    volume = memory_volume_at(spec)
    if volume is None:
        return ShmExpectation(
            scenario,
            is_tmpfs=True,
            size_bytes=page_round_up(default_shm_size, page),
            enforced_by=ENFORCED_ENOSPC,
            rule=f"no volume at /dev/shm: the runtime's default tmpfs of {default_shm_size} bytes",
            noswap=False,
        )
    empty_dir = volume.get("emptyDir")
    # mutation: equivalent boolop -> (empty_dir or {}).get("medium") != "Memory" because
    # `empty_dir or {}` already reads a missing emptyDir as one without a medium
    # mutation: equivalent boolop -> empty_dir because here an emptyDir is a mapping (None
    # stopped at `empty_dir is None`), and an empty one has no medium either way
    if empty_dir is None or (empty_dir or {}).get("medium") != "Memory":
        return ShmExpectation(
            scenario,
            is_tmpfs=False,
            size_bytes=None,
            enforced_by=ENFORCED_DISK,
            rule="disk-backed volume at /dev/shm: a directory on the node's filesystem",
        )
    # mutation: equivalent boolop -> empty_dir because here empty_dir has medium Memory: a
    # non-empty mapping, never replaced by the {}
    size_limit_raw = (empty_dir or {}).get("sizeLimit")
    size_limit = quantity_to_bytes(size_limit_raw) if size_limit_raw else None
    if not version_at_least(kubelet_version, SIZE_MEMORY_BACKED_VOLUMES_SINCE):
        half = tmpfs_default_size(node_capacity, page) if node_capacity else None
        return ShmExpectation(
            scenario,
            is_tmpfs=True,
            size_bytes=half,
            enforced_by=ENFORCED_EVICTION,
            rule="kubelet without SizeMemoryBackedVolumes: unsized tmpfs = half of the node's "
            "RAM; sizeLimit only by eviction",
        )
    if node_allocatable is None:
        return ShmExpectation(
            scenario,
            is_tmpfs=True,
            size_bytes=None,
            enforced_by=ENFORCED_ENOSPC,
            rule="node allocatable memory unknown (cannot read the node)",
        )
    pod_level = version_at_least(kubelet_version, POD_LEVEL_RESOURCES_SINCE)
    own_only = version_at_least(kubelet_version, OWN_LIMITS_DECLARE_SINCE)
    empty_best_effort = not version_at_least(kubelet_version, POD_LEVEL_QOS_FIX_SINCE)
    size, why = memory_emptydir_size(
        node_allocatable, spec, size_limit, pod_level, own_only, empty_best_effort
    )
    return ShmExpectation(
        scenario,
        is_tmpfs=True,
        size_bytes=page_round_up(size, page),
        enforced_by=ENFORCED_ENOSPC,
        rule=f"memory-backed emptyDir: size={size} from {why} (calculateEmptyDirMemorySize)",
        noswap=None if kernel is None else kernel >= TMPFS_NOSWAP_KERNEL,
    )


def sizes_match(observed: int | None, expected: int | None, page: int = PAGE_SIZE) -> bool:
    """Equal once both are expressed in whole pages (tolerates callers passing raw limits)."""
    if observed is None or expected is None:
        return False
    return page_round_up(observed, page) == page_round_up(expected, page)


def human_size(size: int | None) -> str:
    """``64.0 MiB``-style size for tables."""
    if size is None:
        return "-"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
