"""crun, the C runtime (Red Hat's default), from the distribution's package.

Debian bookworm's crun (1.8.1) needs two things this host does not give it, so crun is called
through a small wrapper (written to the cache, shown in `podshm cluster status`'s config):
it accepts a bundle only if its ``ociVersion`` starts with 1.0 ("unknown version specified";
containerd 2.3 writes 1.3.0), so the wrapper declares 1.0.2 (crun reads the fields it knows);
and on a cgroup v1 host it refuses a cgroup2 mount with controllers left in it (hybrid mode),
so the wrapper runs it in a private mount namespace without that mount.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any, TextIO

from podshm.cache import cache_root
from podshm.errors import PodshmError
from podshm.providers.local.runtimes.base import runtime_class, toml_table

PROGRAM = "crun"
WRAPPER = """#!/bin/sh
# Written by podshm (src/podshm/providers/local/runtimes/crun.py): crun {version} refuses bundles
# whose ociVersion is not 1.0.x (declare 1.0.2 on create) and, on a cgroup v1 host, a cgroup2
# mount with controllers (when there is one, run it in a mount namespace without that mount).
bundle=""
prev=""
for arg in "$@"; do
  case "$prev" in --bundle|-b) bundle=$arg ;; esac
  case "$arg" in --bundle=*) bundle=${{arg#--bundle=}} ;; esac
  prev=$arg
done
if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
  sed -i 's/"ociVersion":"1\\.[1-9][0-9.]*"/"ociVersion":"1.0.2"/' "$bundle/config.json"
fi
{hybrid}exec {crun} "$@"
"""
# crun 1.8 refuses a cgroup v1 host whose cgroup2 mount has controllers ("cgroups in hybrid
# mode not supported, drop all controllers from cgroupv2"). In a private mount namespace of
# its own, without that mount, crun sees the plain v1 layout the kubelet and runc use.
HYBRID = """if [ -z "$CRUN_WRAPPER_IN_OWN_MOUNTS" ]; then
  CRUN_WRAPPER_IN_OWN_MOUNTS=1 exec unshare --mount --propagation private "$0" "$@"
fi
umount -l {unified} 2>/dev/null
"""
UNIFIED = Path("/sys/fs/cgroup/unified")


def hybrid_with_controllers() -> bool:
    """Whether this host mounts cgroup2 beside v1 with controllers left in it."""
    controllers = UNIFIED / "cgroup.controllers"
    return controllers.is_file() and bool(controllers.read_text().split())


class Crun:
    """containerd's runc v2 shim running crun (it speaks runc's command line)."""

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
        """The packaged binary, behind the version wrapper (cached per crun version)."""
        self.preflight()
        crun = Path(str(self._path())).resolve()
        said = subprocess.run([str(crun), "--version"], capture_output=True, text=True)
        version = (said.stdout.splitlines() or ["crun"])[0].removeprefix("crun version ")
        hybrid = HYBRID.format(unified=UNIFIED) if hybrid_with_controllers() else ""
        text = WRAPPER.format(version=version, crun=crun, hybrid=hybrid)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        wrapper = cache_root() / "bin" / "crun-wrapper" / digest / "crun"
        if not wrapper.is_file():
            wrapper.parent.mkdir(parents=True, exist_ok=True)
            wrapper.write_text(text)
            wrapper.chmod(0o755)
        return {"crun-wrapper": wrapper}

    def containerd_table(self, binaries: dict[str, Path], root: Path, config_dir: Path) -> str:
        """The runc v2 shim with ``BinaryName`` the wrapper and crun's state under podshm's."""
        return toml_table(
            self.name,
            "io.containerd.runc.v2",
            {
                "BinaryName": str(binaries["crun-wrapper"]),
                "Root": str(root),
                "SystemdCgroup": False,
            },
        )

    def runtime_class(self) -> dict[str, Any]:
        """RuntimeClass ``crun``, no overhead."""
        return runtime_class(self.name)


RUNTIME = Crun()
