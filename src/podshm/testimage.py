"""What of podshm goes into the test image: the helper programs, and the digest that names
them (:data:`podshm.podimages.TEST` puts it in the image's tag, so a run finds the test image
of this podshm on the nodes).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from pathlib import Path

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


def tree_digest(root: Path, files: list[Path]) -> str:
    """sha256 over the files' names (relative to ``root``, in that order) and contents."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def source_digest(pkg_dir: Path) -> str:
    """sha256 over the package's file names and contents: part of the image tag."""
    return tree_digest(pkg_dir, source_files(pkg_dir))


def files_under(top: Path) -> list[Path]:
    """Every file under ``top`` but bytecode, sorted by path (a recipe directory's)."""
    return sorted(_walk(top), key=lambda p: p.relative_to(top).as_posix())
