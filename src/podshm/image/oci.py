"""Deterministic OCI image archives, written with the standard library only.

Why not a tool: nothing here may pull or push, Docker has no daemon on the machines this
runs on, and the archive must be byte-identical for identical inputs so a rebuild can be
recognised as a no-op. The layers come from :mod:`.layers`; the archive is an OCI image
layout (``oci-layout``, ``index.json``, ``blobs/sha256/...``) plus Docker's
``manifest.json``: ``ctr images import``, ``kind load image-archive`` and ``docker load``
all accept the same file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podshm.cache import canonical_json
from podshm.image.layers import EPOCH, Layer

CREATED = "1970-01-01T00:00:00Z"
"""The image's ``created`` date: ``layers.EPOCH``."""

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"


def oci_arch(machine: str | None = None) -> str:
    """Map ``uname -m`` to the GOARCH-style name that OCI platforms use."""
    machine = machine or platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le"}.get(
        machine, machine
    )


@dataclass(frozen=True)
class ImageConfig:
    """The runtime defaults recorded in the image config (``docker inspect`` shows them)."""

    user: str = ""
    env: tuple[str, ...] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    working_dir: str = "/"
    labels: dict[str, str] = field(default_factory=dict)


def image_config_json(config: ImageConfig, layers: list[Layer], history: str, arch: str) -> bytes:
    """The OCI image config blob: runtime defaults plus the layers' diff_ids."""
    runtime: dict[str, Any] = {"Env": list(config.env), "WorkingDir": config.working_dir}
    if config.user:
        runtime["User"] = config.user
    if config.entrypoint:
        runtime["Entrypoint"] = list(config.entrypoint)
    if config.cmd:
        runtime["Cmd"] = list(config.cmd)
    if config.labels:
        runtime["Labels"] = dict(config.labels)
    return canonical_json(
        {
            "architecture": arch,
            "os": "linux",
            "created": CREATED,
            "config": runtime,
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
            "history": [{"created": CREATED, "created_by": history} for _ in layers],
        }
    )


def _descriptor(media_type: str, data: bytes) -> dict[str, Any]:
    return {
        "mediaType": media_type,
        "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }


def index_json(ref: str, manifest: dict[str, Any], arch: str) -> bytes:
    """index.json naming the image for both containerd and plain OCI tools."""
    descriptor = dict(manifest)
    descriptor["platform"] = {"architecture": arch, "os": "linux"}
    descriptor["annotations"] = {ANNOTATION_CONTAINERD_NAME: ref, ANNOTATION_REF_NAME: ref}
    return canonical_json({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [descriptor]})


def _tar_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, EPOCH
    tar.addfile(info, io.BytesIO(data))


def _tar_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, EPOCH
    tar.addfile(info)


@dataclass(frozen=True)
class WrittenArchive:
    """What ``write_oci_archive`` produced; the manifest digest identifies the image."""

    path: Path
    manifest_digest: str
    config_digest: str
    size: int


def write_oci_archive(
    dest: Path,
    ref: str,
    layers: list[Layer],
    config: ImageConfig,
    history: str,
    arch: str | None = None,
) -> WrittenArchive:
    """Write the OCI layout tarball atomically (temp file, then rename) to ``dest``."""
    arch = arch or oci_arch()
    config_blob = image_config_json(config, layers, history, arch)
    config_desc = _descriptor(MEDIA_CONFIG, config_blob)
    manifest_blob = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": config_desc,
            "layers": [
                {"mediaType": MEDIA_LAYER_GZIP, "digest": layer.digest, "size": layer.size}
                for layer in layers
            ],
        }
    )
    manifest_desc = _descriptor(MEDIA_MANIFEST, manifest_blob)
    docker_manifest = canonical_json(
        [
            {
                "Config": "blobs/sha256/" + config_desc["digest"].split(":", 1)[1],
                "RepoTags": [ref],
                "Layers": ["blobs/sha256/" + layer.digest.split(":", 1)[1] for layer in layers],
            }
        ]
    )
    blobs: dict[str, bytes | Path] = {
        config_desc["digest"]: config_blob,
        manifest_desc["digest"]: manifest_blob,
    }
    for layer in layers:
        blobs[layer.digest] = layer.path

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w|") as tar:
            _tar_dir(tar, "blobs")
            _tar_dir(tar, "blobs/sha256")
            for digest in sorted(blobs):
                name = "blobs/sha256/" + digest.split(":", 1)[1]
                blob = blobs[digest]
                if isinstance(blob, bytes):
                    _tar_bytes(tar, name, blob)
                else:
                    info = tarfile.TarInfo(name)
                    info.size, info.mode, info.mtime = blob.stat().st_size, 0o644, EPOCH
                    with open(blob, "rb") as fh:
                        tar.addfile(info, fh)
            _tar_bytes(tar, "index.json", index_json(ref, manifest_desc, arch))
            _tar_bytes(tar, "manifest.json", docker_manifest)
            _tar_bytes(tar, "oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"}))
        tmp.chmod(0o644)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return WrittenArchive(
        path=dest,
        manifest_digest=manifest_desc["digest"],
        config_digest=config_desc["digest"],
        size=dest.stat().st_size,
    )


def read_archive_index(archive: Path) -> dict[str, Any]:
    """Return index.json of an OCI archive (used by tests and ``image load``)."""
    with tarfile.open(archive, "r:") as tar:
        member = tar.extractfile("index.json")
        if member is None:
            raise ValueError(f"{archive}: index.json is not a file")
        return json.loads(member.read())


def archive_ref(archive: Path) -> str:
    """The image reference an archive written by :func:`write_oci_archive` carries."""
    manifest = read_archive_index(archive)["manifests"][0]
    return str(manifest["annotations"][ANNOTATION_CONTAINERD_NAME])
