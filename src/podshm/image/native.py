"""The images' C programs, compiled statically with the host's gcc: pause and podshm-ipcbench.

Static binaries run unchanged in the test image (Debian bookworm), in the one-file pause image
and on the host, so the benchmark's host baseline and its pods execute the same machine code.
Each build's inputs (source hash, flags, compiler version, the static libc) go into the image
tag, so a new compiler or a source edit makes a new image and a new cached host binary.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from podshm.cache import cache_root, content_tag
from podshm.data import data_path
from podshm.errors import PodshmError
from podshm.image import layers

IPCBENCH_CFLAGS = ("-O2", "-Wall", "-Wextra", "-Werror", "-static")
IPCBENCH_LIBS = ("-lrt", "-lpthread")
"""Empty stubs since glibc 2.34 (mq_*, sem_* moved into libc), kept for older toolchains."""
IPCBENCH_NAME = "podshm-ipcbench"
IPCBENCH_IMAGE_PATH = f"/usr/local/bin/{IPCBENCH_NAME}"
_FIX = "run scripts/install-image-deps.sh (apt-get install gcc libc6-dev)"


def tool(name: str, purpose: str) -> str:
    """Absolute path of a build tool, or a PodshmError that says how to install it."""
    path = shutil.which(name)
    if path is None:
        raise PodshmError(f"{name} not found on PATH: {purpose}", _FIX)
    return path


def toolchain_inputs() -> dict[str, str]:
    """The compiler's version line and the hash of the static libc every binary links."""
    gcc = tool("gcc", "it compiles the images' static C programs")
    version = subprocess.run(
        [gcc, "--version"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    libc_a = subprocess.run(
        [gcc, "-print-file-name=libc.a"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not Path(libc_a).is_file():
        raise PodshmError("libc.a not found: the images' C programs are linked statically", _FIX)
    return {"gcc": version, "libc_a": layers.sha256_file(Path(libc_a))}


def compile_static(
    source: Path, output: Path, cflags: tuple[str, ...], libs: tuple[str, ...] = ()
) -> None:
    """gcc ``cflags`` -o ``output`` ``source`` ``libs``, then strip (as upstream pause does)."""
    gcc = tool("gcc", f"it compiles {source.name}")
    proc = subprocess.run(
        [gcc, *cflags, "-o", str(output), str(source), *libs],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise PodshmError(f"compiling {source.name} failed: {proc.stderr.strip()[-300:]}", _FIX)
    if strip := shutil.which("strip"):
        subprocess.run([strip, str(output)], check=True)


def find_ipcbench_source() -> Path:
    """images/ipcbench/ipcbench.c, shipped as package data."""
    return data_path("images", "ipcbench", "ipcbench.c")


def ipcbench_inputs(source: Path | None = None) -> dict[str, Any]:
    """What podshm-ipcbench is made of: part of the test image's tag inputs."""
    source = source or find_ipcbench_source()
    return {
        "source": layers.sha256_file(source),
        "cflags": list(IPCBENCH_CFLAGS),
        "libs": list(IPCBENCH_LIBS),
        **toolchain_inputs(),
    }


def build_ipcbench(output: Path, source: Path | None = None) -> Path:
    """Compile podshm-ipcbench to ``output`` (mode 0755)."""
    compile_static(source or find_ipcbench_source(), output, IPCBENCH_CFLAGS, IPCBENCH_LIBS)
    output.chmod(0o755)
    return output


def host_ipcbench(cache_dir: Path | None = None) -> Path:
    """The host's podshm-ipcbench, compiled once per input hash into ``<cache>/bin/ipcbench``.

    The host baseline must run what the image runs: same source, flags and compiler.
    """

    bin_dir = (cache_dir or cache_root()) / "bin" / "ipcbench"
    bin_dir.mkdir(parents=True, exist_ok=True)
    source = find_ipcbench_source()
    target = bin_dir / f"{IPCBENCH_NAME}-{content_tag(ipcbench_inputs(source))}"
    with open(bin_dir / ".ipcbench.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_file():
            with tempfile.TemporaryDirectory(prefix=".build-", dir=bin_dir) as tmp:
                built = build_ipcbench(Path(tmp, IPCBENCH_NAME), source)
                os.replace(built, target)
    return target
