"""A cpio archive in the kernel's initramfs format ("newc"), written byte for byte the same
from the same entries: no host clock, owner or inode leaks into it, so the initramfs in the
cache is a pure function of its inputs (and its digest says so).

Written here rather than by ``cpio``/``gen_init_cpio`` because the kernel reads only this one
simple format, and an archive built from a sorted table needs no scratch tree, no root-owned
files and no tool on the host.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from dataclasses import dataclass

TRAILER = "TRAILER!!!"


@dataclass(frozen=True)
class Entry:
    """One member: a directory, a regular file, a symlink or a character device."""

    path: str
    """Relative, no leading slash (``bin/busybox``)."""
    mode: int
    """Type and permission bits (``stat.S_IFREG | 0o755``)."""
    data: bytes = b""
    """The file's bytes, or a symlink's target."""
    rdev: tuple[int, int] = (0, 0)
    """(major, minor) of a device node."""


def directory(path: str, perm: int = 0o755) -> Entry:
    return Entry(path, stat.S_IFDIR | perm)


def regular(path: str, data: bytes, perm: int = 0o644) -> Entry:
    return Entry(path, stat.S_IFREG | perm, data)


def symlink(path: str, target: str) -> Entry:
    return Entry(path, stat.S_IFLNK | 0o777, target.encode())


def char_device(path: str, major: int, minor: int, perm: int = 0o600) -> Entry:
    return Entry(path, stat.S_IFCHR | perm, rdev=(major, minor))


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _member(ino: int, entry: Entry) -> bytes:
    name = entry.path.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(entry.mode) else 1
    fields = (ino, entry.mode, 0, 0, nlink, 0, len(entry.data), 0, 0, *entry.rdev, len(name), 0)
    header = b"070701" + b"".join(b"%08X" % value for value in fields)
    return header + name + _pad(len(header) + len(name)) + entry.data + _pad(len(entry.data))


def archive(entries: Iterable[Entry]) -> bytes:
    """The newc archive of ``entries``, parents before children (sorted by path); a path given
    twice is an error (the kernel would silently keep the last)."""
    ordered = sorted(entries, key=lambda e: e.path.split("/"))
    paths = [e.path for e in ordered]
    if len(set(paths)) != len(paths):
        raise ValueError("a path appears twice in the initramfs")
    members = [_member(ino, entry) for ino, entry in enumerate(ordered, start=1)]
    return b"".join(members) + _member(0, Entry(TRAILER, 0))
