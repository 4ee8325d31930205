"""The expected /dev/shm sizes: the kubelet's and the runtimes' rules, as pure functions."""

from __future__ import annotations

import pytest

from podshm.errors import PodshmError
from podshm.expectations import (
    DEFAULT_SHM_SIZE,
    ENFORCED_DISK,
    ENFORCED_ENOSPC,
    ENFORCED_EVICTION,
    MIB,
    expect_devshm,
    human_size,
    memory_emptydir_size,
    memory_volume_at,
    page_round_up,
    parse_size,
    pod_level_resources_set,
    pod_memory_limit,
    sizes_match,
    tmpfs_default_size,
    version_at_least,
)
from podshm.overrides import Override, apply_override, load_overrides, parse_overrides

GIB = 1024 * MIB
NODE = {"node_allocatable": 15 * GIB, "node_capacity": 16 * GIB, "kubelet_version": (1, 37)}


def container(name: str, memory: str | None = None, **extra) -> dict:
    c = {"name": name, "image": "i", **extra}
    if memory:
        c["resources"] = {"limits": {"memory": memory}}
    return c


def spec(*containers: dict, size_limit: str | None = None, medium: str | None = "Memory", **extra):
    """A pod spec with /dev/shm on an emptyDir in every container."""
    empty_dir: dict = {}
    if medium:
        empty_dir["medium"] = medium
    if size_limit:
        empty_dir["sizeLimit"] = size_limit
    for c in containers:
        c.setdefault("volumeMounts", []).append({"name": "dshm", "mountPath": "/dev/shm"})
    return {
        "containers": list(containers),
        "volumes": [{"name": "dshm", "emptyDir": empty_dir}],
        **extra,
    }


# -- the runtime default -----------------------------------------------------------------------
def test_no_volume_is_the_runtime_default_of_64_mib():
    exp = expect_devshm("devshm-default", {"containers": [container("a")]}, **NODE)
    assert exp.size_bytes == DEFAULT_SHM_SIZE == 67108864
    assert exp.is_tmpfs and exp.enforced_by == ENFORCED_ENOSPC


def test_a_volume_mounted_elsewhere_is_not_dev_shm():
    s = spec(container("a"))
    s["containers"][0]["volumeMounts"][0]["mountPath"] = "/data"
    assert expect_devshm("x", s, **NODE).size_bytes == DEFAULT_SHM_SIZE


# -- calculateEmptyDirMemorySize ---------------------------------------------------------------
def test_memory_emptydir_without_limits_is_node_allocatable():
    exp = expect_devshm("devshm-memory", spec(container("a"), container("b")), **NODE)
    assert exp.size_bytes == 15 * GIB
    assert "node allocatable" in exp.rule


def test_sizelimit_below_allocatable_wins():
    exp = expect_devshm("x", spec(container("a"), size_limit="256Mi"), **NODE)
    assert exp.size_bytes == 256 * MIB and "sizeLimit" in exp.rule


def test_sizelimit_above_allocatable_is_ignored():
    exp = expect_devshm("x", spec(container("a"), size_limit="64Gi"), **NODE)
    assert exp.size_bytes == 15 * GIB


def test_pod_limit_is_the_sum_of_the_containers_limits():
    s = spec(container("a", "64Mi"), container("b", "64Mi"), size_limit="256Mi")
    assert pod_memory_limit(s) == 128 * MIB
    exp = expect_devshm("x", s, **NODE)
    assert exp.size_bytes == 128 * MIB and "memory limit" in exp.rule


def test_equal_pod_limit_and_sizelimit_give_that_size():
    s = spec(container("a", "128Mi"), container("b", "128Mi"), size_limit="256Mi")
    assert expect_devshm("x", s, **NODE).size_bytes == 256 * MIB


def test_one_container_without_limit_means_no_pod_limit():
    s = spec(container("a", "64Mi"), container("b"), size_limit="256Mi")
    assert pod_memory_limit(s) is None
    assert expect_devshm("x", s, **NODE).size_bytes == 256 * MIB


def test_init_container_without_limit_also_means_no_pod_limit():
    s = spec(container("a", "64Mi"), initContainers=[container("init")])
    assert pod_memory_limit(s) is None


