"""The host baseline's Python: the image's interpreter and libraries, where this host has them.

A pod/host ratio of the Python inner loop only means something if both sides run the same
interpreter build: a virtualenv's Python (pyenv, built without PGO/LTO) can be 20-30% slower
than Debian's, which would look like a pod speed-up. The test image runs Debian bookworm's
/usr/bin/python3 with podshm.ipc and the two wheels in /usr/local; on a Debian host the same
interpreter exists, so the baseline runs it with the very same staged /usr/local tree (the
image build's own staging code), and falls back to this process's Python otherwise.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from podshm import testimage
from podshm.cache import cache_root, content_tag
from podshm.image import wheels

KEEP = 3


@dataclass(frozen=True)
class HostPython:
    """How to start ``python -m podshm.ipc`` on the host, and what that interpreter is."""

    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    note: str | None = None


def _image_interpreter() -> str | None:
    """/usr/bin/python3 if it is a CPython of the image's version, else None."""
    interpreter = wheels.INTERPRETER
    if not os.access(interpreter, os.X_OK):
        return None
    probe = "import sys; print(sys.implementation.name, '%d.%d' % sys.version_info[:2])"
    try:
        out = subprocess.run(
            [interpreter, "-c", probe], capture_output=True, text=True, timeout=30, check=True
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return interpreter if out == ["cpython", wheels.PYTHON_VERSION] else None


def _staged(root: Path) -> Path:
    """The image's /usr/local tree (podshm.ipc + wheels), staged once per content hash."""
    wheel_files = wheels.ensure_wheels(root / "wheels", wheels.pinned_requirements())
    pkg_dir = testimage.package_dir()
    inputs = {
        "podshm": testimage.source_digest(pkg_dir),
        "wheels": sorted(p.name for p in wheel_files),
    }
    base = root / "bench-python"
    base.mkdir(parents=True, exist_ok=True)
    target = base / content_tag(inputs)
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_dir():
            with tempfile.TemporaryDirectory(prefix=".build-", dir=base) as tmp:
                staging = Path(tmp, "usr-local")
                wheels.stage_usr_local(staging, wheel_files, pkg_dir, testimage.package_version())
                os.replace(staging, target)
        old = sorted(
            (p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
        )
        for stale in [p for p in old if p != target][: max(0, len(old) - KEEP)]:
            shutil.rmtree(stale, ignore_errors=True)
    return target


def host_python(cache: Path | None = None) -> HostPython:
    """The image's interpreter with the image's packages, or this Python with a note why not."""
    interpreter = _image_interpreter()
    if interpreter is None:
        return HostPython(
            (sys.executable, "-m", "podshm.ipc"),
            note=f"{wheels.INTERPRETER} is not CPython {wheels.PYTHON_VERSION}: the host's "
            f"Python inner loop ran on {sys.executable}, another build than the image's",
        )
    site = _staged(cache or cache_root()) / wheels.SITE_PACKAGES
    env = {"PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1", "PYTHONSAFEPATH": "1"}
    return HostPython((interpreter, "-m", "podshm.ipc"), env)
