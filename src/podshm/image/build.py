"""Build podshm's Debian images (the test image here, the workload image in :mod:`.workload`)
and the pod sandbox (pause) image, offline and cached.

The images are OCI archives in the cache (``$PODSHM_CACHE_DIR/images``, default
``~/.cache/podshm/images``). Each archive's name carries a hash of everything
that goes into it, computed *before* building: if that archive already exists
the build is a no-op, so tests and cluster bring-up can call these functions
every time at the cost of one ``apt-get --simulate``.

The test image is Debian bookworm (mmdebstrap, from the host's apt sources)
with python3, podshm and the sysv_ipc/posix_ipc wheels, plus the benchmark's
static C inner loop /usr/local/bin/podshm-ipcbench; it runs as uid 65532 and
sleeps by default, so pods exec the ``podshm-ipc`` helpers into it. The
pause image is Kubernetes' pause.c compiled statically, one file, uid 65535.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from podshm import testimage
from podshm.cache import cache_root, content_tag
from podshm.data import data_path
from podshm.errors import PodshmError
from podshm.image import aptsources, layers, mmdebstrap, native, oci, rootfs, wheels
from podshm.podimages import TEST, PodImage

BUILDER_VERSION = 1
"""Bump when the recipe changes in a way the hashed inputs do not show."""

KEEP_TEST_IMAGES = 3
"""Older test-image archives are deleted: every edit of the helper programs makes a new one."""


def pod_image_config(title: str, description: str) -> oci.ImageConfig:
    """The OCI config every podshm pod image shares: non-root, kept alive by ``sleep``."""
    return oci.ImageConfig(
        user=f"{rootfs.USER_ID}:{rootfs.USER_ID}",
        cmd=("sleep", "infinity"),
        working_dir="/",
        labels={
            "org.opencontainers.image.title": title,
            "org.opencontainers.image.description": description,
            "org.opencontainers.image.licenses": "Apache-2.0",
        },
    )


TEST_IMAGE_CONFIG = pod_image_config("podshm-test", "podshm IPC helpers (podshm-ipc) on Debian")

PAUSE_VERSION = "3.10.2"
"""kubeadm's PauseVersion in Kubernetes v1.37 (cmd/kubeadm/app/constants)."""
PAUSE_IMAGE_REF = f"podshm.local/pause:{PAUSE_VERSION}"
"""A local name: the local cluster's containerd is configured with it as its sandbox image."""
PAUSE_CFLAGS = ("-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{PAUSE_VERSION}-podshm")
"""As upstream's build/pause/Makefile, with a version string that says who built it."""
PAUSE_IMAGE_CONFIG = oci.ImageConfig(
    user="65535:65535", entrypoint=("/pause",), env=(), working_dir="/"
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuiltImage:
    """An image archive ready for ``load_image``; ``cached`` says no build was needed."""

    ref: str
    archive_path: Path
    manifest_digest: str
    size_bytes: int
    cached: bool

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``podshm image build --json``."""
        data = asdict(self)
        data["archive_path"] = str(self.archive_path)
        return data


def stderr_progress() -> Progress:
    """A progress printer for long steps: one stderr line each, with elapsed seconds."""
    start = time.monotonic()

    def report(message: str) -> None:
        print(f"podshm image: [{time.monotonic() - start:6.1f}s] {message}", file=sys.stderr)

    return report


def quiet(message: str) -> None:
    """The progress printer of a caller that wants none."""


def images_dir(root: Path | None = None) -> Path:
    """Where the image archives live (``<cache>/images``)."""
    return (root or cache_root()) / "images"


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialise builds sharing a cache (e.g. pytest-xdist workers): the loser reuses.

    Holding the lock also means no build is running, so work directories left by
    a killed build can go.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for stale in directory.glob(".build-*"):
            shutil.rmtree(stale, ignore_errors=True)
        for partial in directory.glob("*.tmp"):
            partial.unlink(missing_ok=True)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def config_inputs(config: oci.ImageConfig) -> dict[str, Any]:
    """An image config as hashable inputs (its tag changes with the config)."""
    data = asdict(config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def gather_test_image_inputs(
    cache: Path, apt_sources: Path | None = None, progress: Progress = quiet
) -> dict[str, Any]:
    """Everything the test image is made of, as hashable data.

    Fetches the dependency wheels into the cache if they are missing (once).
    """
    pkg_dir = testimage.package_dir()
    sources = (
        aptsources.read_sources_file(apt_sources) if apt_sources else aptsources.host_apt_sources()
    )
    wheel_files = wheels.ensure_wheels(
        cache / "wheels", wheels.pinned_requirements(), progress=progress
    )
    return {
        "builder": BUILDER_VERSION,
        "arch": oci.oci_arch(),
        "suite": aptsources.SUITE,
        "variant": rootfs.VARIANT,
        "include": list(rootfs.INCLUDE),
        "merged_usr_hooks": mmdebstrap.MERGED_USR_HOOKS.is_dir(),
        "dpkg_options": list(mmdebstrap.DPKG_OPTIONS),
        "customize": [rootfs.USER_HOOK, rootfs.CUSTOMIZE_SCRIPT],
        "apt_sources": sources,
        "packages": mmdebstrap.package_set(rootfs.INCLUDE),
        "wheels": {p.name: layers.sha256_file(p) for p in wheel_files},
        "podshm_version": testimage.package_version(),
        "podshm_source": testimage.source_digest(pkg_dir),
        "scripts": dict(wheels.IMAGE_SCRIPTS),
        "ipcbench": native.ipcbench_inputs(),
        "config": config_inputs(TEST_IMAGE_CONFIG),
    }


def _write_metadata(image: BuiltImage, inputs: dict[str, Any]) -> None:
    meta = {**image.to_json(), "inputs": inputs}
    del meta["cached"]
    path = image.archive_path.with_suffix(".json")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _cached(archive: Path, ref: str) -> BuiltImage | None:
    """The image at ``archive`` if it was completely written (rename is the last step)."""
    if not archive.is_file():
        return None
    meta_path = archive.with_suffix(".json")
    try:
        digest = json.loads(meta_path.read_text())["manifest_digest"]
    except (OSError, ValueError, KeyError):
        digest = oci.read_archive_index(archive)["manifests"][0]["digest"]
    return BuiltImage(ref, archive, digest, archive.stat().st_size, cached=True)


def build_debian_image(
    kind: PodImage,
    inputs: dict[str, Any],
    config: oci.ImageConfig,
    make_root: Callable[[Path, Path, Progress], None],
    *,
    root: Path,
    force: bool,
    keep: int,
    report: Progress,
) -> BuiltImage:
    """Build (or reuse) one of podshm's Debian images from its ``inputs`` (the tag hashes
    them): ``make_root(work_dir, rootfs_tar, report)`` writes the root filesystem tarball,
    which becomes the one deterministic layer of an OCI archive in the cache; older archives
    of the kind beyond ``keep`` are pruned."""
    out_dir = images_dir(root)
    tag = kind.tag_for(content_tag(inputs))
    ref = f"{kind.repo}:{tag}"
    archive = out_dir / f"{kind.archive_prefix}{tag}.oci.tar"
    with _locked(out_dir):
        if not force and (hit := _cached(archive, ref)) is not None:
            report(f"up to date, no rebuild: {archive}")
            return hit
        with tempfile.TemporaryDirectory(prefix=".build-", dir=out_dir) as tmp:
            work = Path(tmp)
            rootfs_tar = work / "rootfs.tar"
            make_root(work, rootfs_tar, report)
            report("writing the deterministic layer (sorted, mtime 0, gzip)")
            layer = layers.layer_from_tar(
                rootfs_tar, work / "layer.tar.gz", exclude=lambda n: n.startswith("dev/")
            )
            rootfs_tar.unlink()
            written = oci.write_oci_archive(
                archive,
                ref,
                [layer],
                config,
                history=f"podshm image build {BUILDER_VERSION}: mmdebstrap {aptsources.SUITE}",
            )
        image = BuiltImage(ref, archive, written.manifest_digest, written.size, cached=False)
        _write_metadata(image, inputs)
        _prune(out_dir, kind.archive_prefix, keep, archive)
        report(f"wrote {archive} ({written.size / 1e6:.1f} MB)")
        return image


def build_test_image(
    *,
    cache_dir: Path | None = None,
    force: bool = False,
    apt_sources: Path | None = None,
    progress: Progress | None = None,
) -> BuiltImage:
    """Build (or reuse) the test image; returns its reference and archive.

    ``cache_dir`` is podshm's cache root (default ``cache_root()``); ``force``
    rebuilds even when the archive exists; ``apt_sources`` replaces the host's
    apt configuration with a file of deb822 or one-line entries.
    """
    report = progress or quiet
    root = cache_dir or cache_root()
    report("resolving inputs (package set from the host's apt lists, wheels, podshm source)")
    inputs = gather_test_image_inputs(root, apt_sources, report)

    def make_root(work: Path, rootfs_tar: Path, report: Progress) -> None:
        staging = work / "usr-local"
        report("staging podshm and wheels for /usr/local")
        wheel_files = [root / "wheels" / name for name in sorted(inputs["wheels"])]
        wheels.stage_usr_local(
            staging, wheel_files, testimage.package_dir(), inputs["podshm_version"]
        )
        source = native.find_ipcbench_source()
        report(f"gcc {' '.join(native.IPCBENCH_CFLAGS)} {source}")
        native.build_ipcbench(staging / "bin" / native.IPCBENCH_NAME, source)
        staged = testimage.source_digest(staging / wheels.SITE_PACKAGES / "podshm")
        if (
            staged != inputs["podshm_source"]
            or layers.sha256_file(source) != inputs["ipcbench"]["source"]
        ):
            raise PodshmError(
                "podshm's source files changed while the image was being built",
                "run the build again once the edits are saved",
            )
        report(f"mmdebstrap {aptsources.SUITE} ({rootfs.VARIANT} + {','.join(rootfs.INCLUDE)})")
        rootfs.build_rootfs_tar(inputs["apt_sources"], staging, rootfs_tar, report)

    return build_debian_image(
        TEST,
        inputs,
        TEST_IMAGE_CONFIG,
        make_root,
        root=root,
        force=force,
        keep=KEEP_TEST_IMAGES,
        report=report,
    )


def _prune(out_dir: Path, prefix: str, keep: int, current: Path) -> None:
    archives = sorted(out_dir.glob(f"{prefix}*.oci.tar"), key=lambda p: p.stat().st_mtime)
    for old in [p for p in archives if p != current][: max(0, len(archives) - keep)]:
        old.unlink(missing_ok=True)
        old.with_suffix(".json").unlink(missing_ok=True)


def find_pause_source() -> Path:
    """Kubernetes' pause.c, vendored as package data (images/pause/)."""
    return data_path("images", "pause", "pause.c")


