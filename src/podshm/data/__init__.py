"""podshm's package data: scenario manifests, C sources of the images, pinned Go builds.

``manifests/`` (one pod per scenario, plus ``rbac/``), ``images/`` (the Dockerfile, the
pause and ipcbench C sources) and ``build/`` (wrapper ``go.mod``/``go.sum`` per component
and version) ship inside the package, so an installed wheel renders every manifest, builds
the test image and builds the local cluster exactly as a checkout does. The checkout's
top-level ``manifests``, ``images`` and ``build`` are links to these directories.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from podshm.errors import PodshmError


def data_path(*parts: str) -> Path:
    """A file or directory of the package data, as a real path (compilers and Go need one)."""
    base = resources.files(__name__)
    if not isinstance(base, Path):
        raise PodshmError(
            f"podshm's package data is not on the file system ({base!r})",
            "install podshm as files (pip install podshm), not as a zipped archive",
        )
    path = base.joinpath(*parts)
    if not path.exists():
        raise PodshmError(
            f"podshm's package data lacks {'/'.join(parts)} (looked in {base})",
            "reinstall podshm: the wheel or checkout is incomplete",
        )
    return path
