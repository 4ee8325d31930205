"""Where one VM keeps its per-boot state: everything here is removed at stop but the logs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from podshm.providers.local.layout import Layout

DEFAULT_ROOT = Path("/var/lib/podshm-vm")
"""Beside, not inside, the local cluster's state: ``podshm cluster down`` never sees it."""
QEMU = "qemu"
"""The daemon name of the QEMU process (its pidfile and log, as the cluster's daemons)."""


@dataclass(frozen=True)
class VmLayout:
    """Every path of one VM's state, all below ``root``."""

    root: Path = DEFAULT_ROOT

    @property
    def daemons(self) -> Layout:
        """The pidfiles and logs of QEMU and the forwards, kept by ``daemons`` (PID and start
        time, so a reused PID is never signalled)."""
        return Layout(self.root)

    @property
    def overlay(self) -> Path:
        """This boot's writes to the root disk (qcow2 backed by the cached image)."""
        return self.root / "root.qcow2"

    @property
    def boot_disk(self) -> Path:
        return self.root / "boot.ext4"

    @property
    def agent_socket(self) -> Path:
        """The host end of the guest agent's virtio-serial port."""
        return self.root / "agent.sock"

    @property
    def console_log(self) -> Path:
        """The guest's serial console."""
        return self.daemons.logs / "console.log"

    def data_overlay(self, index: int) -> Path:
        """This boot's writes to data disk ``index`` (qcow2 over a cached image)."""
        return self.root / f"data-{index}.qcow2"

    def per_boot(self) -> list[Path]:
        """Files of one boot (not the logs): what stop removes and leftovers reports."""
        data = sorted(self.root.glob("data-*.qcow2")) if self.root.is_dir() else []
        return [self.overlay, self.boot_disk, self.agent_socket, *data]
