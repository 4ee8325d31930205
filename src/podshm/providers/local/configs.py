"""Configuration files of the local cluster, rendered from data.

The containerd TOML is a template file next to this module; the rest are YAML or
JSON documents built as dicts, the same shape ``hack/local-up-cluster.sh`` writes.
"""

from __future__ import annotations

import json
import string
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from podshm.providers.local.layout import Layout
from podshm.providers.local.pki import Pair

POD_SUBNET = "10.244.0.0/24"
SERVICE_CIDR = "10.96.0.0/16"
BRIDGE = "podshm0"
CNI_CONFLIST = "10-podshm.conflist"
AUDIT_LOG_MAX_MB = 50


def kubeconfig_document(
    *,
    server: str,
    ca: Path,
    client: Pair,
    user: str,
    context: str,
    tls_server_name: str | None = None,
) -> dict[str, Any]:
    """A kubeconfig naming a client certificate by path (no tokens, no anonymous), pure.
    ``tls_server_name``: the name to verify when ``server`` is an address the API server's
    certificate does not list (the VM node reaches it through a forward)."""
    cluster: dict[str, str] = {"server": server, "certificate-authority": str(ca)}
    if tls_server_name:
        cluster["tls-server-name"] = tls_server_name
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate": str(client.cert),
                    "client-key": str(client.key),
                },
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": context, "user": user}}],
        "current-context": context,
    }


def kubeconfig(path: Path, *, server: str, ca: Path, client: Pair, user: str, context: str) -> Path:
    """Write :func:`kubeconfig_document` to ``path``, readable by root only."""
    doc = kubeconfig_document(server=server, ca=ca, client=client, user=user, context=context)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return path


def can_lower_oom_score() -> bool:
    """Whether this process may lower its oom_score_adj (needs CAP_SYS_RESOURCE)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) & (1 << 24))  # CAP_SYS_RESOURCE
    return False


def containerd_text(
    *,
    root: Path,
    state: Path,
    socket: Path,
    cni_bin: str,
    cni_conf: Path,
    pause_image: str,
    runtime_tables: list[str],
    restrict_oom: bool,
) -> str:
    """containerd 2.x (config version 3): cgroupfs, its own socket, CNI, the sandbox image,
    one table per runtime (``podshm.providers.local.runtimes``); pure, for the host node and
    the VM node alike."""
    template = (
        resources.files("podshm.providers.local").joinpath("containerd.toml.tmpl").read_text()
    )
    return string.Template(template).substitute(
        root=root,
        state=state,
        socket=socket,
        runtimes="\n".join(runtime_tables),
        cni_bin=cni_bin,
        cni_conf=cni_conf,
        pause_image=pause_image,
        restrict_oom=str(restrict_oom).lower(),
    )


def containerd_toml(
    layout: Layout, *, cni_bin: str, pause_image: str, runtime_tables: list[str]
) -> Path:
    """The host node's containerd config, written under the cluster's state."""
    text = containerd_text(
        root=layout.containerd_root,
        state=layout.containerd_state,
        socket=layout.containerd_socket,
        cni_bin=cni_bin,
        cni_conf=layout.cni_conf,
        pause_image=pause_image,
        runtime_tables=runtime_tables,
        restrict_oom=not can_lower_oom_score(),
    )
    path = layout.config / "containerd.toml"
    path.write_text(text)
    return path


def audit_policy(layout: Layout) -> Path:
    """Audit every request at level Metadata (who, verb, object; no bodies), one event when
    it completes (``RequestReceived`` would double every line): the cheapest policy that still
    counts each request a run causes, its own and the controllers' and kubelet's for it."""
    doc = {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [{"level": "Metadata"}],
    }
    layout.audit_policy.parent.mkdir(parents=True, exist_ok=True)
    layout.audit_policy.write_text(yaml.safe_dump(doc, sort_keys=False))
    return layout.audit_policy


def cni_document(subnet: str, data_dir: Path) -> dict[str, Any]:
    """A bridge network on its own bridge name, ``subnet`` for the node's pods; no
    masquerade, so no iptables is needed (pure)."""
    return {
        "cniVersion": "1.0.0",
        "name": "podshm",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(data_dir),
                    "ranges": [[{"subnet": subnet}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "loopback"},
        ],
    }


def cni_conflist(layout: Layout) -> Path:
    """The host node's CNI network, written where its containerd reads it."""
    layout.cni_conf.mkdir(parents=True, exist_ok=True)
    path = layout.cni_conf / CNI_CONFLIST
    path.write_text(json.dumps(cni_document(POD_SUBNET, layout.cni_data), indent=2))
    return path


def kubelet_document(
    *,
    minor: tuple[int, int],
    ca: Path,
    serving: Pair,
    cgroup_root: str,
    runtime_endpoint: str,
    address: str = "127.0.0.1",
    taints: tuple[dict[str, str], ...] = (),
    unsafe_sysctls: tuple[str, ...] = (),
) -> dict[str, Any]:
    """KubeletConfiguration for a node whose PID 1 is not systemd (pure): the host node
    (cgroup v1) and the VM node (cgroup v2) differ only in the arguments.

    ``cgroupDriver: cgroupfs`` is explicit because a containerd 1.x has no
    RuntimeConfig call to tell the kubelet; from 1.35 the kubelet refuses cgroup v1
    unless ``failCgroupV1: false``.
    """
    doc: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": address,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(ca)},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(serving.cert),
        "tlsPrivateKeyFile": str(serving.key),
        "cgroupDriver": "cgroupfs",
        # Pods live in a cgroup subtree of the node's choosing (the host node: podshm's own,
        # so teardown never touches anyone else's).
        "cgroupRoot": cgroup_root,
        "containerRuntimeEndpoint": runtime_endpoint,
        "failSwapOn": False,
        "resolvConf": "/etc/resolv.conf",
        "serializeImagePulls": False,
        # Small, fixed thresholds: a development disk that is 90% full must not
        # evict the suite's pods; memory keeps the default 100Mi.
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "2%",
            "imagefs.available": "2%",
            "nodefs.inodesFree": "2%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
    }
    if taints:
        doc["registerWithTaints"] = [dict(t) for t in taints]
    if unsafe_sysctls:
        # Namespaced sysctls a pod may set beyond the kubelet's safe ones (a pattern may end
        # in "*"); the kubelet refuses to start on one not known to be namespaced.
        doc["allowedUnsafeSysctls"] = list(unsafe_sysctls)
    # Every field above exists in each supported minor (1.33-1.37), checked against
    # k8s.io/kubelet@v0.<minor>.<patch> config/v1beta1/types.go. failCgroupV1 exists since
    # 1.31 but defaults to false up to 1.34 and to true from 1.35 (same file, "Default: true"),
    # so it is only needed, and only written, from 1.35.
    if minor >= (1, 35):
        doc["failCgroupV1"] = False
    return doc


def kubelet_config(
    layout: Layout,
    *,
    minor: tuple[int, int],
    ca: Path,
    serving: Pair,
    cgroup_root: str,
    unsafe_sysctls: tuple[str, ...] = (),
) -> Path:
    """The host node's kubelet config (loopback only), written under the cluster's state."""
    doc = kubelet_document(
        minor=minor,
        ca=ca,
        serving=serving,
        cgroup_root=cgroup_root,
        runtime_endpoint=f"unix://{layout.containerd_socket}",
        unsafe_sysctls=unsafe_sysctls,
    )
    path = layout.config / "kubelet.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
