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

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from kubernetes.utils import parse_quantity

from podshm.errors import PodshmError

MIB = 1024 * 1024
PAGE_SIZE = 4096
# containerd pkg/cri defaultShmSize, CRI-O DefaultShmSize, Docker's default --shm-size.
DEFAULT_SHM_SIZE = 64 * MIB
# Kubelet feature defaults that change the result.
SIZE_MEMORY_BACKED_VOLUMES_SINCE = (1, 22)  # beta, on by default
POD_LEVEL_RESOURCES_SINCE = (1, 34)  # beta, on by default (alpha 1.32)

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
    "devshm-memory-pod-limit": "emptyDir medium Memory, a pod-level memory limit (1.34+)",
    "devshm-memory-overhead": "emptyDir medium Memory, a RuntimeClass memory overhead",
}
OVERRIDE_FIELDS = ("size", "tmpfs")


@dataclass(frozen=True)
class ShmExpectation:
    """What /dev/shm should look like in one scenario, and why."""

    scenario: str
    is_tmpfs: bool
    size_bytes: int | None  # as statvfs reports it (page-rounded); None: not predictable
    enforced_by: str  # ENOSPC, eviction, disk
    rule: str  # the reasoning, for reports and assertion messages
    source: str = "computed"  # or the expectations file that overrode it


# -- sizes -------------------------------------------------------------------------------------
def quantity_to_bytes(value: Any) -> int:
    """A Kubernetes quantity (``256Mi``, ``1G``, ``67108864``) as bytes, rounded up."""
    return math.ceil(parse_quantity(value))


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


def version_at_least(version: tuple[int, int] | None, since: tuple[int, int]) -> bool:
    """Unknown versions count as current (a 1.37 suite mostly meets recent clusters)."""
    return version is None or version >= since


# -- the kubelet's pod memory limit ------------------------------------------------------------
def _memory_limit(resources: Mapping[str, Any] | None) -> int:
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
    total = sum(_memory_limit(c.get("resources")) for c in spec.get("containers") or [])
    sidecars = 0
    init_peak = 0
    for c in spec.get("initContainers") or []:
        limit = _memory_limit(c.get("resources"))
        if c.get("restartPolicy") == "Always":
            total += limit
            sidecars += limit
            init_peak = max(init_peak, sidecars)
        else:
            init_peak = max(init_peak, limit + sidecars)
    return max(total, init_peak)


def pod_memory_limit(spec: Mapping[str, Any], pod_level_resources: bool = True) -> int | None:
    """The memory limit of the pod cgroup (``cm.ResourceConfigForPod``), None if unlimited.

    The pod cgroup gets a memory limit only when EVERY container (init containers included)
    declares one, or when pod-level ``spec.resources.limits.memory`` is set (PodLevelResources,
    on by default from 1.34), which then replaces the containers' sum. RuntimeClass overhead is
    added to a non-zero limit.
    """
    containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
    declared = bool(containers) and all(_memory_limit(c.get("resources")) > 0 for c in containers)
    limit = aggregate_container_memory_limit(spec)
    if pod_level_resources and pod_level_resources_set(spec):
        pod_limit = _memory_limit(spec.get("resources"))
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
) -> tuple[int, str]:
    """``calculateEmptyDirMemorySize``: the tmpfs ``size=`` in bytes, and which input won."""
    size, why = node_allocatable, "node allocatable memory"
    pod_limit = pod_memory_limit(spec, pod_level_resources)
    if pod_limit is not None and 0 < pod_limit <= size:
        size, why = pod_limit, "the pod's memory limit"
    if size_limit is not None and 0 < size_limit <= size:
        size, why = size_limit, "sizeLimit"
    return size, why