def test_init_containers_count_as_max_of_init_and_app_sum():
    big_init = spec(container("a", "64Mi"), initContainers=[container("init", "512Mi")])
    assert pod_memory_limit(big_init) == 512 * MIB
    small_init = spec(
        container("a", "64Mi"), container("b", "64Mi"), initContainers=[container("i", "32Mi")]
    )
    assert pod_memory_limit(small_init) == 128 * MIB


def test_sidecars_add_up_and_precede_later_init_containers():
    sidecar = container("sc", "100Mi", restartPolicy="Always")
    s = spec(container("a", "50Mi"), initContainers=[sidecar, container("late", "200Mi")])
    # app sum = 50 + 100 (sidecar) = 150; the later init container needs 200 + 100 = 300.
    assert pod_memory_limit(s) == 300 * MIB


def test_pod_level_limit_replaces_the_container_sum():
    s = spec(container("a"), container("b"), resources={"limits": {"memory": "96Mi"}})
    assert pod_memory_limit(s) == 96 * MIB
    assert pod_memory_limit(s, pod_level_resources=False) is None


def test_pod_level_resources_off_before_1_34():
    s = spec(container("a"), resources={"limits": {"memory": "96Mi"}})
    old = {**NODE, "kubelet_version": (1, 33)}
    assert expect_devshm("x", s, **old).size_bytes == 15 * GIB
    assert expect_devshm("x", s, **NODE).size_bytes == 96 * MIB


def test_pod_level_requests_only_keep_the_container_limits():
    s = spec(container("a", "64Mi"), resources={"requests": {"memory": "32Mi"}})
    assert pod_memory_limit(s) == 64 * MIB


def test_overhead_is_added_to_a_nonzero_limit():
    s = spec(container("a", "64Mi"), overhead={"memory": "16Mi"})
    assert pod_memory_limit(s) == 80 * MIB


def test_memory_emptydir_size_reports_the_winner():
    assert memory_emptydir_size(GIB, {"containers": [container("a")]}, None) == (
        GIB,
        "node allocatable memory",
    )


# -- SizeMemoryBackedVolumes off -----------------------------------------------------------------
def test_without_size_memory_backed_volumes_tmpfs_is_half_the_ram():
    old = {**NODE, "kubelet_version": (1, 21)}
    exp = expect_devshm("x", spec(container("a"), size_limit="256Mi"), **old)
    assert exp.size_bytes == 8 * GIB
    assert exp.enforced_by == ENFORCED_EVICTION


def test_half_of_ram_is_whole_pages_rounded_down():
    assert tmpfs_default_size(3 * 4096 + 100) == 4096
    assert tmpfs_default_size(16 * GIB) == 8 * GIB


# -- page rounding -------------------------------------------------------------------------------
def test_tmpfs_size_rounds_up_to_whole_pages():
    assert page_round_up(256_000_000) == 256_000_000  # 62500 pages exactly
    assert page_round_up(1) == 4096
    assert page_round_up(4097) == 8192
    exp = expect_devshm("x", spec(container("a"), size_limit="100001"), **NODE)
    assert exp.size_bytes == 102400


def test_sizes_match_compares_in_pages():
    assert sizes_match(102400, 100001)
    assert not sizes_match(102400, 110000)
    assert not sizes_match(None, 1)


def test_df_1k_blocks_of_the_article_are_64_mib():
    assert DEFAULT_SHM_SIZE == 65536 * 1024


# -- disk and unknowns ---------------------------------------------------------------------------
def test_disk_emptydir_is_not_tmpfs():
    exp = expect_devshm("devshm-disk", spec(container("a"), medium=None), **NODE)
    assert not exp.is_tmpfs and exp.size_bytes is None and exp.enforced_by == ENFORCED_DISK


def test_unknown_allocatable_gives_no_size():
    unknown = {**NODE, "node_allocatable": None}
    assert expect_devshm("x", spec(container("a")), **unknown).size_bytes is None


# -- sizes from users ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "size"),
    [("64Mi", 64 * MIB), (67108864, 64 * MIB), ("256M", 256_000_000), ("1e3", 1000)],
)
def test_parse_size_accepts_bytes_and_quantities(text, size):
    assert parse_size(text, "here") == size