def pause_image_inputs(source: Path) -> dict[str, Any]:
    """The pause image's inputs: source, flags, compiler and the static libc it links."""
    return {
        "builder": BUILDER_VERSION,
        "arch": oci.oci_arch(),
        "pause_c": layers.sha256_file(source),
        "cflags": list(PAUSE_CFLAGS),
        **native.toolchain_inputs(),
        "config": config_inputs(PAUSE_IMAGE_CONFIG),
    }


def build_pause_image(
    *,
    cache_dir: Path | None = None,
    force: bool = False,
    ref: str = PAUSE_IMAGE_REF,
    progress: Progress | None = None,
) -> BuiltImage:
    """Build (or reuse) the sandbox image, named ``PAUSE_IMAGE_REF`` by default, from pause.c.

    The default reference is the one Kubernetes 1.37 expects, so runtimes
    configured with the default sandbox image find it; the archive name carries
    the input hash, so a changed compiler or libc rebuilds it.
    """
    report = progress or quiet
    out_dir = images_dir(cache_dir)
    source = find_pause_source()
    inputs = {**pause_image_inputs(source), "ref": ref}
    archive = out_dir / f"pause-{PAUSE_VERSION}-{content_tag(inputs)}.oci.tar"
    with _locked(out_dir):
        if not force and (hit := _cached(archive, ref)) is not None:
            report(f"up to date, no rebuild: {archive}")
            return hit
        with tempfile.TemporaryDirectory(prefix=".build-", dir=out_dir) as tmp:
            binary = Path(tmp, "pause")
            report(f"gcc {' '.join(PAUSE_CFLAGS)} {source}")
            native.compile_static(source, binary, PAUSE_CFLAGS)
            entry = layers.FileEntry("pause", binary.read_bytes(), mode=0o755)
            layer = layers.layer_from_entries([entry], Path(tmp, "layer.tar.gz"))
            written = oci.write_oci_archive(
                archive,
                ref,
                [layer],
                PAUSE_IMAGE_CONFIG,
                history=f"podshm image build {BUILDER_VERSION}: gcc -static pause.c",
            )
        image = BuiltImage(ref, archive, written.manifest_digest, written.size, cached=False)
        _write_metadata(image, inputs)
        report(f"wrote {archive} ({written.size / 1e3:.0f} kB)")
        return image
