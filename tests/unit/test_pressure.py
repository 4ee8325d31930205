"""What ends a fill of a memory-backed /dev/shm (podshm.pressure)."""

from __future__ import annotations

from podshm.pressure import FILL_ENOSPC, FILL_OOM_KILLED, container_memory_limit, fill_outcome

MIB = 1024 * 1024


def test_a_writer_limited_below_the_room_is_oom_killed_before_enospc():
    """tmpfs pages are charged to the writer's cgroup (mm/shmem.c): its limit comes first."""
    assert fill_outcome(64 * MIB, 128 * MIB)[0] == FILL_OOM_KILLED
    assert fill_outcome(None, 128 * MIB)[0] == FILL_ENOSPC
    assert fill_outcome(512 * MIB, 128 * MIB)[0] == FILL_ENOSPC
    assert fill_outcome(128 * MIB + 1, 128 * MIB)[0] is None  # the interpreter decides
    # The boundaries: a limit equal to the room is not below it; room + margin is room enough.
    assert fill_outcome(128 * MIB, 128 * MIB)[0] is None
    assert fill_outcome(128 * MIB - 1, 128 * MIB)[0] == FILL_OOM_KILLED
    assert fill_outcome(160 * MIB, 128 * MIB)[0] == FILL_ENOSPC
    assert fill_outcome(160 * MIB - 1, 128 * MIB)[0] is None


def test_a_containers_own_memory_limit():
    spec = {
        "containers": [
            {"name": "sender", "resources": {"limits": {"memory": "64Mi"}}},
            {"name": "receiver"},
        ]
    }
    assert container_memory_limit(spec, "sender") == 64 * MIB
    assert container_memory_limit(spec, "receiver") is None
    assert container_memory_limit(spec, "absent") is None
    assert container_memory_limit({}, "sender") is None  # no containers at all
