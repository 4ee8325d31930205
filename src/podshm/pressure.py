"""What ends a fill of a memory-backed /dev/shm, predicted from the admitted pod.

Pages a process writes into a tmpfs are charged to the writer's memory cgroup (mm/shmem.c
shmem_alloc_and_add_folio -> mem_cgroup_charge), not to the volume. Without swap they cannot
be reclaimed, so a writer whose container limit is below the room left in the tmpfs reaches
its limit first and the kernel OOM-kills it (SIGKILL: exit 137, no ENOSPC); a writer with
room to spare fills the tmpfs and write() fails with ENOSPC. Within FILL_MARGIN of each
other the writer's own memory (the interpreter) decides, and nothing is predicted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podshm.expectations import MIB, memory_limit_of

FILL_OOM_KILLED = "OOMKilled"
FILL_ENOSPC = "ENOSPC"
FILL_MARGIN = 32 * MIB


def container_memory_limit(spec: Mapping[str, Any], container: str) -> int | None:
    """``resources.limits.memory`` of one app container, None when it sets none."""
    for c in spec.get("containers") or []:
        if c.get("name") == container:
            return memory_limit_of(c.get("resources")) or None
    return None


def fill_outcome(container_limit: int | None, room: int) -> tuple[str | None, str]:
    """What ends a fill of a memory-backed tmpfs with ``room`` bytes free, by a writer in a
    container limited to ``container_limit``: (outcome or None, the rule used)."""
    if container_limit is None or container_limit >= room + FILL_MARGIN:
        return FILL_ENOSPC, f"the writer's limit ({container_limit}) leaves room for {room} bytes"
    if container_limit < room:
        return (
            FILL_OOM_KILLED,
            f"tmpfs pages are charged to the writer's cgroup: its limit {container_limit} < the "
            f"{room} bytes free",
        )
    return None, f"the writer's limit {container_limit} is within {FILL_MARGIN} of {room}"