@pytest.mark.parametrize("bad", ["64m", "lots", "-1Mi", 0, True, None, [1], "1.5"])
def test_parse_size_rejects_non_sizes(bad):
    with pytest.raises(PodshmError) as err:
        parse_size(bad, "file f: key 'k'")
    assert "file f: key 'k'" in err.value.cause
    assert "64Mi" in (err.value.fix or "")


# -- the expectations file -----------------------------------------------------------------------
def test_overrides_accept_short_and_long_forms():
    parsed = parse_overrides(
        {"devshm-default": "256Mi", "devshm-disk": {"tmpfs": True, "size": "1Gi"}}, "f.yaml"
    )
    assert parsed["devshm-default"] == Override(size_bytes=256 * MIB)
    assert parsed["devshm-disk"] == Override(size_bytes=GIB, is_tmpfs=True)


def test_override_replaces_the_computed_value_and_says_so():
    computed = expect_devshm("devshm-default", {"containers": [container("a")]}, **NODE)
    changed = apply_override(computed, {"devshm-default": Override(size_bytes=256 * MIB)}, "o.yml")
    assert changed.size_bytes == 256 * MIB
    assert changed.source == "o.yml" and "67108864" in changed.rule


def test_override_applies_to_parametrized_scenarios():
    computed = expect_devshm("devshm-memory-sizelimit-memlimit[64Mi]", spec(container("a")), **NODE)
    changed = apply_override(
        computed, {"devshm-memory-sizelimit-memlimit": Override(size_bytes=MIB)}, "o"
    )
    assert changed.size_bytes == MIB


def test_no_file_means_no_overrides():
    assert load_overrides(None) == {}


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("devshm-default: [1\n", "not valid YAML at line"),
        ("- devshm-default\n", "top level is not a mapping"),
        ("devshm-defualt: 64Mi\n", "unknown scenario key 'devshm-defualt'"),
        ("devshm-default: big\n", "key 'devshm-default': 'big' is not a size"),
        ("devshm-default: {size: 1Gi, colour: red}\n", "unknown field(s) colour"),
        ("devshm-disk: {tmpfs: maybe}\n", "'maybe' is not true or false"),
    ],
)
def test_malformed_expectations_file_names_file_and_key(tmp_path, content, needle):
    path = tmp_path / "exp.yaml"
    path.write_text(content)
    with pytest.raises(PodshmError) as err:
        load_overrides(path)
    assert str(path) in err.value.cause
    assert needle in err.value.cause
    assert err.value.fix


def test_missing_expectations_file(tmp_path):
    with pytest.raises(PodshmError, match="cannot read expectations file"):
        load_overrides(tmp_path / "nope.yaml")


def test_human_size():
    assert human_size(64 * MIB) == "64.0 MiB"
    assert human_size(None) == "-"
    assert human_size(12) == "12 B"


# -- branches the suite's scenarios exercise on a real cluster, pinned down here too ----------
def test_old_kubelet_with_unknown_capacity_predicts_no_size():
    old = {**NODE, "kubelet_version": (1, 21), "node_capacity": None}
    exp = expect_devshm("x", spec(container("a")), **old)
    assert exp.size_bytes is None and exp.enforced_by == ENFORCED_EVICTION


def test_the_page_size_is_the_nodes():
    exp = expect_devshm("x", spec(container("a"), size_limit="100000"), **NODE, page=65536)
    assert exp.size_bytes == 131072
    assert expect_devshm("x", {"containers": [container("a")]}, **NODE, page=65536).size_bytes == (
        64 * MIB
    )


def test_an_empty_expectations_file_overrides_nothing(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load_overrides(path) == {}


def test_overrides_of_other_scenarios_leave_the_expectation_alone():
    computed = expect_devshm("devshm-default", {"containers": [container("a")]}, **NODE)
    assert apply_override(computed, {"devshm-disk": Override(is_tmpfs=True)}) is computed


def test_a_tmpfs_only_override_keeps_the_size_and_a_size_only_override_keeps_tmpfs():
    computed = expect_devshm("devshm-disk", spec(container("a"), medium=None), **NODE)
    tmpfs = apply_override(computed, {"devshm-disk": Override(is_tmpfs=True)})
    assert (tmpfs.is_tmpfs, tmpfs.size_bytes) == (True, computed.size_bytes)
    sized = apply_override(computed, {"devshm-disk": Override(size_bytes=MIB)})
    assert (sized.is_tmpfs, sized.size_bytes) == (False, MIB)


def test_unreadable_or_unparsable_expectations_files_are_one_clear_error(tmp_path):
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PodshmError, match="cannot read expectations file"):
        load_overrides(binary)
    nul = tmp_path / "nul.yaml"
    nul.write_text("devshm-default: 64Mi\x00\n")  # a reader error: YAML gives no line for it
    with pytest.raises(PodshmError, match=r"not valid YAML: "):
        load_overrides(nul)


