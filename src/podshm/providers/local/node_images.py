"""Images on the local cluster's node: imported into containerd (unpacked for the CRI, so no
pod waits for it) and the test image named on the node, where runs look for it."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from podshm.image.load import load_image
from podshm.localpaths import NODE_IMAGE_ANNOTATION
from podshm.providers.local import probes, startup
from podshm.providers.local.layout import Layout
from podshm.testimage import TEST_IMAGE_REPO


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


def announce_test_image(layout: Layout, node: str, images: dict[str, Path]) -> None:
    """Annotate the node with the test image just imported: runs find it there, whatever
    kubeconfig names this cluster (``podshm.target.find_image``)."""
    refs = [ref for ref in images if ref.startswith(TEST_IMAGE_REPO + ":")]
    if refs:
        probes.AdminApi(layout).annotate_node(node, {NODE_IMAGE_ANNOTATION: refs[-1]})


def import_images(
    layout: Layout, binaries: dict[str, Path], node: str, images: dict[str, Path], log: TextIO
) -> None:
    """Import archives into the running node and name the test image on it."""
    import_missing(layout, binaries, images, log)
    announce_test_image(layout, node, images)
