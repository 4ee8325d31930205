"""The images a kind cluster starts, built from Go modules into OCI archives, offline.

kubeadm runs its control plane, etcd, kube-proxy and CoreDNS from images named
after the Kubernetes registry, and kind adds its storage provisioner; a node finds
them only if they are already in its containerd, since nothing can be pulled here.
Each image is one shared Debian base layer (a shell, iptables/nftables and
conntrack, which kube-proxy needs and the others tolerate) plus one layer with the
binary, written by podshm's OCI writer under the names kubeadm expects for the
version (``kubeadm config images list``). The registry names are only names.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from podshm.build import components, gobuild
from podshm.build.pins import Pins
from podshm.cache import cache_root, content_tag
from podshm.image import build as image_build
from podshm.image import layers, mmdebstrap, oci
from podshm.providers.kind import components as kind_components

BASE_PACKAGES = ("bash", "iptables", "nftables", "conntrack", "iproute2", "ca-certificates")
"""What kube-proxy execs (iptables-restore, nft, conntrack) and the storage helper's shell."""
BUILDER = "podshm-kind-images/1"


@dataclass(frozen=True)
class ComponentImage:
    """One preloaded image: the name pods ask for and the archive that holds it."""

    ref: str
    archive: Path


def images_dir() -> Path:
    """Where the archives are cached (beside the test image's)."""
    path = cache_root() / "images" / "kind"
    path.mkdir(parents=True, exist_ok=True)
    return path


def kubeadm_images(kubeadm: Path, k8s_version: str) -> dict[str, str]:
    """kubeadm's own list for ``k8s_version``, keyed by short name (``etcd``, ``coredns``...)."""
    out = subprocess.run(
        [str(kubeadm), "config", "images", "list", "--kubernetes-version", k8s_version],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {ref.rsplit("/", 1)[1].split(":", 1)[0]: ref for ref in out}


def coredns_version(kubeadm: Path, k8s_version: str) -> str:
    """The CoreDNS tag kubeadm deploys for this Kubernetes version."""
    return kubeadm_images(kubeadm, k8s_version)["coredns"].rsplit(":", 1)[1]


def _base_layer(log: TextIO) -> layers.Layer:
    """The shared Debian layer, cached by its resolved package set."""
    packages = mmdebstrap.package_set(BASE_PACKAGES)
    key = content_tag({"builder": BUILDER, "packages": packages})
    layer_path = images_dir() / f"base-{key}.layer.tar.gz"
    meta = layer_path.with_suffix(".json")
    if layer_path.is_file() and meta.is_file():
        return layers.Layer(path=layer_path, **json.loads(meta.read_text()))
    print("podshm: kind images: mmdebstrap the component base ...", file=log, flush=True)
    with tempfile.TemporaryDirectory(dir=images_dir(), prefix=".base-") as tmp:
        tar = Path(tmp, "root.tar")
        hook = 'rm -f "$1/etc/resolv.conf" "$1/etc/hostname"'
        mmdebstrap.build_root(tar, BASE_PACKAGES, [hook], lambda m: None)
        layer = layers.layer_from_tar(
            tar, Path(tmp, "layer.tar.gz"), exclude=lambda n: n.startswith("dev/")
        )
        Path(tmp, "layer.tar.gz").rename(layer_path)
    meta.write_text(
        json.dumps({"digest": layer.digest, "diff_id": layer.diff_id, "size": layer.size})
    )
    return layers.Layer(
        path=layer_path, digest=layer.digest, diff_id=layer.diff_id, size=layer.size
    )


def _binary_image(
    ref: str, base: layers.Layer, files: dict[str, Path], config: oci.ImageConfig
) -> ComponentImage:
    """``base`` plus one layer with ``files`` (image path -> host binary); cached by content."""
    inputs = {
        "builder": BUILDER,
        "ref": ref,
        "base": base.digest,
        "files": {p: layers.sha256_file(src) for p, src in sorted(files.items())},
        "config": repr(config),
    }
    name = ref.rsplit("/", 1)[1].replace(":", "-")
    archive = images_dir() / f"{name}-{content_tag(inputs)}.oci.tar"
    if archive.is_file():
        return ComponentImage(ref, archive)
    with tempfile.TemporaryDirectory(dir=images_dir(), prefix=".img-") as tmp:
        entries = [layers.FileEntry(p, src.read_bytes(), mode=0o755) for p, src in files.items()]
        layer = layers.layer_from_entries(entries, Path(tmp, "layer.tar.gz"))
        oci.write_oci_archive(archive, ref, [base, layer], config, history=f"{BUILDER}: {name}")
    return ComponentImage(ref, archive)


def build_all(pins: Pins, log: TextIO = sys.stderr) -> list[ComponentImage]:
    """Build (or reuse) every image kubeadm and kind's storage start at ``pins``."""
    kubeadm_bin = gobuild.build(kind_components.kubeadm(pins), log=log)
    k8s_bin = gobuild.build(gobuild.kubernetes_from_module(pins), log=log)
    wanted = kubeadm_images(kubeadm_bin / "kubeadm", pins.kubernetes)
    etcd_bin = gobuild.build(components.etcd(pins.etcd), log=log)
    coredns_bin = gobuild.build(
        kind_components.coredns(wanted["coredns"].rsplit(":", 1)[1]), log=log
    )
    lpp_bin = gobuild.build(kind_components.local_path_provisioner(), log=log)
    base = _base_layer(log)
    plain = oci.ImageConfig()
    images: list[ComponentImage] = []
    print("podshm: kind images: writing OCI archives ...", file=log, flush=True)
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        files = {f"usr/local/bin/{name}": k8s_bin / name}
        images.append(_binary_image(wanted[name], base, files, plain))
    proxy = {"usr/local/bin/kube-proxy": kubeadm_bin / "kube-proxy"}
    images.append(_binary_image(wanted["kube-proxy"], base, proxy, plain))
    etcd = {"usr/local/bin/etcd": etcd_bin / "etcd"}
    images.append(_binary_image(wanted["etcd"], base, etcd, plain))
    dns = oci.ImageConfig(entrypoint=("/coredns",))
    images.append(_binary_image(wanted["coredns"], base, {"coredns": coredns_bin / "coredns"}, dns))
    lpp = {"usr/local/bin/local-path-provisioner": lpp_bin / "local-path-provisioner"}
    lpp_config = oci.ImageConfig(entrypoint=("/usr/local/bin/local-path-provisioner",))
    provisioner_ref, helper_ref = kind_components.storage_images()
    images.append(_binary_image(provisioner_ref, base, lpp, lpp_config))
    images.append(_binary_image(helper_ref, base, {}, plain))
    pause = image_build.build_pause_image(ref=wanted["pause"])
    images.append(ComponentImage(pause.ref, pause.archive_path))
    return images