def test_an_overhead_without_any_limit_gives_no_pod_limit():
    assert pod_memory_limit(spec(container("a"), overhead={"memory": "64Mi"})) is None


def test_an_unlimited_init_container_after_a_limited_sidecar_until_1_36_and_from_1_37():
    pod = spec(container("a", "64Mi"), container("b", "64Mi"))
    pod["initContainers"] = [
        container("sidecar", "96Mi", restartPolicy="Always"),
        container("prepare"),
    ]
    old = expect_devshm("x", pod, **{**NODE, "kubelet_version": (1, 36)})
    new = expect_devshm("x", pod, **{**NODE, "kubelet_version": (1, 37)})
    assert old.size_bytes == 224 * MIB and "pod's memory limit" in old.rule
    assert new.size_bytes == 15 * GIB and "node allocatable" in new.rule
    # Without the sidecar the init container is unlimited in every version.
    pod["initContainers"] = [container("prepare")]
    assert expect_devshm("x", pod, **{**NODE, "kubelet_version": (1, 36)}).size_bytes == 15 * GIB
    # A sidecar without a limit is unlimited in every version too.
    pod["initContainers"] = [container("sidecar", restartPolicy="Always")]
    assert expect_devshm("x", pod, **{**NODE, "kubelet_version": (1, 36)}).size_bytes == 15 * GIB


def test_a_regular_init_containers_limit_never_covers_a_later_one():
    pod = spec(container("a", "64Mi"))
    pod["initContainers"] = [container("first", "512Mi"), container("second")]
    for version in ((1, 36), (1, 37)):
        assert expect_devshm("x", pod, **{**NODE, "kubelet_version": version}).size_bytes == (
            15 * GIB
        )


def test_empty_pod_level_resources_made_a_pod_best_effort_from_1_34_until_1_37():
    pod = spec(container("a", "128Mi"), container("b", "128Mi"), resources={})
    sizes = {
        version: expect_devshm("x", pod, **{**NODE, "kubelet_version": version}).size_bytes
        for version in ((1, 33), (1, 34), (1, 36), (1, 37))
    }
    assert sizes == {(1, 33): 256 * MIB, (1, 34): 15 * GIB, (1, 36): 15 * GIB, (1, 37): 256 * MIB}
    # Without the empty pod-level resources: the containers' sum in every version.
    pod.pop("resources")
    assert expect_devshm("x", pod, **{**NODE, "kubelet_version": (1, 36)}).size_bytes == 256 * MIB


# -- the boundaries of each rule (scripts/mutation_check.py: a mutant of any must fail here) ---
def test_a_pod_limit_above_node_allocatable_leaves_allocatable():
    """calculateEmptyDirMemorySize takes the pod limit only when it is <= node allocatable: a
    bigger limit cannot be met by the node, so the tmpfs stays at allocatable."""
    above = spec(container("a", "16Gi"))
    assert pod_memory_limit(above) == 16 * GIB
    assert memory_emptydir_size(15 * GIB, above, None) == (15 * GIB, "node allocatable memory")
    assert expect_devshm("x", above, **NODE).size_bytes == 15 * GIB


def test_a_limit_equal_to_the_current_size_wins():
    """calculateEmptyDirMemorySize compares with ``Cmp(size) < 1``, i.e. <=: a pod limit equal to
    allocatable, and a sizeLimit equal to the pod limit, are the reported winners."""
    assert memory_emptydir_size(GIB, spec(container("a", "1Gi")), None) == (
        GIB,
        "the pod's memory limit",
    )
    assert memory_emptydir_size(GIB, spec(container("a", "256Mi")), 256 * MIB) == (
        256 * MIB,
        "sizeLimit",
    )


