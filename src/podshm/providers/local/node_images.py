"""Images on the local cluster's node: imported into containerd (unpacked for the CRI, so no
pod waits for it) and podshm's pod images (test, workload) named on the node, where runs look
for them."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from podshm.image.load import load_image
from podshm.podimages import KINDS
from podshm.providers.local import probes, startup
from podshm.providers.local.layout import Layout


def import_missing(
    layout: Layout, binaries: dict[str, Path], images: dict[str, Path], log: TextIO
) -> None:
    """Import the archives whose reference containerd does not hold yet."""
    present = startup.ctr(layout, binaries, "images", "ls", "-q").split()
    for ref, archive in images.items():
        if ref not in present:
            print(f"podshm: importing image {ref}", file=log, flush=True)
            load_image(
                archive,
                "containerd",
                address=str(layout.containerd_socket),
                snapshotter="overlayfs",
                ctr=str(binaries["ctr"]),
            )


def announce_images(layout: Layout, node: str, images: dict[str, Path]) -> None:
    """Annotate the node with each pod image just imported (one annotation per kind): runs
    find them there, whatever kubeconfig names this cluster (``podshm.target.find_image``)."""
    notes = {
        kind.annotation: refs[-1]
        for kind in KINDS.values()
        if (refs := [ref for ref in images if kind.owns(ref)])
    }
    if notes:
        probes.AdminApi(layout).annotate_node(node, notes)


def import_images(
    layout: Layout, binaries: dict[str, Path], node: str, images: dict[str, Path], log: TextIO
) -> None:
    """Import archives into the running node and name podshm's pod images on it."""
    import_missing(layout, binaries, images, log)
    announce_images(layout, node, images)
