"""Deterministic OCI image archives, written with the standard library only.

Why not a tool: nothing here may pull or push, Docker has no daemon on the
machines this runs on, and the archive must be byte-identical for identical
inputs so a rebuild can be recognised as a no-op. So the layer tar is written
by hand: entries sorted by name, every mtime set to ``EPOCH``, numeric owners
only (no user or group names), no device nodes, and gzip with a zero header
timestamp. The outer archive is an OCI image layout (``oci-layout``, ``index.json``,
``blobs/sha256/...``) plus Docker's ``manifest.json``: ``ctr images import``, ``kind load
image-archive`` and ``docker load`` all accept the same file.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import platform
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from podshm.cache import canonical_json

EPOCH = 0
"""mtime of every entry and the image's ``created`` date (1970-01-01T00:00:00Z)."""
CREATED = "1970-01-01T00:00:00Z"

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"

# gzip level 6 is zlib's default: within a few percent of level 9 at half the CPU.
GZIP_LEVEL = 6
_CHUNK = 1 << 20


def oci_arch(machine: str | None = None) -> str:
    """Map ``uname -m`` to the GOARCH-style name that OCI platforms use."""
    machine = machine or platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le"}.get(
        machine, machine
    )


class _HashingWriter(io.RawIOBase):
    """A write-only stream that hashes and counts what passes through to ``sink``."""

    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sink.write(view)
        self.sha256.update(view)
        self.size += len(view)
        return len(view)


@dataclass(frozen=True)
class Layer:
    """One gzip-compressed layer blob on disk plus the digests OCI needs for it."""

    path: Path
    digest: str  # sha256 of the compressed blob: the name in blobs/sha256/
    diff_id: str  # sha256 of the uncompressed tar: what the image config lists
    size: int


@dataclass(frozen=True)
class FileEntry:
    """A file, directory or symlink to put in a layer written from scratch."""

    path: str  # inside the image, without a leading slash
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    kind: str = "file"  # "file", "dir" or "symlink"
    target: str = ""  # symlink target


@dataclass(frozen=True)
class ImageConfig:
    """The runtime defaults recorded in the image config (``docker inspect`` shows them)."""

    user: str = ""
    env: tuple[str, ...] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    working_dir: str = "/"
    labels: dict[str, str] = field(default_factory=dict)


def normalize_name(name: str) -> str:
    """Make tar member names relative and slash-free at the ends ("./usr/" -> "usr")."""
    while name.startswith("./"):
        name = name[2:]
    name = name.strip("/")
    return "" if name == "." else name


def _normalized_info(src: tarfile.TarInfo, name: str) -> tarfile.TarInfo:
    """Copy the metadata that matters (type, mode, owner ids, xattrs), drop the rest."""
    info = tarfile.TarInfo(name)
    info.type = src.type
    info.mode = src.mode & 0o7777
    info.uid, info.gid = src.uid, src.gid
    info.uname = info.gname = ""
    info.mtime = EPOCH
    info.size = src.size if src.isreg() else 0
    info.linkname = src.linkname if src.issym() else ""
    info.devmajor, info.devminor = src.devmajor, src.devminor
    # Extended attributes (e.g. file capabilities) are content; timestamps are not.
    info.pax_headers = {
        k: v for k, v in sorted(src.pax_headers.items()) if k.startswith("SCHILY.xattr.")
    }
    return info


class _LayerWriter:
    """A tar stream that is hashed uncompressed (diff_id), gzipped, and hashed again."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self._out = open(dest, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._compressed = _HashingWriter(self._out)
        self._gz = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._compressed, compresslevel=GZIP_LEVEL, mtime=0
        )
        self._plain = _HashingWriter(self._gz)
        self.tar = tarfile.open(  # noqa: SIM115 - closed in close()/abort()
            fileobj=self._plain, mode="w|", format=tarfile.PAX_FORMAT
        )

    def close(self) -> Layer:
        self.tar.close()
        self._gz.close()
        self._out.close()
        return Layer(
            path=self.dest,
            digest="sha256:" + self._compressed.sha256.hexdigest(),
            diff_id="sha256:" + self._plain.sha256.hexdigest(),
            size=self._compressed.size,
        )

    def abort(self) -> None:
        for handle in (self.tar, self._gz, self._out):
            with contextlib.suppress(OSError, ValueError):  # already failed: the error that
                handle.close()  # brought us here is the one to report; the file goes below
        self.dest.unlink(missing_ok=True)


def layer_from_tar(
    src: Path, dest: Path, exclude: Callable[[str], bool] = lambda name: False
) -> Layer:
    """Rewrite a root filesystem tarball (e.g. mmdebstrap's) as a deterministic layer.

    Entries are sorted by name; hard links are re-pointed at whichever member of
    their group sorts first, because a link must never precede its target.
    ``exclude(name)`` drops entries by normalised name.
    """
    with tarfile.open(src, "r:") as source:
        members: dict[str, tarfile.TarInfo] = {}
        for member in source.getmembers():
            name = normalize_name(member.name)
            if name and not exclude(name):
                members[name] = member  # a later duplicate wins, as on extraction
        # Group hard links with their targets.
        group_of: dict[str, str] = {}
        for name, member in members.items():
            if member.islnk():
                target = normalize_name(member.linkname)
                while target in members and members[target].islnk():
                    target = normalize_name(members[target].linkname)
                group_of[name] = target
        groups: dict[str, list[str]] = {}
        for name, target in group_of.items():
            if target in members:
                groups.setdefault(target, [target]).append(name)
        primary: dict[str, str] = {}  # name -> first name of its hard-link group
        for names in groups.values():
            first = min(names)
            for name in names:
                primary[name] = first

        writer = _LayerWriter(dest)
        try:
            for name in sorted(members):
                member = members[name]
                target = group_of.get(name, name)
                if name in primary and primary[name] != name:
                    info = _normalized_info(members[target], name)
                    info.type, info.size, info.linkname = tarfile.LNKTYPE, 0, primary[name]
                    writer.tar.addfile(info)
                    continue
                data_member = members.get(target, member)
                if member.islnk() and not data_member.isreg():
                    continue  # a hard link to an excluded entry: nothing to point at
                info = _normalized_info(data_member, name)
                writer.tar.addfile(info, source.extractfile(data_member) if info.isreg() else None)
        except BaseException:
            writer.abort()
            raise
        return writer.close()


def layer_from_entries(entries: Iterable[FileEntry], dest: Path) -> Layer:
    """Write a layer from in-memory entries (small images such as pause)."""
    writer = _LayerWriter(dest)
    try:
        for entry in sorted(entries, key=lambda e: normalize_name(e.path)):
            info = tarfile.TarInfo(normalize_name(entry.path))
            info.mode, info.uid, info.gid, info.mtime = entry.mode, entry.uid, entry.gid, EPOCH
            if entry.kind == "dir":
                info.type = tarfile.DIRTYPE
                writer.tar.addfile(info)
            elif entry.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, entry.target
                writer.tar.addfile(info)
            else:
                info.size = len(entry.data)
                writer.tar.addfile(info, io.BytesIO(entry.data))
    except BaseException:
        writer.abort()
        raise
    return writer.close()


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


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's content, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
