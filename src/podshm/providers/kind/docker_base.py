"""A Debian bookworm base image for ``docker build -f images/Dockerfile``, without a registry.

The Dockerfile's base images are build arguments whose defaults are public images
(``debian:bookworm-slim``, ``python:3.11-slim-bookworm``) that cannot be pulled here. This
module makes one root with mmdebstrap from this machine's apt sources that serves both
stages (the static C build and the Python runtime), copies this machine's CA bundle into it
so pip and apt inside the build verify TLS as the host does, and ``docker import``\\ s it into
podshm's Docker engine as ``podshm.local/debian-bookworm:<hash12>``. The tag is a hash of
the resolved package set, the bundle and :data:`BUILDER`, so an unchanged base is imported
once and reused.

It also makes the directory ``podshm cluster docker-env`` puts first on PATH: ``kind`` (the
one podshm builds) and ``docker``, the client of the engine's own package. The engine is
Debian's 20.10, whose client has BuildKit built in (the build needs it: only BuildKit reads
``images/Dockerfile.dockerignore``, without which the context is the whole checkout), while a
newer ``docker`` first on PATH needs the buildx plugin for BuildKit and may not have it.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from podshm.cache import cache_root, content_tag
from podshm.errors import PodshmError
from podshm.image import mmdebstrap
from podshm.providers.kind import docker_engine

PACKAGES = (
    "python3",
    "python3-pip",
    "gcc",
    "libc6-dev",
    "binutils",
    "apt",
    "ca-certificates",
    "passwd",
)
"""The Dockerfile's two stages: gcc/libc6-dev/binutils (static ipcbench), apt (its
``apt-get install``), python3 and pip, ca-certificates, and passwd (groupadd, useradd)."""
BUILDER = "podshm-docker-base/1"
"""Bump when the recipe (hooks, packages' meaning, import options) changes."""
REPO = "podshm.local/debian-bookworm"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
IMPORT_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["/bin/bash"]',
)
"""``docker import --change`` lines: an imported tarball has no config, not even PATH."""
HOOK = 'rm -f "$1/etc/resolv.conf" "$1/etc/hostname"'
"""The engine provides both at run time; the host's must not end up in the image."""


def cache_key(packages: list[str], ca_bundle_digest: str) -> str:
    """12 hex digits naming the base: resolved ``name=version`` list, CA bundle, recipe."""
    return content_tag(
        {"builder": BUILDER, "packages": sorted(packages), "ca_bundle": ca_bundle_digest}
    )


def image_ref(key: str) -> str:
    """The reference the base is imported as."""
    return f"{REPO}:{key}"


def import_command(tar: Path, ref: str) -> list[str]:
    """``docker import`` arguments (pure, so unit tests read what the engine gets)."""
    args = ["import"]
    for change in IMPORT_CHANGES:
        args += ["--change", change]
    return [*args, str(tar), ref]


def _bundle_digest(bundle: Path) -> str:
    if not bundle.is_file():
        raise PodshmError(
            f"no CA bundle at {bundle}", "apt-get install ca-certificates on this machine"
        )
    return hashlib.sha256(bundle.read_bytes()).hexdigest()


def _has_image(ref: str) -> bool:
    proc = docker_engine.docker("image", "inspect", ref, capture_output=True, check=False)
    return proc.returncode == 0


def base_image(log: TextIO = sys.stderr) -> str:
    """Build (cached) and import the base into podshm's engine; return its reference.

    Starts podshm's Docker engine if it is not running: the caller stops it
    (``podshm cluster down --provider kind``).
    """
    key = cache_key(mmdebstrap.package_set(PACKAGES), _bundle_digest(CA_BUNDLE))
    ref = image_ref(key)
    docker_engine.start(log)
    if _has_image(ref):
        return ref
    cache = cache_root() / "images" / "docker-base"
    cache.mkdir(parents=True, exist_ok=True)
    tar = cache / f"debian-bookworm-{key}.tar"
    if not tar.is_file():
        started = time.monotonic()
        print("podshm: docker base: mmdebstrap a Debian bookworm root ...", file=log, flush=True)
        with tempfile.TemporaryDirectory(dir=cache, prefix=".base-") as tmp:
            staging = Path(tmp, "staging")
            certs = staging / CA_BUNDLE.relative_to("/")
            certs.parent.mkdir(parents=True)
            shutil.copyfile(CA_BUNDLE, certs)
            partial = Path(tmp, "root.tar")
            hooks = [HOOK, mmdebstrap.sync_in(staging, "/")]
            mmdebstrap.build_root(
                partial, PACKAGES, hooks, lambda m: print(m, file=log, flush=True)
            )
            partial.rename(tar)
        print(
            f"podshm: docker base: root built in {time.monotonic() - started:.0f}s",
            file=log,
            flush=True,
        )
    print(f"podshm: docker base: importing {ref} ...", file=log, flush=True)
    proc = docker_engine.docker(*import_command(tar, ref), capture_output=True, check=False)
    if proc.returncode != 0:
        raise PodshmError(
            f"docker import of {tar} failed: {proc.stderr.strip()}",
            "is podshm's Docker engine healthy? (podshm cluster status --provider kind)",
        )
    return ref


def engine_client() -> Path:
    """The ``docker`` client packaged with the engine's ``dockerd`` (/usr/bin beside /usr/sbin)."""
    dockerd = Path(docker_engine.dockerd_path()).resolve()
    client = dockerd.parent.parent / "bin" / "docker"
    if client.is_file():
        return client
    found = shutil.which("docker")
    if not found:
        raise PodshmError("no docker client on PATH", "apt-get install docker.io")
    return Path(found)


def env_exports(host: str, bin_dir: Path) -> list[str]:
    """The shell lines of ``podshm cluster docker-env`` (pure, so unit tests read them)."""
    return [
        f"export DOCKER_HOST={shlex.quote(host)}",
        "export DOCKER_BUILDKIT=1",
        "unset DOCKER_CONTEXT",
        f"export PATH={shlex.quote(str(bin_dir))}:$PATH",
    ]


def tool_dir(kind: Path, docker: Path) -> Path:
    """A directory of two links, ``kind`` and ``docker``, for the front of PATH."""
    path = cache_root() / "bin" / "docker-env"
    path.mkdir(parents=True, exist_ok=True)
    for name, target in (("kind", kind), ("docker", docker)):
        link = path / name
        tmp = path / f".{name}.tmp"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target)
        os.replace(tmp, link)
    return path