def test_a_zero_size_limit_is_ignored():
    """calculateEmptyDirMemorySize uses sizeLimit only when ``Cmp(zero) > 0``: ``sizeLimit: "0"``
    leaves the size to the pod limit or node allocatable."""
    assert memory_emptydir_size(GIB, spec(container("a")), 0) == (GIB, "node allocatable memory")
    exp = expect_devshm("x", spec(container("a", "128Mi"), size_limit="0"), **NODE)
    assert exp.size_bytes == 128 * MIB and "pod's memory limit" in exp.rule


def test_one_byte_is_a_limit():
    """Every "is there a limit" test upstream is "non-zero" (``IsZero``, ``Cmp(zero) > 0``), so the
    smallest limit, one byte, counts wherever a limit can come from."""
    one = spec(container("a", "1"))
    assert pod_memory_limit(one) == 1
    assert pod_memory_limit(one, own_limits_only=False) == 1
    assert memory_emptydir_size(GIB, one, None) == (1, "the pod's memory limit")
    assert memory_emptydir_size(GIB, spec(container("a")), 1) == (1, "sizeLimit")
    pod_level = spec(container("a"), resources={"limits": {"memory": "1"}})
    assert pod_memory_limit(pod_level) == 1
    tiny_init = spec(container("a", "64Mi"), initContainers=[container("i", "1")])
    assert pod_memory_limit(tiny_init, own_limits_only=False) == 64 * MIB


def test_an_unlimited_app_container_means_no_pod_limit_before_1_37_too():
    """ResourceConfigForPod up to 1.36 (PodLimits' ContainerFn) also needs a memory limit on
    every app container; only the init containers were judged differently."""
    s = spec(container("a", "64Mi"), container("b"), initContainers=[container("i", "32Mi")])
    assert pod_memory_limit(s, own_limits_only=False) is None
    assert expect_devshm("x", s, **{**NODE, "kubelet_version": (1, 36)}).size_bytes == 15 * GIB


def test_a_spec_without_containers_has_no_limit_and_no_volume():
    """A spec without containers (not admitted, but the helpers take any mapping) has no
    container limits: no pod cgroup limit (ResourceConfigForPod), no /dev/shm volume, no
    TypeError."""
    assert pod_memory_limit({}) is None
    assert pod_memory_limit({}, own_limits_only=False) is None
    assert memory_volume_at({}) is None


def test_pod_level_limits_apply_from_1_34_on():
    """PodLevelResources is on from 1.34: a pod-level memory limit is the pod cgroup's limit on
    1.34-1.36 as well (the BestEffort slip of those versions needs EMPTY pod resources)."""
    s = spec(container("a"), resources={"limits": {"memory": "96Mi"}})
    for version in ((1, 34), (1, 36)):
        assert expect_devshm("x", s, **{**NODE, "kubelet_version": version}).size_bytes == 96 * MIB


def test_pod_level_requests_alone_are_not_empty_resources():
    """ComputePodQOS on 1.34-1.36: pod-level requests make a pod Burstable, not BestEffort, so
    the containers' limits still give the pod cgroup its limit."""
    s = spec(
        container("a", "128Mi"),
        container("b", "128Mi"),
        resources={"requests": {"memory": "64Mi"}},
    )
    assert expect_devshm("x", s, **{**NODE, "kubelet_version": (1, 36)}).size_bytes == 256 * MIB


def test_pod_level_resources_set_counts_cpu_memory_and_hugepages_only():
    """IsPodLevelResourcesSet: requests or limits naming cpu, memory or hugepages-<size>;
    other names (ephemeral-storage) do not make the pod's resources "set"."""
    assert pod_level_resources_set({"resources": {"limits": {"hugepages-2Mi": "4Mi"}}})
    assert pod_level_resources_set({"resources": {"requests": {"cpu": "1"}}})
    assert pod_level_resources_set({"resources": {"requests": {"memory": "1Mi"}}})
    assert not pod_level_resources_set({"resources": {"limits": {"ephemeral-storage": "1Gi"}}})
    assert not pod_level_resources_set({"resources": {}})
    assert not pod_level_resources_set({})


def test_an_unknown_kubelet_version_counts_as_current():
    """``version_at_least(None, ...)``: an unreadable kubelet version gets the 1.37 rules
    (sized tmpfs, pod-level limits, empty pod resources ignored), not an exception."""
    assert version_at_least(None, (1, 37))
    unknown = {**NODE, "kubelet_version": None}
    pod_level = spec(container("a"), resources={"limits": {"memory": "96Mi"}})
    assert expect_devshm("x", pod_level, **unknown).size_bytes == 96 * MIB
    empty = spec(container("a", "128Mi"), resources={})
    assert expect_devshm("x", empty, **unknown).size_bytes == 128 * MIB


