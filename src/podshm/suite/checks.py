"""Checks several scenarios make: measure /dev/shm against its expectation, fill it up.

Each asserts with the evidence in its message (the rule that predicted the value, how the
mount looks, the helper's report), so a failure says why, and a declared runtime deviation can
match its cause's own words.
"""

from __future__ import annotations

from podshm.suite import helpers as ipc

FILL_TIMEOUT_S = 240.0


def measure(
    pod, podshm_expect, podshm_record, scenario: str, key: str | None = None, container="sender"
):
    """shm-info in the sender (or ``container``), the expectation for the pod, and the
    recorded verdict."""
    info = pod.run_ipc(container, *ipc.shm_info())
    assert info.ok, info.describe()
    expectation = podshm_expect.devshm(key or scenario, pod, info.get("page_size"))
    podshm_record("page_size", info.get("page_size"))
    podshm_record.shm(scenario, expectation, info.get("size_bytes"), bool(info.get("is_tmpfs")))
    podshm_record("shm_fs_type", info.get("fs_type"))
    podshm_record("shm_size_option", info.get("size_option"))
    options = set(info.get("mount_options") or []) | set(info.get("super_options") or [])
    podshm_record("shm_noswap", "noswap" in options)
    return expectation, info


def assert_size(expectation, info) -> None:
    """tmpfs-ness and the exact page-rounded size, with the rule in the message."""
    assert info.get("is_tmpfs") is expectation.is_tmpfs, (
        f"/dev/shm is {info.get('fs_type')}; expected "
        f"{'a tmpfs' if expectation.is_tmpfs else 'not a tmpfs'} ({expectation.rule})"
    )
    assert expectation.size_bytes is not None, f"no size could be predicted: {expectation.rule}"
    assert info.get("size_bytes") == expectation.size_bytes, (
        f"/dev/shm is {info.get('size_bytes')} bytes ({ipc.mount_text(info)}), expected "
        f"{expectation.size_bytes}: {expectation.rule}"
    )
    assert_swap_option(expectation, info)


def assert_swap_option(expectation, info) -> None:
    """``noswap`` exactly where the kubelet sets it (a memory-backed emptyDir on a kernel with
    it): without it swap may take the pod's shared memory from the node."""
    if expectation.noswap is None:
        return
    options = set(info.get("mount_options") or []) | set(info.get("super_options") or [])
    has = "noswap" in options
    assert has is expectation.noswap, (
        f"/dev/shm is mounted {'with' if has else 'without'} noswap ({sorted(options)}); "
        f"expected {'with' if expectation.noswap else 'without'}: {expectation.rule}"
    )


def fill_to_enospc(pod, podshm_record, expectation, info) -> None:
    """dd if=/dev/zero of=/dev/shm/test: stops with ENOSPC when the tmpfs is full, after
    writing the size the kubelet gave it (within one page: the last write may be partial)."""
    fill = fill_up(pod)
    written = fill.get("bytes_written")
    podshm_record("bytes_written_before_enospc", written)
    assert ipc.stop_reason(fill) == "ENOSPC", fill.describe()
    page = info.get("page_size")
    assert isinstance(page, int) and isinstance(written, int), fill.describe()
    assert abs(written - expectation.size_bytes) < page, (
        f"wrote {written} bytes before ENOSPC, expected {expectation.size_bytes} "
        f"({expectation.rule})\n{fill.describe()}"
    )
    after = fill.get("after_write") or {}
    assert "free_bytes" in after, f"no free_bytes after the fill\n{fill.describe()}"
    assert after["free_bytes"] < page, fill.describe()


def fill_up(pod):
    """``shm-fill --until-full`` in the sender, with the exec deadline it needs."""
    return pod.run_ipc(
        "sender", *ipc.shm_fill_until_full(timeout=FILL_TIMEOUT_S), timeout=FILL_TIMEOUT_S + 30
    )
