"""Configuration files of the local cluster, rendered from data.

The containerd TOML is a template file next to this module; the rest are YAML or
JSON documents built as dicts, the same shape ``hack/local-up-cluster.sh`` writes.
"""

from __future__ import annotations

import json
import string
from importlib import resources
from pathlib import Path

import yaml

from podshm.providers.local.layout import Layout
from podshm.providers.local.pki import Pair

POD_SUBNET = "10.244.0.0/24"
SERVICE_CIDR = "10.96.0.0/16"
BRIDGE = "podshm0"
AUDIT_LOG_MAX_MB = 50


def kubeconfig(path: Path, *, server: str, ca: Path, client: Pair, user: str, context: str) -> Path:
    """A kubeconfig with embedded paths to a client certificate (no tokens, no anonymous)."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": context, "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
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
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return path


def can_lower_oom_score() -> bool:
    """Whether this process may lower its oom_score_adj (needs CAP_SYS_RESOURCE)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) & (1 << 24))  # CAP_SYS_RESOURCE
    return False


def containerd_toml(
    layout: Layout, *, cni_bin: str, pause_image: str, runtime_tables: list[str]
) -> Path:
    """containerd 2.x (config version 3): cgroupfs, our own socket, CNI, sandbox image, and
    one table per runtime (``podshm.providers.local.runtimes``)."""
    template = (
        resources.files("podshm.providers.local").joinpath("containerd.toml.tmpl").read_text()
    )
    text = string.Template(template).substitute(
        root=layout.containerd_root,
        state=layout.containerd_state,
        socket=layout.containerd_socket,
        runtimes="\n".join(runtime_tables),
        cni_bin=cni_bin,
        cni_conf=layout.cni_conf,
        pause_image=pause_image,
        restrict_oom=str(not can_lower_oom_score()).lower(),
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


def cni_conflist(layout: Layout) -> Path:
    """A bridge network on its own bridge name; no masquerade, so no iptables is needed."""
    layout.cni_conf.mkdir(parents=True, exist_ok=True)
    doc = {
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
                    "dataDir": str(layout.cni_data),
                    "ranges": [[{"subnet": POD_SUBNET}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "loopback"},
        ],
    }
    path = layout.cni_conf / "10-podshm.conflist"
    path.write_text(json.dumps(doc, indent=2))
    return path


def kubelet_config(
    layout: Layout,
    *,
    minor: tuple[int, int],
    ca: Path,
    serving: Pair,
    cgroup_root: str,
    address: str = "127.0.0.1",
) -> Path:
    """KubeletConfiguration for a cgroup v1 host whose PID 1 is not systemd.

    ``cgroupDriver: cgroupfs`` is explicit because a containerd 1.x has no
    RuntimeConfig call to tell the kubelet; from 1.35 the kubelet refuses cgroup v1
    unless ``failCgroupV1: false``.
    """
    doc: dict[str, object] = {
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
        # Pods live in our own cgroup subtree, so teardown never touches anyone else's.
        "cgroupRoot": cgroup_root,
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
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
    # Every field above exists in each supported minor (1.33-1.37), checked against
    # k8s.io/kubelet@v0.<minor>.<patch> config/v1beta1/types.go. failCgroupV1 exists since
    # 1.31 but defaults to false up to 1.34 and to true from 1.35 (same file, "Default: true"),
    # so it is only needed, and only written, from 1.35.
    if minor >= (1, 35):
        doc["failCgroupV1"] = False
    path = layout.config / "kubelet.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