def test_a_trailing_slash_still_mounts_at_dev_shm():
    """``/dev/shm/`` names the same mount point as ``/dev/shm``: the volume, not the runtime's
    64 MiB tmpfs, is what the container sees there."""
    s = spec(container("a"), size_limit="256Mi")
    s["containers"][0]["volumeMounts"][0]["mountPath"] = "/dev/shm/"
    assert memory_volume_at(s) == s["volumes"][0]
    assert expect_devshm("x", s, **NODE).size_bytes == 256 * MIB


def test_fractional_quantities_round_up_to_whole_bytes():
    """Go's ``Quantity.Value()`` rounds up: a 1.1Gi limit (1181116006.4 bytes) is 1181116007
    bytes of pod cgroup limit, and so of tmpfs (before page rounding); the rule itself is
    pinned in test_objects.py."""
    assert pod_memory_limit(spec(container("a", "1.1Gi"))) == 1181116007


def test_half_of_ram_is_an_integer():
    """``totalram_pages() / 2`` is integer page arithmetic: whole bytes as an int, never a float
    that reports would print as 8589934592.0."""
    size = tmpfs_default_size(16 * GIB + 3 * 4096)
    assert size == 8 * GIB + 4096 and type(size) is int


def test_parse_size_takes_one_byte():
    """The smallest size an expectations file may give is one byte (> 0, whole)."""
    assert parse_size(1, "here") == 1
    assert parse_size("1", "here") == 1


@pytest.mark.parametrize("wrong_type", [None, [1], {"size": 1}])
def test_a_size_of_the_wrong_yaml_type_gets_no_suffix_hint(wrong_type):
    """A YAML null, list or mapping is the wrong type, not a mistyped quantity: the fix does not
    send the user looking for a lowercase m."""
    with pytest.raises(PodshmError) as err:
        parse_size(wrong_type, "here")
    assert "is not a size" in err.value.cause
    assert "milli" not in (err.value.fix or "")


def test_nothing_matches_an_unpredictable_size():
    """A scenario whose size cannot be predicted (None) is never reported "ok", whichever side
    is unknown."""
    assert not sizes_match(4096, None)
    assert not sizes_match(None, 4096)


def test_human_size_switches_unit_at_exactly_one_unit():
    """1024 bytes is "1.0 KiB", one MiB "1.0 MiB": the report's unit changes at the unit."""
    assert human_size(1024) == "1.0 KiB"
    assert human_size(MIB) == "1.0 MiB"
    assert human_size(1023) == "1023 B"


def test_a_memory_backed_emptydir_is_noswap_from_kernel_6_4_and_the_runtimes_shm_never():
    """generateTmpfsMountOptions adds noswap when IsTmpfsNoswapOptionSupported (kernel >=
    6.4); containerd's own /dev/shm has no such option."""
    from podshm.expectations import kernel_release

    memory = {
        "volumes": [{"name": "shm", "emptyDir": {"medium": "Memory"}}],
        "containers": [{"name": "c", "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}]}],
    }
    node = {"node_allocatable": 8 * 2**30, "node_capacity": 16 * 2**30, "kubelet_version": (1, 37)}
    assert expect_devshm("m", memory, kernel=(6, 4), **node).noswap is True
    assert expect_devshm("m", memory, kernel=(6, 3), **node).noswap is False
    assert expect_devshm("m", memory, kernel=(6, 18), **node).noswap is True
    assert expect_devshm("m", memory, kernel=None, **node).noswap is None
    assert (
        expect_devshm("d", {"containers": [{"name": "c"}]}, kernel=(6, 18), **node).noswap is False
    )
    assert kernel_release("6.18.44-fc-v1147") == (6, 18)
    assert kernel_release("6.1.0-40-cloud-amd64") == (6, 1)
    assert kernel_release("5.15.0-1057-gke") == (5, 15)
    assert kernel_release("6.4rc1") == (6, 4)
    for unreadable in (None, "", "linux", "6", "6.x", "v6.4"):
        assert kernel_release(unreadable) is None
