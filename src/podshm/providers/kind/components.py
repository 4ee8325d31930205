"""What a kind cluster is built from: each Go module, its pinned version and binaries.

kind's own release images are pulled from a registry; nothing can be pulled here, so
every binary that a kind node or one of its preloaded images carries is built from
its Go module with the same cached builder as the local cluster
(``podshm.build.gobuild``), pinned by a committed wrapper ``go.mod``/``go.sum`` under
``podshm/data/gomod/<name>/<version>/``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from podshm.build import gobuild
from podshm.build.components import GoComponent
from podshm.build.pins import Pins

# Newest kind release; its default node image is Kubernetes v1.37.0
# (pkg/apis/config/defaults/image.go), so it knows 1.37's kubeadm config.
KIND_VERSION = "v0.33.0"
# crictl of the Kubernetes minor the default node runs (kind's base image uses v1.36.0).
CRICTL_VERSION = "v1.37.0"
# The CNI plugins kind's base image ships (images/base/Dockerfile: CNI_PLUGINS_VERSION).
CNI_PLUGINS_VERSION = "v1.9.1"
# The only local-path-provisioner release the Go module proxy serves.
LOCAL_PATH_PROVISIONER_VERSION = "v0.0.30"

KUBEADM_BINARIES = ("kubeadm", "kube-proxy")
"""Built beside the local cluster's binaries (a separate cache key, so that adding them
never invalidates the binaries a running local cluster uses)."""


def kind_source() -> Path:
    """The kind module's source in the Go module cache (its base image files live there)."""
    return Path(gobuild.module_info("sigs.k8s.io/kind", KIND_VERSION)["Dir"])


def go_string_const(source: str, name: str) -> str:
    """The value of a Go string constant made of raw strings joined with other constants."""
    consts = dict(re.findall(r'^const (\w+) = "([^"]*)"', source, re.M))
    start = re.search(rf"^const {name} = ", source, re.M)
    if not start:
        raise ValueError(f"no constant {name}")
    token = re.compile(r"\s*(?:`([^`]*)`|\"([^\"]*)\"|(\w+))\s*(\+)?")
    pos, out = start.end(), []
    while True:
        match = token.match(source, pos)
        if not match:
            raise ValueError(f"cannot read constant {name} at offset {pos}")
        raw, quoted, ident = match.group(1), match.group(2), match.group(3)
        out.append(raw if raw is not None else quoted if quoted is not None else consts[ident])
        pos = match.end()
        if not match.group(4):
            return "".join(out)


def storage_images() -> tuple[str, str]:
    """The provisioner and helper image names kind's storage manifest uses (read from kind)."""
    source = (kind_source() / "pkg/build/nodeimage/const_storage.go").read_text()
    return (
        go_string_const(source, "storageProvisionerImage"),
        go_string_const(source, "storageHelperImage"),
    )


def kind(version: str = KIND_VERSION) -> GoComponent:
    """The kind CLI (static, pure Go)."""
    return GoComponent(
        name="kind",
        module="sigs.k8s.io/kind",
        version=version,
        packages={"kind": "sigs.k8s.io/kind"},
    )


def crictl(version: str = CRICTL_VERSION) -> GoComponent:
    """crictl, which kind runs on each node (``crictl images``) and users debug with."""
    mod = "sigs.k8s.io/cri-tools"
    return GoComponent(
        name="crictl",
        module=mod,
        version=version,
        packages={"crictl": f"{mod}/cmd/crictl"},
        ldflags=(f"-X {mod}/pkg/version.Version={version}",),
    )


def cni_plugins(version: str = CNI_PLUGINS_VERSION) -> GoComponent:
    """The CNI plugins the node image carries in /opt/cni/bin (ptp is the one pods use)."""
    mod = "github.com/containernetworking/plugins"
    return GoComponent(
        name="cni-plugins",
        module=mod,
        version=version,
        packages={
            "host-local": f"{mod}/plugins/ipam/host-local",
            "loopback": f"{mod}/plugins/main/loopback",
            "ptp": f"{mod}/plugins/main/ptp",
            "portmap": f"{mod}/plugins/meta/portmap",
            "bridge": f"{mod}/plugins/main/bridge",
        },
    )


def coredns(version: str) -> GoComponent:
    """CoreDNS at the version kubeadm deploys (its ``CoreDNSVersion`` constant)."""
    return GoComponent(
        name="coredns",
        module="github.com/coredns/coredns",
        version=version,
        packages={"coredns": "github.com/coredns/coredns"},
    )


def local_path_provisioner(version: str = LOCAL_PATH_PROVISIONER_VERSION) -> GoComponent:
    """kind's default StorageClass provisioner."""
    mod = "github.com/rancher/local-path-provisioner"
    return GoComponent(
        name="local-path-provisioner",
        module=mod,
        version=version,
        packages={"local-path-provisioner": mod},
        ldflags=(f"-X main.VERSION={version}",),
    )


def kubeadm(pins: Pins) -> GoComponent:
    """kubeadm and kube-proxy from ``k8s.io/kubernetes``, stamped like the other binaries."""
    base = gobuild.kubernetes_from_module(pins)
    return dataclasses.replace(
        base,
        name="kubernetes-kind",
        packages={b: f"k8s.io/kubernetes/cmd/{b}" for b in KUBEADM_BINARIES},
    )
