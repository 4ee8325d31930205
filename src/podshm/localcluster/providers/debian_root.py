"""Debian bookworm root filesystems for kind's node and component images, by mmdebstrap.

The test image's builder (``podshm.image.rootfs``) makes one fixed root; kind needs
two more (a node with systemd, and a small base with iptables and a shell for the
images of kube-proxy, etcd, the control plane and the storage helper). Both come
from this machine's own apt sources, like the test image, so no mirror is named here.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from podshm.errors import PodshmError
from podshm.image import rootfs


def mmdebstrap_command(
    sources_file: Path,
    output: Path,
    include: Sequence[str],
    hooks: Sequence[str] = (),
    variant: str = "essential",
) -> list[str]:
    """The mmdebstrap invocation (pure, so unit tests can read it)."""
    cmd = ["mmdebstrap", f"--variant={variant}", "--mode=auto", "--format=tar"]
    cmd.append("--include=" + ",".join(include))
    if rootfs.MERGED_USR_HOOKS.is_dir():
        cmd.append(f"--hook-dir={rootfs.MERGED_USR_HOOKS}")
    cmd += [f"--dpkgopt={opt}" for opt in rootfs.DPKG_OPTIONS]
    cmd += [f"--customize-hook={hook}" for hook in hooks]
    return [*cmd, rootfs.SUITE, str(output), str(sources_file)]


def sync_in(staging: Path, target: str = "/") -> str:
    """A customize hook that copies ``staging`` into the root at ``target``."""
    return f"sync-in {shlex.quote(str(staging))} {shlex.quote(target)}"


def build(
    output: Path,
    include: Sequence[str],
    hooks: Sequence[str] = (),
    progress: Callable[[str], None] = lambda msg: None,
) -> None:
    """Write a root filesystem tarball to ``output``; mmdebstrap's I:/W:/E: lines are progress."""
    if shutil.which("mmdebstrap") is None:
        raise PodshmError("mmdebstrap not found on PATH", "run scripts/install-image-deps.sh")
    rootfs.run_mmdebstrap(
        rootfs.host_apt_sources(),
        lambda sources: mmdebstrap_command(sources, output, include, hooks),
        output,
        progress,
    )


def package_set(include: Sequence[str]) -> list[str]:
    """``name=version`` of what ``include`` resolves to: the cache key of a root."""
    return rootfs.resolve_package_set(include)
