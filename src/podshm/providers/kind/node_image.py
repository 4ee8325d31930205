"""kind's node image, assembled offline the way kind's own Dockerfile and builder do.

kind's release node images are pulled from a registry, which does not exist here,
so podshm does both halves of kind's recipe itself:

1. the *base image* (kind's ``images/base/Dockerfile``): a Debian root with systemd
   made by mmdebstrap, kind's own files (entrypoint, containerd config, kubelet
   units) copied from the kind module in the Go module cache, and containerd, runc,
   crictl and the CNI plugins that podshm builds from their Go modules;
2. the *node image* (kind's ``pkg/build/nodeimage``): kubeadm, kubelet and kubectl in
   /usr/bin, ``/kind/version``, the storage manifest, and the preloaded images imported
   into the node's containerd (``ctr images import --no-unpack``) in a build
   container that is then committed, exactly as ``kind build node-image`` does.

The committed image is saved to podshm's cache, so a later ``up`` only loads it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from podshm.build import components, gobuild
from podshm.build.pins import Pins
from podshm.cache import cache_root, content_tag
from podshm.image import layers, mmdebstrap, oci
from podshm.providers.kind import components as kind_components
from podshm.providers.kind import docker_engine
from podshm.providers.kind import images as kind_images

NODE_PACKAGES = (
    "systemd",
    "conntrack",
    "iptables",
    "nftables",
    "iproute2",
    "ethtool",
    "util-linux",
    "mount",
    "kmod",
    "libseccomp2",
    "pigz",
    "e2fsprogs",
    "bash",
    "ca-certificates",
    "jq",
    "procps",
    "socat",
)
"""kind's base package list (images/base/Dockerfile) without curl, NFS, iSCSI and FUSE."""
BUILDER = "podshm-kind-node/1"
NODE_REPO = "podshm.local/kind-node"
ENTRYPOINT = ("/usr/local/bin/entrypoint", "/sbin/init")

BASE_SCRIPT = """\
set -eu
r="$1"
rm -f "$r/etc/resolv.conf" "$r/etc/hostname"
find "$r/usr/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
rm -f "$r"/usr/lib/systemd/system/multi-user.target.wants/* "$r"/etc/systemd/system/*.wants/*
rm -f "$r"/usr/lib/systemd/system/local-fs.target.wants/*
rm -f "$r"/usr/lib/systemd/system/sockets.target.wants/*udev*
rm -f "$r"/usr/lib/systemd/system/sockets.target.wants/*initctl*
rm -f "$r"/usr/lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >> "$r/etc/systemd/journald.conf"
ln -sf /usr/lib/systemd/systemd "$r/usr/sbin/init"
chroot "$r" systemctl enable kubelet.service containerd.service undo-mount-hacks.service
chroot "$r" systemctl mask systemd-binfmt.service
mkdir -p "$r/etc/kubernetes/manifests"
chroot "$r" containerd --version
chroot "$r" runc --version
"""
"""The RUN steps of kind's base Dockerfile, run by mmdebstrap on the finished root."""


def storage_manifest(kind_dir: Path) -> str:
    """kind's default StorageClass manifest, as its node image builder writes it."""
    source = (kind_dir / "pkg/build/nodeimage/const_storage.go").read_text()
    return kind_components.go_string_const(source, "defaultStorageManifest")


def containerd_config(kind_dir: Path, pause_ref: str) -> str:
    """kind's containerd config with the sandbox image podshm builds."""
    text = (kind_dir / "images/base/files/etc/containerd/config.toml").read_text()
    return re.sub(r'sandbox_image = "[^"]*"', f'sandbox_image = "{pause_ref}"', text)


def cri_base_spec(ctr: Path) -> str:
    """``ctr oci spec`` with kind's product-files hook and without rlimits (base Dockerfile)."""
    spec = json.loads(
        subprocess.run([str(ctr), "oci", "spec"], capture_output=True, check=True).stdout
    )
    hooks = spec.setdefault("hooks", {}).setdefault("createContainer", [])
    hooks.append({"path": "/kind/bin/mount-product-files.sh"})
    spec.get("process", {}).pop("rlimits", None)
    return json.dumps(spec, indent=2) + "\n"


def _copy(src: Path, dest: Path, mode: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    dest.chmod(mode)


def stage(staging: Path, pins: Pins, pause_ref: str, log: TextIO) -> dict[str, str]:
    """Lay out every file the node adds to Debian; returns name -> sha256 (the cache key)."""
    kind_dir = kind_components.kind_source()
    files = kind_dir / "images/base/files"
    for src in sorted(p for p in files.rglob("*") if p.is_file()):
        rel = src.relative_to(files)
        executable = rel.parts[:3] == ("usr", "local", "bin") or rel.parts[:2] == ("kind", "bin")
        _copy(src, staging / rel, 0o755 if executable else 0o644)
    bins = {
        "containerd": gobuild.build(components.containerd(pins.containerd), log=log),
        "runc": gobuild.build(components.runc(pins.runc), log=log),
        "crictl": gobuild.build(kind_components.crictl(), log=log),
        "cni": gobuild.build(kind_components.cni_plugins(), log=log),
        "kubeadm": gobuild.build(kind_components.kubeadm(pins), log=log),
        "k8s": gobuild.build(gobuild.kubernetes_from_module(pins), log=log),
    }
    for name in ("containerd", "ctr", "containerd-shim-runc-v2"):
        _copy(bins["containerd"] / name, staging / "usr/local/bin" / name, 0o755)
    _copy(bins["runc"] / "runc", staging / "usr/local/sbin/runc", 0o755)
    _copy(bins["crictl"] / "crictl", staging / "usr/local/bin/crictl", 0o755)
    for plugin in kind_components.cni_plugins().packages:
        _copy(bins["cni"] / plugin, staging / "opt/cni/bin" / plugin, 0o755)
    _copy(bins["kubeadm"] / "kubeadm", staging / "usr/bin/kubeadm", 0o755)
    for name in ("kubelet", "kubectl"):
        _copy(bins["k8s"] / name, staging / "usr/bin" / name, 0o755)
    (staging / "kind/version").write_text(pins.kubernetes)
    (staging / "kind/manifests").mkdir(parents=True, exist_ok=True)
    (staging / "kind/manifests/default-storage.yaml").write_text(storage_manifest(kind_dir))
    (staging / "etc/containerd/config.toml").write_text(containerd_config(kind_dir, pause_ref))
    (staging / "etc/containerd/cri-base.json").write_text(cri_base_spec(bins["containerd"] / "ctr"))
    return {
        str(p.relative_to(staging)): layers.sha256_file(p)
        for p in sorted(staging.rglob("*"))
        if p.is_file()
    }


def _docker(*args: str, stdin: Path | None = None) -> str:
    """Run docker against podshm's engine; raise with its stderr on failure."""
    with open(stdin, "rb") if stdin else open("/dev/null", "rb") as fh:
        proc = subprocess.run(
            ["docker", *args], env=docker_engine.env(), stdin=fh, capture_output=True
        )
    if proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])} failed: {proc.stderr.decode().strip()}")
    return proc.stdout.decode()


