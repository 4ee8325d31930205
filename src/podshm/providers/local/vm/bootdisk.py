"""The per-boot disk: podshm's own builds (containerd, runc, the kubelet...) and the boot
script, as a small read-only ext4 image the guest mounts at ``/opt/podshm``.

Why a disk image and not a 9p share or a copy into the root: Debian's cloud kernel has no 9p
module; a virtio block device needs only the drivers the root disk already uses, reads at
block speed under TCG (a copy over the agent's JSON channel would be base64 through a
serial port) and cannot change under the guest's feet; the root disk stays free of anything
that follows the pins. Built afresh for each boot in the VM's state directory (a second or
two for 200 MB) and removed at stop.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from podshm.errors import PodshmError
from podshm.providers.local.vm import guestinit
from podshm.providers.local.vm.disk import make_ext4

LABEL = "podshm-boot"
DEFAULT_BOOT_SCRIPT = """#!/bin/sh
# podshm VM node: nothing to start on this boot (the host starts what it needs).
exit 0
"""


def size_mib(payload_bytes: int) -> int:
    """Room for the payload, ext4's own structures and a margin (pure)."""
    return max(16, (payload_bytes * 5 // 4) // (1 << 20) + 16)


def _place(source: Path, dest: Path) -> None:
    """Hard-link when the cache and the state share a file system (no copy), else copy."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)
    dest.chmod(0o755)


File = tuple[bytes | Path, int]
"""A file for the boot disk: its content (or a file to place) and its mode."""


def build(
    output: Path,
    binaries: Mapping[str, Path],
    boot_script: str = DEFAULT_BOOT_SCRIPT,
    shutdown_script: str | None = None,
    files: Mapping[str, File] | None = None,
) -> Path:
    """Write the boot disk to ``output``: ``bin/<name>`` for each binary, the scripts, and
    ``files`` at their relative paths (configurations, keys, image archives)."""
    missing = sorted(name for name, path in binaries.items() if not path.is_file())
    if missing:
        raise PodshmError(
            f"the VM's boot disk lacks {', '.join(missing)}: not built",
            "build the pinned components first (podshm.build.gobuild.build)",
        )
    staging = output.with_name(output.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "bin").mkdir(parents=True)
    try:
        for name, source in sorted(binaries.items()):
            _place(source, staging / "bin" / name)
        scripts = {guestinit.BOOT_SCRIPT: boot_script}
        if shutdown_script is not None:
            scripts[guestinit.SHUTDOWN_SCRIPT] = shutdown_script
        for relative, (content, mode) in sorted((files or {}).items()):
            if PurePosixPath(relative).is_absolute() or ".." in PurePosixPath(relative).parts:
                raise ValueError(f"boot disk file {relative!r} must be below the disk's root")
            dest = staging / relative
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                shutil.copyfile(content, dest)  # not a link: its mode is the disk's own
            else:
                dest.write_bytes(content)
            dest.chmod(mode)
        for name, text in scripts.items():
            (staging / name).write_text(text)
            (staging / name).chmod(0o755)
        payload = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
        output.unlink(missing_ok=True)
        make_ext4(staging, output, size_mib(payload), LABEL, output.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output
