"""The local cluster's identities: certificates for every component and their kubeconfigs."""

from __future__ import annotations

from pathlib import Path

from podshm.providers.local import configs, pki
from podshm.providers.local.layout import CONTEXT_NAME, Layout
from podshm.providers.local.plan import SERVER


def certificates(layout: Layout, node: str) -> pki.Authority:
    """Every certificate the cluster uses, signed by its own CA (TLS on every endpoint)."""
    ca = pki.Authority(layout.pki)
    loop = ("127.0.0.1",)
    ca.issue("etcd-server", "etcd", server=True, client=True, dns=("localhost",), ips=loop)
    ca.issue("apiserver-etcd-client", "kube-apiserver-etcd-client", client=True)
    ca.issue(
        "apiserver",
        "kube-apiserver",
        server=True,
        dns=(
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ),
        ips=("127.0.0.1", "10.96.0.1"),
    )
    ca.issue(
        "apiserver-kubelet-client",
        "kube-apiserver-kubelet-client",
        orgs=("system:masters",),
        client=True,
    )
    ca.issue("admin", "podshm-admin", orgs=("system:masters",), client=True)
    ca.issue("controller-manager", "system:kube-controller-manager", client=True)
    ca.issue("scheduler", "system:kube-scheduler", client=True)
    ca.issue("kubelet-client", f"system:node:{node}", orgs=("system:nodes",), client=True)
    ca.issue("kubelet-serving", node, server=True, dns=(node, "localhost"), ips=loop)
    pki.service_account_key(layout.pki)
    return ca


def kubeconfigs(layout: Layout, ca: pki.Authority, node: str) -> dict[str, Path]:
    """One kubeconfig per client identity; the admin one is `podshm cluster kubeconfig`."""
    out = {}
    for name, user in (
        ("admin", "podshm-admin"),
        ("controller-manager", "system:kube-controller-manager"),
        ("scheduler", "system:kube-scheduler"),
        ("kubelet-client", f"system:node:{node}"),
    ):
        pair = pki.Pair(layout.pki / f"{name}.crt", layout.pki / f"{name}.key")
        path = layout.admin_kubeconfig if name == "admin" else layout.config / f"{name}.kubeconfig"
        out[name] = configs.kubeconfig(
            path, server=SERVER, ca=ca.cert_path, client=pair, user=user, context=CONTEXT_NAME
        )
    return out
