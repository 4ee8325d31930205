"""runc, the default: the version pinned with the Kubernetes minor, built from its module."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

from podshm.providers.local.runtimes.base import runtime_class, toml_table


class Runc:
    """containerd's runc v2 shim with the pinned runc (cgroupfs: PID 1 is not systemd)."""

    name = "runc"
    summary = "runc (pinned per Kubernetes minor, built from its Go module); the default"

    def preflight(self) -> None:
        """Nothing beyond the cluster's own preflight."""

    def install(self, binaries: dict[str, Path], log: TextIO) -> dict[str, Path]:
        """Built with the cluster's components (``versions.go_components``)."""
        return {}

    def containerd_table(self, binaries: dict[str, Path], root: Path, config_dir: Path) -> str:
        """The runc v2 shim with our runc and its state under podshm's."""
        return toml_table(
            self.name,
            "io.containerd.runc.v2",
            {"BinaryName": str(binaries["runc"]), "Root": str(root), "SystemdCgroup": False},
        )

    def runtime_class(self) -> dict[str, Any]:
        """RuntimeClass ``runc``, no overhead."""
        return runtime_class(self.name)


RUNTIME = Runc()
