"""podshm's own single-node cluster (``podshm.localcluster.lifecycle``) as a provider.

The same five calls as every provider (up, down, status, kubeconfig_path, load_image, plus
logs), so the CLI picks a provider by name and never branches on which one it has.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from podshm.errors import PodshmError
from podshm.image import oci
from podshm.localcluster import daemons, lifecycle, versions
from podshm.localcluster import runtimes as runtimes_pkg
from podshm.localcluster.layout import Layout
from podshm.localcluster.plan import START_ORDER

NAME = "local"


def validate(k8s_version: str, nodes: int, runtimes: str | None = None) -> None:
    """Refuse what this provider cannot run, before anything is built."""
    versions.pins_for(k8s_version)
    for runtime in runtimes_pkg.select(runtimes):
        runtime.preflight()
    if nodes != 1:
        raise PodshmError(
            f"the local provider runs one node, {nodes} were asked for",
            "use --provider kind for several nodes",
        )


def up(
    k8s_version: str,
    nodes: int = 1,
    log: TextIO = sys.stderr,
    images: dict[str, Path] | None = None,
    runtimes: str | None = None,
) -> Path:
    """Start (or reuse) the cluster with ``images`` imported (while it starts) and one
    RuntimeClass per runtime of ``runtimes``; returns its kubeconfig. One node only."""
    validate(k8s_version, nodes, runtimes)
    info = lifecycle.up(k8s_version, images=images, log=log, runtimes=runtimes)
    return Path(info.kubeconfig)


def down(log: TextIO = sys.stderr) -> None:
    """Stop everything and remove the state."""
    lifecycle.down(log)


def status() -> dict:
    """Components, node readiness, versions; ``up`` says whether all is well."""
    return {"provider": NAME, **lifecycle.status()}


def kubeconfig_path() -> Path:
    """The admin kubeconfig (context ``podshm-local``)."""
    return Layout.default().admin_kubeconfig


def load_image(archive: Path, log: TextIO = sys.stderr) -> None:
    """Import an OCI archive into the cluster's containerd and name it on the node."""
    layout = Layout.default()
    info = lifecycle.read_info(layout)
    if info is None or not lifecycle.healthy(layout):
        raise PodshmError("podshm's local cluster is not running", "run `podshm cluster up`")
    lifecycle.import_images(layout, info, {oci.archive_ref(archive): archive}, log)


def logs(component: str, lines: int = 0) -> str:
    """A daemon's log file (the last ``lines`` lines)."""
    if component not in START_ORDER:
        raise PodshmError(
            f"no component {component!r} in the local cluster",
            "pick one of " + ", ".join(START_ORDER),
        )
    path = daemons.log_path(Layout.default(), component)
    if not path.exists():
        raise PodshmError(f"no log for {component} at {path}", "start the cluster first")
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:] if lines else text) + "\n"
