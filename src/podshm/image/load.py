"""Put an image archive where a cluster's container runtime can use it, without a registry.

Nothing can be pulled here, so pods only start if their images are already in
the node's runtime store. Each target has its own importer of OCI archives:
containerd (``ctr images import``, into the ``k8s.io`` namespace that the CRI
plugin and so kubelet read), kind (``kind load image-archive``, which does the
same inside each node container) and Docker (``docker load``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from podshm.errors import PodshmError

TARGETS = ("containerd", "kind", "docker")
DEFAULT_CONTAINERD_ADDRESS = "/run/containerd/containerd.sock"
CRI_NAMESPACE = "k8s.io"
"""containerd namespace of the CRI plugin: images imported elsewhere are invisible to pods."""

_INSTALL_HINTS = {
    "ctr": ("install containerd (apt-get install containerd)", "--ctr-path"),
    "kind": ("install kind (go install sigs.k8s.io/kind@latest)", "--kind-path"),
    "docker": ("install Docker", "--docker-path"),
}


def find_tool(name: str, path: str | None = None) -> str:
    """Resolve ``path`` (or ``name`` on PATH) to an executable, or explain how to get one."""
    candidate = path or name
    resolved = shutil.which(candidate)
    if resolved is None:
        install, flag = _INSTALL_HINTS.get(name, (f"install {name}", "the tool's path option"))
        where = f"{candidate} is not an executable" if path else f"{name} not found on PATH"
        raise PodshmError(where, f"{install} or pass {flag}")
    return resolved


def load_command(
    archive: Path,
    into: str = "containerd",
    *,
    address: str | None = None,
    namespace: str = CRI_NAMESPACE,
    snapshotter: str | None = None,
    ctr: str | None = None,
    kind: str | None = None,
    kind_cluster: str = "kind",
    docker: str | None = None,
) -> list[str]:
    """The command that loads ``archive`` into ``into`` (tools resolved, not run)."""
    if into == "containerd":
        cmd = [find_tool("ctr", ctr)]
        if address:
            cmd += ["--address", address]
        cmd += ["--namespace", namespace, "images", "import"]
        if snapshotter:
            cmd += ["--snapshotter", snapshotter]
        return [*cmd, str(archive)]
    if into == "kind":
        return [
            find_tool("kind", kind),
            "load",
            "image-archive",
            str(archive),
            "--name",
            kind_cluster,
        ]
    if into == "docker":
        return [find_tool("docker", docker), "load", "--input", str(archive)]
    raise PodshmError(f"unknown load target {into!r}", f"use one of: {', '.join(TARGETS)}")


def load_image(
    archive: Path,
    into: str = "containerd",
    *,
    address: str | None = None,
    namespace: str = CRI_NAMESPACE,
    snapshotter: str | None = None,
    ctr: str | None = None,
    kind: str | None = None,
    kind_cluster: str = "kind",
    docker: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> str:
    """Import an OCI archive into a runtime; returns the importer's output.

    For containerd, ``address`` is the socket (default /run/containerd/containerd.sock),
    ``namespace`` defaults to k8s.io, where kubelet looks for images, and
    ``snapshotter`` (e.g. "overlayfs") unpacks for the CRI's snapshotter right away.
    ``ctr``, ``kind`` and ``docker`` are paths of the tools (default: from PATH).
    """
    archive = Path(archive)
    if not archive.is_file():
        raise PodshmError(
            f"image archive {archive} does not exist", "build it with: podshm image build"
        )
    cmd = load_command(
        archive,
        into,
        address=address,
        namespace=namespace,
        snapshotter=snapshotter,
        ctr=ctr,
        kind=kind,
        kind_cluster=kind_cluster,
        docker=docker,
    )
    if into == "containerd":
        socket = address or DEFAULT_CONTAINERD_ADDRESS
        if not os.path.exists(socket):
            raise PodshmError(
                f"containerd socket {socket} does not exist",
                "start containerd, or pass --address with the socket of the one to load into",
            )
    if progress:
        progress(" ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        raise PodshmError(
            f"{Path(cmd[0]).name} could not load {archive.name} (exit {proc.returncode}): {detail}",
            _failure_fix(into, kind_cluster),
        )
    return proc.stdout + proc.stderr


def _failure_fix(into: str, kind_cluster: str) -> str:
    if into == "containerd":
        return "check that containerd runs and that you may use its socket (root)"
    if into == "kind":
        return f"check that the kind cluster {kind_cluster!r} exists (kind get clusters)"
    return "check that the Docker daemon runs (docker info); Docker >= 25 loads OCI archives"
