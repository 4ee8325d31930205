"""The guest's kernel: a Debian kernel package's vmlinuz and the modules a kubelet node needs,
unpacked once into podshm's cache, keyed by the package's version.

``--vm-kernel`` names the package (default ``linux-image-cloud-amd64``, Debian's kernel for
virtual machines); a metapackage is followed to the ``linux-image-<release>`` package it
depends on. Debian builds virtio, overlayfs, bridge, veth and netfilter as modules: the ones
the guest may need (:data:`WANTED`) and everything they depend on are kept, with the index
files of ``depmod`` so busybox's and kmod's ``modprobe`` both find them. The rest (hardware
drivers, file systems a node never mounts) stays out of the initramfs that carries them.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from podshm.cache import cache_root
from podshm.errors import PodshmError
from podshm.providers.local.vm import debs

DEFAULT_PACKAGE = "linux-image-cloud-amd64"
STAMP = "kernel.json"
LAYOUT_VERSION = 1
"""Bumped when what is kept changes, so an older cache entry is unpacked again."""

WANTED = (
    # the disks, the NIC, the agent's port and the entropy source
    "kernel/drivers/virtio/*",
    "kernel/drivers/block/virtio_blk.ko",
    "kernel/drivers/net/virtio_net.ko",
    "kernel/drivers/char/virtio_console.ko",
    "kernel/drivers/char/hw_random/virtio-rng.ko",
    # container file systems and pod networking (CNI plugins, kube-proxy, network policies)
    "kernel/fs/overlayfs/*",
    "kernel/drivers/net/veth.ko",
    "kernel/drivers/net/dummy.ko",
    "kernel/drivers/net/macvlan.ko",
    "kernel/drivers/net/ipvlan/*",
    "kernel/drivers/net/vxlan/*",
    "kernel/drivers/net/tun.ko",
    "kernel/net/bridge/*",
    "kernel/net/netfilter/*",
    "kernel/net/ipv4/*",
    "kernel/net/ipv6/*",
    "kernel/net/sched/*",
    "kernel/net/8021q/*",
    "kernel/net/802/*",
    "kernel/net/llc/*",
    "kernel/net/vmw_vsock/*",
    # what netfilter and overlayfs load on demand (checksums, hashes)
    "kernel/lib/*",
    "kernel/crypto/*",
)
"""Module paths (fnmatch, relative to ``lib/modules/<release>``; ``*`` crosses directories)."""
ROOT_MODULES = ("virtio_pci", "virtio_blk")
"""What the initramfs loads before it can mount the root disk (ext4 is built in)."""
BOOT_MODULES = (
    "virtio_net",
    "virtio_console",
    "virtio_rng",
    "overlay",
    "br_netfilter",
    "veth",
    "bridge",
    "nf_conntrack",
    "ip_tables",
    "iptable_nat",
    "iptable_filter",
    "nft_compat",
    "nf_tables",
)
"""What the guest loads at boot: its NIC, the agent's port, and what containerd, runc and the
kubelet expect to find loaded (kubeadm's preflight list: overlay, br_netfilter)."""


@dataclass(frozen=True)
class Kernel:
    """A kernel in the cache."""

    package: str
    version: str
    """The named package's version (the cache key)."""
    release: str
    """``uname -r`` in the guest (``6.1.0-57-cloud-amd64``)."""
    directory: Path

    @property
    def vmlinuz(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def modules(self) -> Path:
        """``lib/modules/<release>`` with the kept modules and depmod's index files."""
        return self.directory / "lib" / "modules" / self.release


def image_package(wanted: debs.Candidate) -> str:
    """The package that ships vmlinuz: ``wanted`` itself, or the ``linux-image-<release>``
    package a metapackage depends on (pure)."""
    if re.match(r"linux-image-\d", wanted.package):
        return wanted.package
    for dep in wanted.depends:
        if re.match(r"linux-image-\d", dep):
            return dep
    raise PodshmError(
        f"{wanted.package} {wanted.version} is no kernel package: it depends on no "
        "linux-image-<release> package",
        f"name a Debian kernel package for the VM (default {DEFAULT_PACKAGE})",
    )


def parse_modules_dep(text: str) -> dict[str, tuple[str, ...]]:
    """depmod's ``modules.dep``: module path -> the paths it needs loaded first (pure)."""
    deps: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        if ":" in line:
            module, _, needs = line.partition(":")
            deps[module.strip()] = tuple(needs.split())
    return deps


def select(deps: Mapping[str, Iterable[str]], patterns: Iterable[str] = WANTED) -> list[str]:
    """Modules matching ``patterns`` and everything they depend on, sorted (pure)."""
    patterns = tuple(patterns)
    todo = [m for m in deps if any(fnmatch.fnmatchcase(m, p) for p in patterns)]
    kept: set[str] = set()
    while todo:
        module = todo.pop()
        if module not in kept:
            kept.add(module)
            todo.extend(deps.get(module, ()))
    return sorted(kept)


def _depmod(base: Path, release: str) -> None:
    if shutil.which("depmod") is None:
        raise PodshmError(
            "depmod not found: the VM's kernel modules need its index files",
            "apt-get install kmod (scripts/bootstrap.sh)",
        )
    proc = subprocess.run(
        ["depmod", "-b", str(base), release], capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        raise PodshmError(
            f"depmod -b {base} {release} failed: {proc.stderr.strip()}",
            "the kernel package may be damaged: remove it from the cache and try again",
        )


def _unpacked_modules(root: Path) -> tuple[Path, str]:
    """The one ``lib/modules/<release>`` of an unpacked kernel package (merged /usr or not)."""
    found = [p for base in ("lib", "usr/lib") for p in sorted((root / base / "modules").glob("*"))]
    if len(found) != 1 or not (root / "boot" / f"vmlinuz-{found[0].name}").is_file():
        raise PodshmError(
            f"the unpacked kernel package has {len(found)} module trees, or no matching vmlinuz",
            "name a Debian linux-image package that ships one kernel",
        )
    return found[0], found[0].name


def _keep(unpacked: Path, out: Path) -> str:
    """Copy vmlinuz and the selected modules of an unpacked package to ``out``; the release."""
    tree, release = _unpacked_modules(unpacked)
    _depmod(unpacked if tree.parent.parent.name == "lib" else unpacked / "usr", release)
    kept = select(parse_modules_dep((tree / "modules.dep").read_text()))
    target = out / "lib" / "modules" / release
    for module in kept:
        (target / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tree / module, target / module)
    for name in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
        if (tree / name).is_file():
            shutil.copyfile(tree / name, target / name)
    _depmod(out, release)
    shutil.copyfile(unpacked / "boot" / f"vmlinuz-{release}", out / "vmlinuz")
    return release


def cached(package: str, version: str) -> Kernel | None:
    """The cache's kernel for ``package`` at ``version``, if it was unpacked completely."""
    directory = cache_root() / "vm" / "kernel" / f"{package}_{version}"
    try:
        stamp = json.loads((directory / STAMP).read_text())
    except (OSError, ValueError):
        return None
    if stamp.get("layout") != LAYOUT_VERSION:
        return None
    kernel = Kernel(package, version, stamp["release"], directory)
    return kernel if kernel.vmlinuz.is_file() and kernel.modules.is_dir() else None


def check_package_name(package: str) -> None:
    """Refuse a ``--vm-kernel`` that is not a Debian kernel image package apt can install,
    before anything is built."""
    if not package.startswith("linux-image-"):
        raise PodshmError(
            f"{package!r} is not a Debian kernel image package",
            f"pass --vm-kernel a linux-image-* package, e.g. {DEFAULT_PACKAGE}",
        )
    debs.candidate(package)


def fetch(package: str = DEFAULT_PACKAGE) -> Kernel:
    """The kernel of ``package`` (apt's candidate version) in the cache; unpacked if missing."""
    wanted = debs.candidate(package)
    found = cached(wanted.package, wanted.version)
    if found is not None:
        return found
    image = debs.candidate(image_package(wanted))
    parent = cache_root() / "vm" / "kernel"
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / f"{wanted.package}_{wanted.version}"
    with tempfile.TemporaryDirectory(dir=parent, prefix=".unpack-") as tmp:
        unpacked = debs.unpack(image, Path(tmp, "deb"))
        out = Path(tmp, "out")
        out.mkdir()
        release = _keep(unpacked, out)
        stamp = {
            "layout": LAYOUT_VERSION,
            "package": wanted.package,
            "version": wanted.version,
            "image_package": image.package,
            "image_version": image.version,
            "release": release,
        }
        (out / STAMP).write_text(json.dumps(stamp, indent=1) + "\n")
        shutil.rmtree(final, ignore_errors=True)
        out.rename(final)
    kernel = cached(wanted.package, wanted.version)
    assert kernel is not None
    return kernel