def memory_volume_at(spec: Mapping[str, Any], mount_path: str = "/dev/shm") -> dict | None:
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
    default_shm_size: int = DEFAULT_SHM_SIZE,
    page: int = PAGE_SIZE,
) -> ShmExpectation:
    """What /dev/shm should be in a pod with this (admitted) spec on this node."""
    volume = memory_volume_at(spec)
    if volume is None:
        return ShmExpectation(
            scenario,
            is_tmpfs=True,
            size_bytes=page_round_up(default_shm_size, page),
            enforced_by=ENFORCED_ENOSPC,
            rule=f"no volume at /dev/shm: the runtime's default tmpfs of {default_shm_size} bytes",
        )
    empty_dir = volume.get("emptyDir")
    if empty_dir is None or (empty_dir or {}).get("medium") != "Memory":
        return ShmExpectation(
            scenario,
            is_tmpfs=False,
            size_bytes=None,
            enforced_by=ENFORCED_DISK,
            rule="disk-backed volume at /dev/shm: a directory on the node's filesystem",
        )
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
    size, why = memory_emptydir_size(node_allocatable, spec, size_limit, pod_level)
    return ShmExpectation(
        scenario,
        is_tmpfs=True,
        size_bytes=page_round_up(size, page),
        enforced_by=ENFORCED_ENOSPC,
        rule=f"memory-backed emptyDir: size={size} from {why} (calculateEmptyDirMemorySize)",
    )


# -- overrides ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Override:
    """An expectations-file entry: replaces the computed size (and/or tmpfs-ness)."""

    size_bytes: int | None = None
    is_tmpfs: bool | None = None


EXPECTATIONS_FIX = (
    "expected a mapping of scenario -> size (e.g. 'devshm-default: 256Mi') or "
    "scenario -> {size: ..., tmpfs: true|false}; scenarios: " + ", ".join(SCENARIOS)
)


def parse_overrides(data: Any, source: str) -> dict[str, Override]:
    """Validate a loaded expectations document; every error names ``source`` and the key."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PodshmError(
            f"expectations file {source}: top level is not a mapping", EXPECTATIONS_FIX
        )
    result: dict[str, Override] = {}
    for key, value in data.items():
        if key not in SCENARIOS:
            raise PodshmError(
                f"expectations file {source}: unknown scenario key {key!r}", EXPECTATIONS_FIX
            )
        where = f"expectations file {source}: key {key!r}"
        if isinstance(value, dict):
            extra = sorted(set(value) - set(OVERRIDE_FIELDS))
            if extra:
                raise PodshmError(
                    f"{where}: unknown field(s) {', '.join(map(str, extra))}", EXPECTATIONS_FIX
                )
            size = parse_size(value["size"], f"{where}.size") if "size" in value else None
            tmpfs = value.get("tmpfs")
            if tmpfs is not None and not isinstance(tmpfs, bool):
                raise PodshmError(
                    f"{where}.tmpfs: {tmpfs!r} is not true or false", EXPECTATIONS_FIX
                )
            result[key] = Override(size_bytes=size, is_tmpfs=tmpfs)
        else:
            result[key] = Override(size_bytes=parse_size(value, where))
    return result


def load_overrides(path: str | Path | None) -> dict[str, Override]:
    """Read an ``--podshm-expectations`` file; a missing or malformed file is a PodshmError."""
    if not path:
        return {}
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise PodshmError(
            f"cannot read expectations file {path}: {getattr(err, 'strerror', None) or err}",
            "pass an existing file to --podshm-expectations (or PODSHM_EXPECTATIONS)",
        ) from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise PodshmError(
            f"expectations file {path}: not valid YAML{at}: {getattr(err, 'problem', err)}",
            EXPECTATIONS_FIX,
        ) from err
    return parse_overrides(data, str(path))


def apply_override(
    expectation: ShmExpectation, overrides: Mapping[str, Override], source: str = "file"
) -> ShmExpectation:
    """The expectation with a user's override applied (scenario key = base scenario name)."""
    base = expectation.scenario.split("[", 1)[0]
    override = overrides.get(base)
    if override is None:
        return expectation
    changed = expectation
    if override.size_bytes is not None:
        changed = replace(changed, size_bytes=page_round_up(override.size_bytes))
    if override.is_tmpfs is not None:
        changed = replace(changed, is_tmpfs=override.is_tmpfs)
    return replace(
        changed,
        rule=f"overridden by {source} (computed: {expectation.size_bytes} bytes; "
        f"{expectation.rule})",
        source=source,
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
