"""Which mount covers a path, read from /proc/self/mountinfo (fallback /proc/mounts).

Containers often stack mounts on /dev/shm (the runtime's own tmpfs, then a pod volume), so
the covering mount is chosen by the path's device number, not just by the longest prefix.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


class Mount(NamedTuple):
    """One mount-table line; ``dev`` is "major:minor" ("" when read from /proc/mounts).

    A NamedTuple, not a dataclass: dataclasses (and the inspect module it imports) were a
    sixth of a helper's start-up, paid by every exec."""

    mount_point: str
    fs_type: str
    source: str
    mount_options: tuple[str, ...]
    super_options: tuple[str, ...]
    dev: str


def _unescape(field: str) -> str:
    """The kernel writes space, tab, newline and backslash in paths as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _parse_mountinfo(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")  # optional fields end with a lone "-"
        fs_type, source, supers = [*fields[sep + 1 : sep + 4], "", "", ""][:3]
        mounts.append(
            Mount(
                mount_point=_unescape(fields[4]),
                fs_type=fs_type,
                source=_unescape(source),
                mount_options=tuple(fields[5].split(",")),
                super_options=tuple(supers.split(",")) if supers else (),
                dev=fields[2],
            )
        )
    return mounts


def _parse_proc_mounts(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            options = tuple(fields[3].split(","))
            mounts.append(
                Mount(_unescape(fields[1]), fields[2], _unescape(fields[0]), options, (), "")
            )
    return mounts


def read_mounts() -> list[Mount]:
    """This process's mount table, in mount order (later entries sit on top)."""
    try:
        with open("/proc/self/mountinfo") as f:
            return _parse_mountinfo(f.read())
    except OSError:
        with open("/proc/mounts") as f:
            return _parse_proc_mounts(f.read())


def covering_mount(path: str, mounts: list[Mount] | None = None) -> Mount | None:
    """The mount ``path`` lives on: deepest mount point, same device, topmost when stacked."""
    real = os.path.realpath(path)
    st_dev = os.stat(real).st_dev
    dev = f"{os.major(st_dev)}:{os.minor(st_dev)}"
    table = read_mounts() if mounts is None else mounts
    candidates = [
        (len(m.mount_point), index, m)
        for index, m in enumerate(table)
        if real == m.mount_point
        or real.startswith(m.mount_point.rstrip("/") + "/")
        or m.mount_point == "/"
    ]
    same_dev = [c for c in candidates if c[2].dev == dev]
    best = max(same_dev or candidates, default=None, key=lambda c: (c[0], c[1]))
    return best[2] if best else None


def parse_size(text: str) -> int | None:
    """tmpfs-style size ("65536k", "64m", "4194304") in bytes; None for "50%" or garbage."""
    match = re.fullmatch(r"(\d+)([kmgtp]?)", text.strip().lower())
    if not match:
        return None
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


def size_option(mount: Mount) -> tuple[str | None, int | None]:
    """The raw ``size=`` mount option and its value in bytes, if the mount has one."""
    for option in (*mount.mount_options, *mount.super_options):
        if option.startswith("size="):
            raw = option.removeprefix("size=")
            return raw, parse_size(raw)
    return None, None
