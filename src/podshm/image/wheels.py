"""Python payload of the test image: podshm itself plus the sysv_ipc and posix_ipc wheels.

The image's interpreter is Debian bookworm's /usr/bin/python3 (3.11), which has
no pip. Installing a wheel is only unzipping it into site-packages and writing
console scripts, so this module does that on the host into a staging tree that
becomes the image's /usr/local; mmdebstrap then copies it in. podshm is copied
from its source tree rather than built as a wheel, which needs no build backend
and no network. The two C-extension wheels come from ``pip wheel``, pinned to
the versions installed next to this podshm so the image runs what the host
tests, and are kept in the cache so later builds work offline.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from podshm.errors import PodshmError
from podshm.testimage import (
    source_files,
)

PYTHON_VERSION = "3.11"
"""Debian bookworm's python3; wheels must carry a tag this interpreter accepts."""
SITE_PACKAGES = f"lib/python{PYTHON_VERSION}/dist-packages"
"""Relative to the /usr/local prefix: Debian's python3 puts this on sys.path."""
INTERPRETER = "/usr/bin/python3"
RUNTIME_DEPENDENCIES = ("sysv_ipc", "posix_ipc")
IMAGE_SCRIPTS = {"podshm-ipc": "podshm.ipc.cli:main"}
"""Console scripts the image gets; `podshm` itself needs kubernetes, which it lacks."""
INSTALLER = "podshm-image"


def pinned_requirements(names: Iterable[str] = RUNTIME_DEPENDENCIES) -> list[str]:
    """``name==version`` for each runtime dependency as installed beside podshm."""
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError as err:
            raise PodshmError(
                f"{name} is not installed in this Python ({sys.executable})",
                "install podshm with its dependencies (pip install -e .) and retry",
            ) from err
    return pins


def _wheel_prefix(requirement: str) -> str:
    name, _, version = requirement.partition("==")
    return f"{name.replace('-', '_')}-{version}-"


def _usable_wheel(path: Path) -> bool:
    """True if the wheel's tags fit CPython 3.11 on Linux (the image's interpreter)."""
    tags = path.name[: -len(".whl")].split("-")[-3:]
    python, abi, plat = tags
    py_ok = any(t in ("cp311", "py3", "py311") for t in python.split("."))
    abi_ok = any(t in ("cp311", "abi3", "none") for t in abi.split("."))
    plat_ok = plat == "any" or "linux" in plat
    return py_ok and abi_ok and plat_ok


def ensure_wheels(
    wheel_dir: Path,
    requirements: Iterable[str],
    progress: Callable[[str], None] = lambda msg: None,
) -> list[Path]:
    """Return one cached wheel per requirement, running ``pip wheel`` for missing ones."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    wheels = []
    for requirement in requirements:
        prefix = _wheel_prefix(requirement)
        cached = sorted(p for p in wheel_dir.glob(prefix + "*.whl") if _usable_wheel(p))
        if not cached:
            if sys.version_info[:2] != (3, 11) or sys.implementation.name != "cpython":
                raise PodshmError(
                    f"building wheels for the image needs CPython {PYTHON_VERSION}, "
                    f"this is {sys.implementation.name} {sys.version.split()[0]}",
                    f"run podshm from a CPython {PYTHON_VERSION} virtualenv, or put a cp311 "
                    f"linux wheel of {requirement} into {wheel_dir}",
                )
            progress(f"pip wheel {requirement} (cached in {wheel_dir})")
            pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
            proc = subprocess.run(
                [*pip, "-w", str(wheel_dir), requirement],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                raise PodshmError(
                    f"pip wheel {requirement} failed: {tail}",
                    f"make the package index reachable once, or put a cp311 linux wheel "
                    f"of {requirement} into {wheel_dir}",
                )
            cached = sorted(p for p in wheel_dir.glob(prefix + "*.whl") if _usable_wheel(p))
            if not cached:
                raise PodshmError(
                    f"pip wheel {requirement} produced no cp311 linux wheel in {wheel_dir}",
                    "check the pip output by running the same pip wheel command by hand",
                )
        wheels.append(cached[-1])
    return wheels


def _record_line(path: Path, rel: str) -> str:
    data = path.read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{rel},sha256={digest},{len(data)}"


def _write(dest: Path, data: bytes, mode: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    dest.chmod(mode)


def console_script(target: str) -> bytes:
    """The launcher pip would write for ``module:attr``, run by the image's python3."""
    module, _, attr = target.partition(":")
    head, _, rest = attr.partition(".")
    call = f"{head}.{rest}" if rest else head
    return (
        f"#!{INTERPRETER}\n"
        "import sys\n"
        f"from {module} import {head}\n"
        "\n"
        'if __name__ == "__main__":\n'
        f"    sys.exit({call}())\n"
    ).encode()


