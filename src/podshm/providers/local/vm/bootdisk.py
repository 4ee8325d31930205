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
from pathlib import Path

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


def build(
    output: Path,
    binaries: Mapping[str, Path],
    boot_script: str = DEFAULT_BOOT_SCRIPT,
    shutdown_script: str | None = None,
) -> Path:
    """Write the boot disk to ``output``: ``bin/<name>`` for each binary, the scripts."""
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
        for name, text in scripts.items():
            (staging / name).write_text(text)
            (staging / name).chmod(0o755)
        payload = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
        output.unlink(missing_ok=True)
        make_ext4(staging, output, size_mib(payload), LABEL, output.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output
