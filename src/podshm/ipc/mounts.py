"""Which mount covers a path, read from /proc/self/mountinfo (fallback /proc/mounts).

Containers often stack mounts on /dev/shm (the runtime's own tmpfs, then a pod volume), so
the covering mount is chosen by the path's device number, not just by the longest prefix.
"""

from __future__ import annotations

import os

_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_OCTAL = "01234567"


class Mount:
    """One mount-table line; ``dev`` is "major:minor" ("" when read from /proc/mounts).

    A plain class, not a dataclass: ``dataclasses`` imports ``inspect`` and ``re``, a cost
    every helper exec (shm-info reads this) would pay."""

    __slots__ = ("dev", "fs_type", "mount_options", "mount_point", "source", "super_options")

    def __init__(
        self,
        mount_point: str,
        fs_type: str,
        source: str,
        mount_options: tuple[str, ...],
        super_options: tuple[str, ...],
        dev: str,
    ) -> None:
        self.mount_point = mount_point
        self.fs_type = fs_type
        self.source = source
        self.mount_options = mount_options
        self.super_options = super_options
        self.dev = dev

    def _fields(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mount) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return f"Mount({self.mount_point!r}, {self.fs_type!r}, dev={self.dev!r})"


def _unescape(field: str) -> str:
    """The kernel writes space, tab, newline and backslash in paths as octal escapes."""
    parts = field.split("\\")
    out = [parts[0]]
    for part in parts[1:]:
        if len(part) >= 3 and all(c in _OCTAL for c in part[:3]):
            out.append(chr(int(part[:3], 8)) + part[3:])
        else:
            out.append("\\" + part)
    return "".join(out)


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
    text = text.strip().lower()
    unit = text[-1:] if text[-1:] in _SIZE_UNITS else ""
    digits = text[: len(text) - len(unit)]
    if not digits or not all("0" <= c <= "9" for c in digits):
        return None
    return int(digits) * _SIZE_UNITS[unit]


def size_option(mount: Mount) -> tuple[str | None, int | None]:
    """The raw ``size=`` mount option and its value in bytes, if the mount has one."""
    for option in (*mount.mount_options, *mount.super_options):
        if option.startswith("size="):
            raw = option.removeprefix("size=")
            return raw, parse_size(raw)
    return None, None
