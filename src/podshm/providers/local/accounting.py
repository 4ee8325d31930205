"""Where the local cluster's CPU goes: its daemons in one accounting cgroup, its pods in the
kubelet's, both below ``/podshm`` of the cpuacct hierarchy.

On a shared machine the busy time of ``/proc/stat`` counts everybody's work, and the per-process
times of the daemons miss what they start and reap: containerd shims (re-parented to init when
they exit), runc and CNI plugin calls, exec'd processes. A cgroup counts all of it, because a
child starts in its parent's cgroup and cpuacct charges every ancestor, so the counter keeps
what a removed pod cgroup used. Only the cpuacct hierarchy of cgroup v1 is touched: it counts
and limits nothing, so no daemon is scheduled differently. On a pure cgroup v2 host there is no
such hierarchy and nothing is measured (:func:`cluster_cpu` returns None).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from podshm.providers.local.teardown import CGROUP_PARENT, cgroup_dirs

DAEMONS_CGROUP = "daemons"
"""The daemons' group, beside the kubelet's ``kubepods`` under ``/podshm``."""


def cluster_cgroup() -> Path | None:
    """``/podshm`` of the cpuacct hierarchy (cgroup v1), or None without one."""
    for tree in cgroup_dirs():
        if (tree.parent / "cpuacct.usage").exists() and tree.name == CGROUP_PARENT:
            return tree
    return None


def join(pid: int) -> bool:
    """Put process ``pid`` (all its threads; its later children follow) into the daemons'
    group; False when the host has no cpuacct hierarchy or the process is gone."""
    tree = cluster_cgroup()
    if tree is None:
        return False
    group = tree / DAEMONS_CGROUP
    group.mkdir(parents=True, exist_ok=True)
    try:
        (group / "cgroup.procs").write_text(f"{pid}\n")
    except (ProcessLookupError, OSError):
        return False
    return True


def member(pid: int) -> bool:
    """Whether ``pid`` is in the daemons' group already."""
    want = f"/{CGROUP_PARENT}/{DAEMONS_CGROUP}"
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _id, controllers, path = line.split(":", 2)
            if "cpuacct" in controllers.split(","):
                return path == want
    return False


@dataclass(frozen=True)
class ClusterCpu:
    """CPU seconds the cluster used so far: daemons (and all they started), and pods."""

    daemons: float
    pods: float

    @property
    def total(self) -> float:
        return self.daemons + self.pods

    def __sub__(self, earlier: ClusterCpu) -> ClusterCpu:
        return ClusterCpu(self.daemons - earlier.daemons, self.pods - earlier.pods)


def _usage_s(group: Path) -> float:
    try:
        return int((group / "cpuacct.usage").read_text()) / 1e9
    except (OSError, ValueError):
        return 0.0


def cluster_cpu() -> ClusterCpu | None:
    """The counters now (None on a host without the cpuacct hierarchy)."""
    tree = cluster_cgroup()
    if tree is None or not tree.is_dir():
        return None
    total = _usage_s(tree)
    daemons = _usage_s(tree / DAEMONS_CGROUP)
    return ClusterCpu(daemons=daemons, pods=total - daemons)
