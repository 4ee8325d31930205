"""gVisor (``runsc``, platform ``systrap``: no KVM needed), with its own containerd shim.

Both are built from the ``gvisor.dev/gvisor`` module (pinned by go.sum, cached like every
component); the shim carries one patch, so it starts where root lacks CAP_SYS_RESOURCE
(:func:`component_for`). The RuntimeClass declares a pod overhead, so the overhead branch of
the kubelet's /dev/shm sizing rule meets a real runtime. What differs in pods under gVisor is
measured by the suite and declared in ``data/deviations/gvisor.yaml``.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any, TextIO

from podshm.build import gobuild
from podshm.build.components import GoComponent
from podshm.errors import PodshmError
from podshm.providers.local.layout import Layout
from podshm.providers.local.runtimes.base import runtime_class, toml_table

GVISOR_VERSION = "v0.0.0-20260905035102-160fafc42237"
"""gvisor.dev/gvisor's ``go`` branch (the module proxy's @latest), 2026-09-05."""
OVERHEAD = {"memory": "64Mi"}
SHIM = "containerd-shim-runsc-v1"
PLATFORM = "systrap"


def component_for(kubelet_pods_dir: str, version: str = GVISOR_VERSION) -> GoComponent:
    """gVisor's ``runsc`` and its containerd shim, static, from ``gvisor.dev/gvisor``.

    The shim is patched (``shim-oom-score.patch`` beside the pinned go.mod): it lowers its
    own ``oom_score_adj`` and fails when it may not (root without CAP_SYS_RESOURCE); patched,
    it keeps the inherited score, as containerd's runc shim does with
    ``restrict_oom_score_adj``. It looks pod volumes up under a kubelet root fixed at build
    time (``/var/lib/kubelet/pods`` upstream): ``kubelet_pods_dir`` is the local cluster's.
    """
    mod = "gvisor.dev/gvisor"
    return GoComponent(
        name="gvisor",
        module=mod,
        version=version,
        packages={"runsc": f"{mod}/runsc", SHIM: f"{mod}/shim"},
        ldflags=(
            f"-X {mod}/runsc/version.version={version}",
            f"-X {mod}/pkg/shim/v1/utils.kubeletPodsDir={kubelet_pods_dir}",
        ),
        patches=("shim-oom-score.patch",),
    )


class Gvisor:
    """gVisor's shim (``io.containerd.runsc.v1``) running ``runsc --platform=systrap``."""

    name = "gvisor"
    summary = "gVisor runsc + containerd-shim-runsc-v1 (built from gvisor.dev/gvisor, systrap)"

    def preflight(self) -> None:
        """systrap runs on x86-64 and arm64 Linux (no KVM needed)."""
        if platform.machine() not in ("x86_64", "aarch64"):
            raise PodshmError(
                f"gVisor does not run on {platform.machine()}",
                "drop gvisor from --runtimes",
            )

    def install(self, binaries: dict[str, Path], log: TextIO) -> dict[str, Path]:
        """Build (or find cached) runsc and the patched shim."""
        component = component_for(str(Layout.default().kubelet_root / "pods"))
        bin_dir = gobuild.build(component, log=log)
        return {name: bin_dir / name for name in component.packages}

    def containerd_table(self, binaries: dict[str, Path], root: Path, config_dir: Path) -> str:
        """The runsc shim (found on containerd's PATH) with a runsc.toml naming our runsc,
        its state directory and the platform."""
        config = config_dir / "runsc.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f'binary_name = "{binaries["runsc"]}"\n'
            f'root = "{root}"\n'
            "[runsc_config]\n"
            f'  platform = "{PLATFORM}"\n'
        )
        table = toml_table(
            self.name,
            "io.containerd.runsc.v1",
            {"TypeUrl": "io.containerd.runsc.v1.options", "ConfigPath": str(config)},
        )
        # gVisor's mount hints (dev.gvisor.spec.mount.*) reach the shim only if allowed.
        header, rest = table.split("\n", 1)
        return f'{header}\n  pod_annotations = ["dev.gvisor.*"]\n{rest}'

    def runtime_class(self) -> dict[str, Any]:
        """RuntimeClass ``gvisor`` with a 64Mi memory overhead per pod."""
        return runtime_class(self.name, OVERHEAD)


RUNTIME = Gvisor()
