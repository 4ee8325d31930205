"""User-namespaced pods (``hostUsers: false``, GA since 1.36, on by default since 1.33): their
containers still share the pod's IPC namespace and /dev/shm, root inside is not root outside,
and a user-namespaced pod cannot have the node's IPC namespace.

Each scenario needs a runtime handler that supports user namespaces, as the node reports it
(``status.runtimeHandlers[].features.userNamespaces``); under one that does not (Debian's crun
1.8) the scenario is not applicable, with that reason.
"""

from __future__ import annotations

import pytest

from podshm.kube.pods import PodRejected
from podshm.suite import helpers as ipc
from podshm.suite.checks import assert_size, measure

pytestmark = [pytest.mark.userns]
IN_USERNS = {"host_users": False}
RUNS_IN_USERNS = pytest.mark.userns_runtime  # the precondition: a handler with user namespaces


def pair(manifest: str, send: list[str], recv: list[str], mark: pytest.MarkDecorator) -> object:
    return pytest.param(
        manifest, send, recv, id=manifest.removesuffix(".yaml"),
        marks=[mark, RUNS_IN_USERNS, pytest.mark.podshm_pod(manifest, **IN_USERNS)],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("manifest", "send", "recv"),
    [
        pair("sysv-shared-ftok.yaml", ipc.sysv_shm_send(), ipc.sysv_shm_recv(), pytest.mark.sysv),
        pair("posix-shm.yaml", ipc.posix_shm_send(), ipc.posix_shm_recv(), pytest.mark.posix),
        pair("ipc-pair.yaml", ipc.posix_mq_send(), ipc.posix_mq_recv(), pytest.mark.posix),
    ],
)
def test_ipc_between_the_containers_of_a_user_namespaced_pod(podshm_pod, manifest, send, recv):
    """SysV shm keyed by a shared ftok file, POSIX shm + semaphore, a POSIX queue: the pod's
    containers share its IPC namespace (and its /dev/shm) inside the user namespace too."""
    pod = podshm_pod(manifest, **IN_USERNS)
    sent = pod.run_ipc("sender", *send)
    assert sent.ok, f"{send[0]}: {sent.summary()}\n{sent.describe()}"
    recv = [*recv, *ipc.same_key(sent)]
    got = pod.run_ipc("receiver", *recv, timeout=ipc.exec_timeout(ipc.RECV_TIMEOUT_S))
    ipc.assert_same_key(sent, got)
    assert got.ok, f"{recv[0]}: {got.summary()}\n{got.describe()}"
    assert got.get("text") == ipc.TEXT, got.describe()


@RUNS_IN_USERNS
@pytest.mark.podshm_pod("ipc-pair.yaml", **IN_USERNS)
def test_a_user_namespaced_pod_does_not_run_as_the_nodes_root(podshm_pod, podshm_record):
    """``/proc/self/uid_map`` of both containers maps the pod's uids away from the node's 0,
    and both containers have the same mapping (one user namespace per pod)."""
    pod = podshm_pod("ipc-pair.yaml", **IN_USERNS)
    maps = {}
    for container in pod.containers:
        read = pod.exec(container, ["cat", "/proc/self/uid_map"])
        assert read.exit_code == 0, read.describe()
        maps[container] = read.stdout.split()
    podshm_record("uid_map", " ".join(maps["sender"]))
    inside, outside, count = (int(x) for x in maps["sender"][:3])
    assert inside == 0 and outside != 0, f"uid 0 maps to the node's {outside}: {maps}"
    assert count < 2**32 - 1, f"the whole uid range is mapped (no user namespace): {maps}"
    assert maps["receiver"] == maps["sender"], maps


SIZE_LIMIT = "256Mi"


@pytest.mark.shm
@RUNS_IN_USERNS
@pytest.mark.podshm_pod("devshm-memory-sizelimit.yaml", size_limit=SIZE_LIMIT, **IN_USERNS)
def test_a_memory_backed_devshm_is_sized_as_without_user_namespaces(
    podshm_pod, podshm_expect, podshm_record
):
    """The kubelet sizes the tmpfs the same way; the runtime mounts it idmapped into the user
    namespace: sizeLimit 256Mi is 256 MiB there too."""
    pod = podshm_pod("devshm-memory-sizelimit.yaml", size_limit=SIZE_LIMIT, **IN_USERNS)
    expectation, info = measure(pod, podshm_expect, podshm_record, "devshm-memory-sizelimit")
    assert_size(expectation, info)


def test_a_user_namespaced_pod_cannot_have_the_nodes_ipc_namespace(
    podshm_pod, podshm_namespace_factory
):
    """``hostIPC: true`` with ``hostUsers: false`` is invalid whatever the Pod Security level:
    the API server's own validation refuses it (a privileged namespace, so only it speaks)."""
    namespace = podshm_namespace_factory("privileged")
    with pytest.raises(PodRejected) as rejected:
        podshm_pod.submit(
            "hostipc.yaml", namespace=namespace, check_pod_security=False, **IN_USERNS
        )
    err = rejected.value
    assert err.status == 422, str(err)
    assert "spec.HostIPC: Forbidden: when `hostUsers` is false" in err.message, str(err)
