"""Namespaced IPC sysctls, the Oracle case: SysV users raise kernel.sem and kernel.msgmax.

Oracle, SAP and other SysV-heavy programs need more semaphores per set or larger messages than
a new IPC namespace offers (SEMMSL 32000, msgmax 8192). The limits are namespaced, so a pod
may raise them for itself in ``securityContext.sysctls``, but they are *unsafe*: a kubelet
refuses such a pod unless its ``allowedUnsafeSysctls`` names them (kubernetes#101227), and Pod
Security baseline forbids them, so these pods run in a privileged namespace.

Each scenario predicts its outcome from the pod's node: the kubelet's live configuration (its
``/configz`` through the API server: a user without get on nodes/proxy gets "not applicable",
named) and the kubelet's allowlist rule (:mod:`podshm.sysctls`). A sysctl the node does not
allow is refused (``SysctlForbidden``, the symptom); on a node that allows the IPC sysctls (the
fix: ``--allowed-unsafe-sysctls``), the pod that set them sees them in both containers and can
make a semaphore set and send a message past the defaults, and a second pod on the same node
keeps the defaults and is refused both with EINVAL.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from podshm import sysctls
from podshm.kube.facts import read_kubelet_allowlist
from podshm.kube.pods import UNTIL_COMPLETED
from podshm.suite import helpers as ipc
from podshm.sysctls import KubeletAllowlist

pytestmark = [pytest.mark.workload, pytest.mark.sysv, pytest.mark.kubelet_configz]
REFUSAL_TIMEOUT_S = 60.0
REFUSED_VALUES = {
    "kernel.msgmax": "65536",
    "kernel.msgmnb": "65536",
    "kernel.msgmni": "64000",
    "kernel.sem": "64000 1024000000 500 32000",
    "kernel.shmmax": "68719476736",
    "kernel.shmall": "16777216",
    "kernel.shmmni": "8192",
    "fs.mqueue.msg_max": "64",
    "fs.mqueue.msgsize_max": "65536",
    "fs.mqueue.queues_max": "512",
}
"""A raised value for each unsafe IPC sysctl (the kubelet refuses the name, whatever it is)."""


def choose_node(
    cluster, target: str | None, fits: Callable[[KubeletAllowlist], bool]
) -> tuple[str, KubeletAllowlist]:
    """The node to pin the scenario's pods to, with its kubelet's allowlist read now: the
    test's node if it has one, else the first Ready node (workers first) whose allowlist fits.
    The scenario's precondition said one exists, so none is a cluster that changed."""
    ready = [n for n in cluster.facts.nodes if n.ready and target in (None, n.name)]
    ready.sort(key=lambda n: ("node-role.kubernetes.io/control-plane" in n.labels, n.name))
    seen = []
    for node in ready:
        allowlist = read_kubelet_allowlist(cluster.api, node.name, node.annotations)
        assert allowlist.known, f"cannot read the kubelet config of {node.name}: {allowlist}"
        if fits(allowlist):
            return node.name, allowlist
        seen.append(f"{node.name}: {allowlist.describe()}")
    raise AssertionError(f"no Ready node fits any more: {'; '.join(seen) or 'no Ready node'}")


@pytest.mark.refuses_ipc_sysctls
def test_an_unsafe_ipc_sysctl_the_node_does_not_allow_is_refused_by_its_kubelet(
    podshm_pod, podshm_namespace_factory, podshm_cluster, podshm_target_node, podshm_record
):
    """The symptom: a pod asking for an unsafe IPC sysctl its node does not allow (kernel.msgmax
    on a default kubelet) never starts: Failed, reason SysctlForbidden."""
    node, allowlist = choose_node(
        podshm_cluster,
        podshm_target_node,
        lambda a: sysctls.first_refused_ipc(a.patterns) is not None,
    )
    sysctl = sysctls.first_refused_ipc(allowlist.patterns)
    assert sysctl is not None
    podshm_record("kubelet_allowed_unsafe_sysctls", ",".join(allowlist.patterns) or "none")
    podshm_record("sysctl", sysctl)
    namespace = podshm_namespace_factory("privileged")
    pod = podshm_pod.submit(
        "sysctl-unsafe.yaml",
        namespace=namespace,
        node=node,
        sysctl=sysctl,
        sysctl_value=REFUSED_VALUES[sysctl],
    )
    status = pod.wait(UNTIL_COMPLETED, REFUSAL_TIMEOUT_S).get("status") or {}
    podshm_record("pod_reason", status.get("reason"))
    podshm_record("pod_message", status.get("message"))
    assert (status.get("phase"), status.get("reason")) == ("Failed", sysctls.FORBIDDEN_REASON), (
        f"{node}'s kubelet ({allowlist.describe()}) should refuse {sysctl}: pod "
        f"{status.get('phase')} ({status.get('reason')}: {status.get('message')})"
    )
    assert f'"{sysctl}" not allowlisted' in str(status.get("message")), status


