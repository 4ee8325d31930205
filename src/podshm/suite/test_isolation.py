"""What a pod may NOT share: its IPC objects with other pods, the node's IPC namespace.

Also the one IPC knob a restricted pod may turn: the namespaced sysctl
kernel.shm_rmid_forced, which applies to the pod's IPC namespace and so to every container.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from podshm.kube.ipccall import IpcResult
from podshm.kube.pods import PodRejected
from podshm.suite import helpers as ipc

pytestmark = [pytest.mark.isolation]

# What the owner pod creates, one object per kind (a POSIX shm object comes with its semaphore).
CREATE = {
    "sysv_shm": ipc.sysv_shm_send(),
    "sysv_sem": ipc.sysv_sem_post(),
    "sysv_msg": ipc.sysv_msg_send(),
    "posix_shm": ipc.posix_shm_send(),
    "posix_mq": ipc.posix_mq_send(),
}
LISTED_AS = {"posix_shm": ("posix_shm", "posix_sem")}


@dataclass
class Owned:
    """What the owner pod made and could list: the evidence the other pod is compared with."""

    listing: IpcResult
    objects: set[tuple[str, str]]
    not_made: dict[str, str]
    """Kinds the runtime would not create, and why (``posix_mq``: ENOSYS under gVisor)."""
    keys: list[int]
    """The SysV keys the owner used: every listing asks for them by key, so a namespace
    without /proc/sysvipc (gVisor) still answers whether it can reach them."""

    @property
    def kinds(self) -> set[str]:
        return {kind for kind, _ in self.objects}


def create_all_and_list(owner) -> Owned:
    """Create one object of every kind in the owner's sender; its receiver (same pod, same IPC
    namespace) must list every one that was made. A kind the runtime will not create is kept
    for the end of the test, so the other kinds are still checked."""
    not_made, keys = {}, []
    for kind, argv in CREATE.items():
        made = owner.run_ipc("sender", *argv)
        if not made.ok:
            not_made[kind] = f"{argv[0]}: {made.summary()}"
        elif made.get("key") is not None:
            keys.append(made.get("key"))
    owned = owner.run_ipc("receiver", *ipc.ipc_list(keys))
    assert owned.ok, owned.describe()
    expected = {k for kind in CREATE if kind not in not_made for k in LISTED_AS.get(kind, (kind,))}
    blind = ipc.unreadable_kinds(owned) & expected
    assert not blind, f"the owner cannot list its own {sorted(blind)}\n{owned.describe()}"
    objects = ipc.listed_objects(owned)
    missing = expected - {kind for kind, _ in objects}
    assert not missing, f"the owner does not list its {sorted(missing)}\n{owned.describe()}"
    return Owned(owned, objects, not_made, list(dict.fromkeys(keys)))


def assert_sees_none(owned: Owned, seen: IpcResult, who: str) -> None:
    """``who`` could read every kind the owner made, and saw none of the owner's objects."""
    assert seen.ok, seen.describe()
    blind = ipc.unreadable_kinds(seen) & owned.kinds
    assert not blind, (
        f"{who} cannot list {sorted(blind)}: no evidence either way\n{seen.describe()}"
    )
    leaked = owned.objects & ipc.listed_objects(seen)
    assert not leaked, f"{who} sees the owner pod's IPC objects: {sorted(leaked)}"


def assert_all_evidence(owned: Owned, namespaces: tuple[str, str] | None = None) -> None:
    """Last, after every object was checked: what could not serve as evidence is a failure,
    all of it in one message (a runtime's declared deviation names exactly that): a kind the
    runtime would not create, and two pods reporting one IPC namespace id."""
    missing = []
    if namespaces is not None and namespaces[0] == namespaces[1]:
        missing.append(f"both pods report the IPC namespace {namespaces[0]}")
    if owned.not_made:
        missing.append(
            "could not create, so not checked: "
            + "; ".join(f"{kind} ({why})" for kind, why in sorted(owned.not_made.items()))
        )
    assert not missing, "; ".join(missing)


