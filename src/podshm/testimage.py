"""The test image's name: what `podshm image build` tags and what a run looks for on nodes.

The tag is ``<podshm version>-<helpers digest>-<inputs hash>``. Its first two parts can be
computed by any installed podshm without building anything, so a run finds "the test image
of this podshm" among the images a node holds (``node.status.images``) instead of guessing
a tag; the last part pins everything else that went into the image (packages, wheels).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from collections.abc import Iterable
from pathlib import Path

TEST_IMAGE_REPO = "podshm.local/podshm-test"
BUILD_AND_LOAD = (
    "build it and load it into the nodes: `podshm image build && podshm image load --into kind"
    " --kind-cluster NAME` (or --into containerd|docker), or name one with {image}"
)
IMAGE_PAYLOAD = ("__init__.py", "py.typed", "ipc")
"""What of podshm the image needs: the helper programs only (they import nothing else of
podshm), so an edit to the plugin or the cluster code does not make a new image."""

_IGNORED_DIRS = {"__pycache__"}
_IGNORED_SUFFIXES = (".pyc", ".pyo")


def package_dir() -> Path:
    """The directory of the podshm package this build runs from."""
    import podshm

    return Path(podshm.__file__).resolve().parent


def package_version() -> str:
    """podshm's version, from its metadata (falls back to ``podshm.__version__``)."""
    try:
        return importlib.metadata.version("podshm")
    except importlib.metadata.PackageNotFoundError:
        import podshm

        return podshm.__version__


def source_files(pkg_dir: Path) -> list[Path]:
    """Files of the package that go into the image, sorted; bytecode is left out."""
    found = [pkg_dir / name for name in IMAGE_PAYLOAD if (pkg_dir / name).is_file()]
    for top in (pkg_dir / name for name in IMAGE_PAYLOAD if (pkg_dir / name).is_dir()):
        found += _walk(top)
    return sorted(found, key=lambda p: p.relative_to(pkg_dir).as_posix())


def _walk(top: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d not in _IGNORED_DIRS)
        for name in filenames:
            if not name.endswith(_IGNORED_SUFFIXES):
                found.append(Path(dirpath, name))
    return found


def source_digest(pkg_dir: Path) -> str:
    """sha256 over the package's file names and contents: part of the image tag."""
    digest = hashlib.sha256()
    for path in source_files(pkg_dir):
        digest.update(path.relative_to(pkg_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def tag_prefix() -> str:
    """``<version>-<first 8 hex digits of the helpers' digest>-``: this podshm's images."""
    return f"{package_version()}-{source_digest(package_dir())[:8]}-"


def tag_for(inputs_hash: str) -> str:
    """The full tag of an image built from inputs hashing to ``inputs_hash``."""
    return tag_prefix() + inputs_hash


def is_this_podshms(ref: str) -> bool:
    """Whether an image reference names a test image built from this podshm's helpers."""
    repo, _, tag = ref.rpartition(":")
    repo = repo.removeprefix("docker.io/")
    return repo == TEST_IMAGE_REPO and tag.startswith(tag_prefix())


def pick_held_image(per_node: Iterable[Iterable[str]]) -> str | None:
    """This podshm's test image that every given node holds, or None.

    Several can match (same helpers, other package versions); any of them will do.
    """
    common: set[str] | None = None
    for names in per_node:
        mine = {n.removeprefix("docker.io/") for n in names if is_this_podshms(n)}
        common = mine if common is None else common & mine
    return max(common) if common else None
