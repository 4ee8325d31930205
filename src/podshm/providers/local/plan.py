"""The local cluster's plan: its daemons in start order and each one's command line.

`up` starts the daemons in :data:`START_ORDER`; `down` and the teardown of a dead cluster stop
them in :data:`STOP_ORDER` (the kubelet first, so it does not restart what is being killed).
"""

from __future__ import annotations

from pathlib import Path

from podshm.providers.local import configs
from podshm.providers.local.layout import Layout

API_PORT = 6443
ETCD_PORT = 2379
ETCD_PEER_PORT = 2380
SERVER = f"https://127.0.0.1:{API_PORT}"

START_ORDER = (
    "etcd",
    "containerd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
)
STOP_ORDER = tuple(reversed(START_ORDER))


def etcd_argv(binary: Path, layout: Layout) -> list[str]:
    p = layout.pki
    return [
        str(binary),
        "--name=podshm",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls=https://127.0.0.1:{ETCD_PORT}",
        f"--advertise-client-urls=https://127.0.0.1:{ETCD_PORT}",
        f"--listen-peer-urls=https://127.0.0.1:{ETCD_PEER_PORT}",
        f"--initial-advertise-peer-urls=https://127.0.0.1:{ETCD_PEER_PORT}",
        f"--initial-cluster=podshm=https://127.0.0.1:{ETCD_PEER_PORT}",
        f"--cert-file={p / 'etcd-server.crt'}",
        f"--key-file={p / 'etcd-server.key'}",
        f"--trusted-ca-file={p / 'ca.crt'}",
        "--client-cert-auth=true",
        f"--peer-cert-file={p / 'etcd-server.crt'}",
        f"--peer-key-file={p / 'etcd-server.key'}",
        f"--peer-trusted-ca-file={p / 'ca.crt'}",
        "--peer-client-cert-auth=true",
        "--listen-metrics-urls=http://127.0.0.1:2381",
        "--log-level=warn",
    ]


def apiserver_argv(binary: Path, layout: Layout) -> list[str]:
    p = layout.pki
    return [
        str(binary),
        "--bind-address=127.0.0.1",
        f"--secure-port={API_PORT}",
        f"--etcd-servers=https://127.0.0.1:{ETCD_PORT}",
        f"--etcd-cafile={p / 'ca.crt'}",
        f"--etcd-certfile={p / 'apiserver-etcd-client.crt'}",
        f"--etcd-keyfile={p / 'apiserver-etcd-client.key'}",
        f"--tls-cert-file={p / 'apiserver.crt'}",
        f"--tls-private-key-file={p / 'apiserver.key'}",
        f"--client-ca-file={p / 'ca.crt'}",
        "--anonymous-auth=false",
        "--authorization-mode=Node,RBAC",
        # Default admission plugins (PodSecurity among them) plus NodeRestriction.
        "--enable-admission-plugins=NodeRestriction",
        "--allow-privileged=true",
        f"--service-account-key-file={p / 'sa.pub'}",
        f"--service-account-signing-key-file={p / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={configs.SERVICE_CIDR}",
        f"--kubelet-client-certificate={p / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={p / 'apiserver-kubelet-client.key'}",
        f"--kubelet-certificate-authority={p / 'ca.crt'}",
        # The node's host name resolves to loopback here; the kubelet listens there only.
        "--kubelet-preferred-address-types=Hostname,InternalIP",
        # Every request, one line at its end, without bodies: what a run costs the API server
        # is counted from it (bench/suite.py). Two files of 50 MB at most, removed by `down`.
        f"--audit-policy-file={layout.audit_policy}",
        f"--audit-log-path={layout.audit_log}",
        "--audit-log-format=json",
        f"--audit-log-maxsize={configs.AUDIT_LOG_MAX_MB}",
        "--audit-log-maxbackup=1",
        "--v=1",
    ]


def controller_argv(binary: Path, layout: Layout, kubeconfig: Path) -> list[str]:
    p = layout.pki
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--service-account-private-key-file={p / 'sa.key'}",
        f"--root-ca-file={p / 'ca.crt'}",
        f"--cluster-signing-cert-file={p / 'ca.crt'}",
        f"--cluster-signing-key-file={p / 'ca.key'}",
        "--use-service-account-credentials=true",
        # One API client per controller is built at start-up; the default client rate limit
        # (20 qps) makes that take seconds on a single-node cluster nobody else uses.
        "--kube-api-qps=200",
        "--kube-api-burst=400",
        "--leader-elect=false",
        "--v=1",
    ]


def scheduler_argv(binary: Path, kubeconfig: Path) -> list[str]:
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        "--leader-elect=false",
        "--v=1",
    ]


def kubelet_argv(binary: Path, layout: Layout, config: Path, kubeconfig: Path) -> list[str]:
    return [
        str(binary),
        f"--config={config}",
        f"--kubeconfig={kubeconfig}",
        f"--root-dir={layout.kubelet_root}",
        "--v=1",
    ]


def control_plane_argv(name: str, binary: Path, layout: Layout) -> list[str]:
    """The command line of one control-plane daemon (restarts and in-place upgrades)."""
    if name == "kube-apiserver":
        return apiserver_argv(binary, layout)
    if name == "kube-controller-manager":
        return controller_argv(binary, layout, layout.config / "controller-manager.kubeconfig")
    if name == "kube-scheduler":
        return scheduler_argv(binary, layout.config / "scheduler.kubeconfig")
    raise ValueError(f"{name} is not a control-plane daemon")