@pytest.mark.podshm_pod("isolation-owner.yaml")
def test_second_pod_on_same_node_sees_none_of_the_first_pods_ipc(podshm_pod, podshm_record):
    """Pod 2 on pod 1's node: another IPC namespace (both ids known), none of pod 1's objects
    visible, and pod 2 could read every kind pod 1 made."""
    owner = podshm_pod("isolation-owner.yaml")
    owned = create_all_and_list(owner)

    observer = podshm_pod("isolation-observer.yaml", node=owner.node_name)
    seen = observer.run_ipc("sender", *ipc.ipc_list(owned.keys))

    owner_ns, observer_ns = ipc.ipc_namespace(owned.listing), ipc.ipc_namespace(seen)
    podshm_record("owner_ipc_namespace", owner_ns)
    podshm_record("observer_ipc_namespace", observer_ns)
    assert observer.node_name == owner.node_name
    assert owner_ns and observer_ns, f"IPC namespace ids unknown: {owner_ns!r}, {observer_ns!r}"
    assert_sees_none(owned, seen, "pod 2")
    assert_all_evidence(owned, (owner_ns, observer_ns))


@pytest.mark.parametrize("level", ["restricted", "baseline"])
def test_hostipc_pod_is_rejected_by_pod_security(podshm_pod, podshm_namespace_factory, level):
    """hostIPC: true breaks baseline and restricted: the API server refuses the pod."""
    namespace = podshm_namespace_factory(level)
    with pytest.raises(PodRejected) as rejected:
        podshm_pod.submit("hostipc.yaml", namespace=namespace, check_pod_security=False)
    err = rejected.value
    assert err.status in (403, 422), str(err)
    assert "PodSecurity" in err.message and "hostIPC" in err.message, str(err)


@pytest.mark.podshm_pod("sysctl-ipc.yaml")
def test_ipc_sysctl_is_seen_by_both_containers(podshm_pod):
    """securityContext.sysctls kernel.shm_rmid_forced=1 reaches every container of the pod."""
    pod = podshm_pod("sysctl-ipc.yaml")
    for container in pod.containers:
        read = pod.exec(container, ["cat", "/proc/sys/kernel/shm_rmid_forced"])
        assert read.exit_code == 0, read.describe()
        assert read.stdout.strip() == "1", read.describe()


def two_nodes(facts) -> tuple[str, str]:
    """Two Ready nodes, workers first (a control plane takes pods pinned to it, but workers are
    where workloads run). The ``multinode`` marker made this scenario not applicable on a
    cluster with fewer (podshm.preconditions), so fewer here is a cluster that changed."""
    ready = [n for n in facts.nodes if n.ready]
    ready.sort(key=lambda n: ("node-role.kubernetes.io/control-plane" in n.labels, n.name))
    assert len(ready) >= 2, f"needs two Ready nodes; the cluster now has {len(ready)}"
    return ready[0].name, ready[1].name


@pytest.mark.multinode
def test_pods_on_two_nodes_see_none_of_each_others_ipc(podshm_pod, podshm_cluster, podshm_record):
    """Pod 1 on one node creates five IPC objects; pod 2 on another node sees none of them.

    On kind every node is a container on one kernel, so this is a real check of the IPC
    namespaces of two nodes' pods, not only of two machines.
    """
    first, second = two_nodes(podshm_cluster.facts)
    owner = podshm_pod("isolation-owner.yaml", node=first)
    owned = create_all_and_list(owner)
    observer = podshm_pod("isolation-observer.yaml", node=second)
    seen = observer.run_ipc("sender", *ipc.ipc_list(owned.keys))
    podshm_record("owner_node", owner.node_name)
    podshm_record("observer_node", observer.node_name)
    assert (owner.node_name, observer.node_name) == (first, second)
    assert_sees_none(owned, seen, f"a pod on {second}")
    assert_all_evidence(owned)