def read_sysctls(pod, container: str, names, record, label: str) -> dict[str, tuple[int, ...]]:
    """Each sysctl as the container reads it from /proc/sys, recorded as ``<label>_<name>``."""
    found = {}
    for name in names:
        read = pod.exec(container, ["cat", "/proc/sys/" + name.replace(".", "/")])
        assert read.exit_code == 0, read.describe()
        found[name] = sysctls.parse_values(read.stdout)
        record(f"{label}_{name}", " ".join(map(str, found[name])))
    return found


@pytest.mark.allows_ipc_sysctls
def test_raised_sysv_limits_hold_in_the_pod_that_set_them_and_in_no_other(
    podshm_pod, podshm_namespace_factory, podshm_cluster, podshm_target_node, podshm_record
):
    """The fix: on a node whose kubelet allows kernel.msg* and kernel.sem, a pod raises SEMMSL
    and msgmax for itself: both its containers read the raised values, it makes a semaphore set
    and sends a message past the defaults; a second pod on the same node keeps the defaults of
    a new IPC namespace and gets EINVAL for both."""
    node, allowlist = choose_node(
        podshm_cluster, podshm_target_node, lambda a: a.allows(sysctls.SYSV_LIMITS)
    )
    podshm_record("kubelet_allowed_unsafe_sysctls", ",".join(allowlist.patterns))
    namespace = podshm_namespace_factory("privileged")
    raised = podshm_pod("sysctl-sysv-limits.yaml", namespace=namespace, node=node)
    asked = {
        str(s["name"]): sysctls.parse_values(str(s["value"]))
        for s in (raised.spec.get("securityContext") or {}).get("sysctls") or []
    }
    assert tuple(asked) == sysctls.SYSV_LIMITS, asked
    plain = podshm_pod("isolation-observer.yaml", node=node)

    for container in raised.containers:
        seen = read_sysctls(raised, container, asked, podshm_record, f"pod1_{container}")
        assert seen == asked, f"pod 1's {container} reads {seen}, the pod set {asked}"
    defaults = read_sysctls(plain, "sender", asked, podshm_record, "pod2")
    assert defaults == sysctls.NEW_NAMESPACE_DEFAULTS, (
        f"pod 2 on the same node reads {defaults}; a new IPC namespace starts with "
        f"{sysctls.NEW_NAMESPACE_DEFAULTS} (pod 1 set {asked})"
    )

    nsems = defaults["kernel.sem"][0] + 1
    size = 2 * defaults["kernel.msgmax"][0]
    assert nsems <= asked["kernel.sem"][0], "the manifest must raise SEMMSL past the default"
    assert size <= min(asked["kernel.msgmax"][0], asked["kernel.msgmnb"][0]), asked
    outcomes = {}
    for label, pod in (("pod1", raised), ("pod2", plain)):
        outcomes[label] = (
            pod.run_ipc(pod.containers[0], *ipc.sysv_sem_set(nsems)),
            pod.run_ipc(pod.containers[0], *ipc.sysv_msg_size(size)),
        )
        for probe, result in zip(("semget", "msgsnd"), outcomes[label], strict=True):
            podshm_record(f"{label}_{probe}", "ok" if result.ok else result.errno_name)
    for result in outcomes["pod1"]:
        assert result.ok, f"pod 1 raised the limit, yet: {result.describe()}"
    for result in outcomes["pod2"]:
        assert not result.ok and result.errno_name == "EINVAL", (
            f"pod 2 keeps the defaults and must get EINVAL: {result.describe()}"
        )
