"""This machine's mounts below a directory: what a provider's ``down`` must leave none of."""

from __future__ import annotations

import subprocess
from pathlib import Path


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root`` (from mountinfo), deepest first.

    ``root`` itself or a path below it: a sibling that merely starts with the same name
    (``/var/lib/podshm-kind`` beside ``/var/lib/podshm``) is not below it.
    """
    prefix = str(root.resolve()) if root.exists() else str(root)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return sorted(set(points), key=lambda p: p.count("/"), reverse=True)


def unmount_all(root: Path) -> list[str]:
    """Lazily unmount everything below ``root`` (overlay rootfs, shm, tmpfs volumes, netns)."""
    done = []
    for _ in range(5):  # stacked mounts reappear underneath: repeat until none is left
        points = mounts_under(root)
        if not points:
            break
        for point in points:
            subprocess.run(["umount", "-l", point], capture_output=True)
            done.append(point)
    return done
