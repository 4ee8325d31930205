"""What the machine needs before a VM node is asked for: checked by ``up``'s validation, so a
missing tool is one error before anything is built or started."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from podshm.errors import PodshmError

TOOLS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "mkfs.ext4": "e2fsprogs",
    "socat": "socat",
    "mmdebstrap": "mmdebstrap",
    "apt-get": "apt",
}
"""Program -> the Debian package that has it (scripts/bootstrap.sh installs them)."""


def preflight() -> None:
    """Root, /dev/net/tun, and the programs of :data:`TOOLS`."""
    if os.geteuid() != 0:
        raise PodshmError("a VM node needs root (its bridge, tap and forwards)", "run as root")
    if not Path("/dev/net/tun").exists():
        raise PodshmError(
            "/dev/net/tun is missing: the VM's network is a tap device", "modprobe tun"
        )
    missing = sorted(name for name in TOOLS if shutil.which(name) is None)
    if missing:
        packages = " ".join(sorted({TOOLS[name] for name in missing}))
        raise PodshmError(
            f"a VM node needs {', '.join(missing)}, not found on PATH",
            f"apt-get install {packages} (scripts/bootstrap.sh does)",
        )