def _say(log: TextIO, started: float, msg: str) -> None:
    print(
        f"podshm: kind node image: {msg} ({time.monotonic() - started:.0f}s)", file=log, flush=True
    )


def build(pins: Pins, log: TextIO = sys.stderr) -> str:
    """Make sure podshm's engine has the node image for ``pins``; return its name.

    The engine must be running. Cold: build everything and save the committed image
    to the cache; warm: ``docker load`` the saved archive (or nothing, if loaded).
    """
    started = time.monotonic()
    images = kind_images.build_all(pins, log)
    pause_ref = next(i.ref for i in images if "/pause:" in i.ref)
    out_dir = cache_root() / "images" / "kind"
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".node-") as tmp:
        staging = Path(tmp, "staging")
        staged = stage(staging, pins, pause_ref, log)
        inputs = {
            "builder": BUILDER,
            "k8s": pins.kubernetes,
            "staged": staged,
            "packages": mmdebstrap.package_set(NODE_PACKAGES),
            "images": sorted(layers.sha256_file(i.archive) for i in images),
        }
        ref = f"{NODE_REPO}:{pins.kubernetes}-{content_tag(inputs)}"
        saved = out_dir / f"kind-node-{ref.rsplit(':', 1)[1]}.docker.tar"
        if _docker("images", "-q", ref).strip():
            return ref
        if saved.is_file():
            _say(log, started, f"docker load {saved.name}")
            _docker("load", "--input", str(saved))
            return ref
        _say(log, started, "mmdebstrap the node root (systemd, iptables, ...)")
        root_tar = Path(tmp, "root.tar")
        hooks = [mmdebstrap.sync_in(staging), BASE_SCRIPT]
        mmdebstrap.build_root(root_tar, NODE_PACKAGES, hooks, lambda m: None)
        _say(log, started, "writing the base layer")
        layer = layers.layer_from_tar(
            root_tar, Path(tmp, "layer.tar.gz"), lambda n: n.startswith("dev/")
        )
        root_tar.unlink()
        base_ref = f"{NODE_REPO}-base:{ref.rsplit(':', 1)[1]}"
        config = oci.ImageConfig(
            env=("container=docker", oci.ImageConfig().env[0]), entrypoint=ENTRYPOINT
        )
        base = oci.write_oci_archive(Path(tmp, "base.oci.tar"), base_ref, [layer], config, BUILDER)
        _say(log, started, "docker load the base image")
        _docker("load", "--input", str(base.path))
        _preload_and_commit(base_ref, ref, images, log, started)
        _docker("rmi", base_ref)
        _say(log, started, "docker save (cached for the next up)")
        _docker("save", "--output", str(saved) + ".tmp", ref)
        Path(str(saved) + ".tmp").rename(saved)
        return ref


def _preload_and_commit(
    base_ref: str, ref: str, images: list[kind_images.ComponentImage], log: TextIO, started: float
) -> None:
    """kind's nodeimage step: containerd in a build container imports each archive, then commit."""
    name = f"podshm-kind-build-{int(time.time())}"
    _docker(
        "run",
        "-d",
        "--name",
        name,
        "--entrypoint=sleep",
        "--security-opt",
        "seccomp=unconfined",
        base_ref,
        "infinity",
    )
    try:
        _docker("exec", name, "bash", "-c", "nohup containerd > /dev/null 2>&1 &")
        _docker(
            "exec",
            name,
            "bash",
            "-c",
            "for i in $(seq 50); do [ -S /run/containerd/containerd.sock ] && break; "
            "sleep 0.2; done; ctr info > /dev/null",
        )
        for image in images:
            _say(log, started, f"preload {image.ref}")
            _docker(
                "exec",
                "-i",
                name,
                "ctr",
                "--namespace=k8s.io",
                "images",
                "import",
                "--label=io.cri-containerd.pinned=pinned",
                "--all-platforms",
                "--no-unpack",
                "--digests",
                "-",
                stdin=image.archive,
            )
        _docker("exec", name, "pkill", "containerd")
        time.sleep(1)
        _say(log, started, f"docker commit {ref}")
        _docker("commit", "--change", f"ENTRYPOINT {json.dumps(list(ENTRYPOINT))}", name, ref)
    finally:
        subprocess.run(
            ["docker", "rm", "-f", "-v", name],
            env=docker_engine.env(),
            capture_output=True,
            check=False,
        )
