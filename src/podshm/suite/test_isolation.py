"""What a pod may NOT share: its IPC objects with other pods, the node's IPC namespace.

Also the one IPC knob a restricted pod may turn: the namespaced sysctl
kernel.shm_rmid_forced, which applies to the pod's IPC namespace and so to every container.
"""

from __future__ import annotations

import pytest

from podshm.kube.pods import PodRejected
from podshm.suite import helpers as ipc

pytestmark = [pytest.mark.isolation]

CREATE_ALL = [
    ipc.sysv_shm_send(),
    ipc.sysv_sem_post(),
    ipc.sysv_msg_send(),
    ipc.posix_shm_send(),
    ipc.posix_mq_send(),
]


def create_all_and_list(owner):
    """Create the five IPC objects in the owner's sender; its receiver must list them all
    (same pod, same IPC namespace): the listing the other pod's is compared with."""
    for argv in CREATE_ALL:
        made = owner.run_ipc("sender", *argv)
        assert made.ok, made.describe()
    owned = owner.run_ipc("receiver", *ipc.ipc_list())
    assert owned.ok, owned.describe()
    owned_objects = ipc.listed_objects(owned)
    kinds = {kind for kind, _ in owned_objects}
    expected = {"sysv_shm", "sysv_sem", "sysv_msg", "posix_shm", "posix_sem"}
    if owned.get("mqueue_mounted"):
        expected.add("posix_mq")
    assert expected <= kinds, f"missing {sorted(expected - kinds)}\n{owned.describe()}"
    return owned, owned_objects


@pytest.mark.podshm_pod("isolation-owner.yaml")
def test_second_pod_on_same_node_sees_none_of_the_first_pods_ipc(podshm_pod, podshm_record):
    """Pod 2 on pod 1's node: other IPC namespace, none of pod 1's five objects visible."""
    owner = podshm_pod("isolation-owner.yaml")
    owned, owned_objects = create_all_and_list(owner)

    observer = podshm_pod("isolation-observer.yaml", node=owner.node_name)
    seen = observer.run_ipc("sender", *ipc.ipc_list())
    assert seen.ok, seen.describe()

    owner_ns, observer_ns = ipc.ipc_namespace(owned), ipc.ipc_namespace(seen)
    podshm_record("owner_ipc_namespace", owner_ns)
    podshm_record("observer_ipc_namespace", observer_ns)
    assert observer.node_name == owner.node_name
    assert owner_ns, owned.describe()
    assert observer_ns != owner_ns, "two pods must not share an IPC namespace"
    leaked = owned_objects & ipc.listed_objects(seen)
    assert not leaked, f"pod 2 sees pod 1's IPC objects: {sorted(leaked)}"


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
    where workloads run)."""
    ready = [n for n in facts.nodes if n.ready]
    ready.sort(key=lambda n: ("node-role.kubernetes.io/control-plane" in n.labels, n.name))
    # Never a skip: a conformance check that quietly did not run would pass the gate.
    assert len(ready) >= 2, (
        f"needs two Ready nodes; this cluster has {len(ready)} "
        "(on a single-node cluster deselect it: -m 'not multinode')"
    )
    return ready[0].name, ready[1].name


@pytest.mark.multinode
def test_pods_on_two_nodes_see_none_of_each_others_ipc(podshm_pod, podshm_cluster, podshm_record):
    """Pod 1 on one node creates five IPC objects; pod 2 on another node sees none of them.

    On kind every node is a container on one kernel, so this is a real check of the IPC
    namespaces of two nodes' pods, not only of two machines.
    """
    first, second = two_nodes(podshm_cluster.facts)
    owner = podshm_pod("isolation-owner.yaml", node=first)
    _owned, owned_objects = create_all_and_list(owner)
    observer = podshm_pod("isolation-observer.yaml", node=second)
    seen = observer.run_ipc("sender", *ipc.ipc_list())
    assert seen.ok, seen.describe()
    podshm_record("owner_node", owner.node_name)
    podshm_record("observer_node", observer.node_name)
    assert (owner.node_name, observer.node_name) == (first, second)
    leaked = owned_objects & ipc.listed_objects(seen)
    assert not leaked, f"a pod on {second} sees IPC objects of a pod on {first}: {sorted(leaked)}"