def _inside(root: Path, rel: str) -> Path:
    dest = (root / rel).resolve()
    if not dest.is_relative_to(root.resolve()):
        raise PodshmError(f"refusing wheel member outside the install root: {rel}")
    return dest


def install_wheel(wheel: Path, prefix: Path) -> None:
    """Unpack a wheel into ``prefix`` (the image's /usr/local) the way pip lays it out."""
    site = prefix / SITE_PACKAGES
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            top, _, rest = info.filename.partition("/")
            executable = bool((info.external_attr >> 16) & 0o111)
            if top.endswith(".data"):
                kind, _, rel = rest.partition("/")
                roots = {"purelib": site, "platlib": site, "scripts": prefix / "bin"}
                root = roots.get(kind, prefix)
                dest = _inside(root, rel)
                executable = executable or kind == "scripts"
            else:
                dest = _inside(site, info.filename)
            data = archive.read(info)
            if dest.parent.name == "bin" and data.startswith(b"#!python"):
                data = b"#!" + INTERPRETER.encode() + data[len(b"#!python") :]
            _write(dest, data, 0o755 if executable else 0o644)
    for dist_info in site.glob("*.dist-info"):
        if not (dist_info / "INSTALLER").exists():
            _write(dist_info / "INSTALLER", f"{INSTALLER}\n".encode(), 0o644)


def install_podshm_source(pkg_dir: Path, prefix: Path, version: str) -> None:
    """Copy the podshm package into ``prefix`` with dist-info and its console scripts."""
    site = prefix / SITE_PACKAGES
    records = []
    for path in source_files(pkg_dir):
        rel = "podshm/" + path.relative_to(pkg_dir).as_posix()
        _write(site / rel, path.read_bytes(), 0o644)
        records.append(_record_line(site / rel, rel))
    dist_info = site / f"podshm-{version}.dist-info"
    scripts = "".join(f"{name} = {target}\n" for name, target in sorted(IMAGE_SCRIPTS.items()))
    meta = {
        "METADATA": f"Metadata-Version: 2.1\nName: podshm\nVersion: {version}\n",
        "INSTALLER": f"{INSTALLER}\n",
        "top_level.txt": "podshm\n",
        "entry_points.txt": f"[console_scripts]\n{scripts}",
    }
    for name, text in sorted(meta.items()):
        _write(dist_info / name, text.encode(), 0o644)
        records.append(_record_line(dist_info / name, f"{dist_info.name}/{name}"))
    for name, target in sorted(IMAGE_SCRIPTS.items()):
        _write(prefix / "bin" / name, console_script(target), 0o755)
        records.append(_record_line(prefix / "bin" / name, f"../../../bin/{name}"))
    records.append(f"{dist_info.name}/RECORD,,")
    _write(dist_info / "RECORD", ("\n".join(records) + "\n").encode(), 0o644)


def stage_usr_local(staging: Path, wheels: Iterable[Path], pkg_dir: Path, version: str) -> None:
    """Fill ``staging`` (future /usr/local) with podshm and the wheels; modes made explicit."""
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for wheel in wheels:
        install_wheel(wheel, staging)
    install_podshm_source(pkg_dir, staging, version)
    # mmdebstrap's sync-in copies directory modes too: keep /usr/local world-readable
    # whatever the umask, or the non-root user could not import anything.
    for dirpath, _dirnames, _filenames in os.walk(staging):
        Path(dirpath).chmod(0o755)
