"""crun, the C runtime (Red Hat's default), from the distribution's package."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, TextIO

from podshm.errors import PodshmError
from podshm.localcluster.runtimes.base import runtime_class, toml_table

PROGRAM = "crun"


class Crun:
    """containerd's runc v2 shim running ``crun`` (it speaks runc's command line)."""

    name = "crun"
    summary = "crun (the distribution's package: apt-get install crun)"

    def _path(self) -> str | None:
        return shutil.which(PROGRAM)

    def preflight(self) -> None:
        """crun must be installed."""
        if self._path() is None:
            raise PodshmError(
                "crun is not installed (runtime 'crun' of --runtimes)",
                "apt-get install crun (scripts/bootstrap.sh installs it), or drop crun",
            )

    def install(self, binaries: dict[str, Path], log: TextIO) -> dict[str, Path]:
        """The packaged binary."""
        self.preflight()
        return {PROGRAM: Path(str(self._path()))}

    def containerd_table(self, binaries: dict[str, Path], root: Path, config_dir: Path) -> str:
        """The runc v2 shim with ``BinaryName`` crun and its state under podshm's."""
        return toml_table(
            self.name,
            "io.containerd.runc.v2",
            {"BinaryName": str(binaries[PROGRAM]), "Root": str(root), "SystemdCgroup": False},
        )

    def runtime_class(self) -> dict[str, Any]:
        """RuntimeClass ``crun``, no overhead."""
        return runtime_class(self.name)


RUNTIME = Crun()
