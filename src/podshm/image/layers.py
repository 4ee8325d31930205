"""Layers of OCI images, written deterministically with the standard library only.

The layer tar is written by hand so identical inputs give byte-identical blobs (a rebuild is
recognised as a no-op): entries sorted by name, every mtime set to ``EPOCH``, numeric
owners only (no user or group names), no device nodes, and gzip with a zero header
timestamp. :mod:`.oci` puts layers into an image archive.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

EPOCH = 0
"""mtime of every entry and the image's ``created`` date (1970-01-01T00:00:00Z)."""
# gzip level 6 is zlib's default: within a few percent of level 9 at half the CPU.
GZIP_LEVEL = 6
_CHUNK = 1 << 20


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
        self._plain = _HashingWriter(self._gz)  # type: ignore[arg-type]  # a GzipFile is IO[bytes]
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


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's content, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
