"""The test image's Debian root filesystem: python3 and the helpers, made by mmdebstrap
(:mod:`.mmdebstrap`) from this machine's apt sources, the helpers' /usr/local tree synced in
and checked inside the root before it becomes a layer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from podshm.image import mmdebstrap as mmdebstrap_mod
from podshm.image.wheels import SITE_PACKAGES

VARIANT = mmdebstrap_mod.ESSENTIAL
INCLUDE = ("python3",)

USER_NAME = "podshm"
USER_ID = 65532
"""The distroless "nonroot" id: a fixed number so Pod Security "restricted" can use it."""

USER_HOOK = f"""\
set -eu
root="$1"
echo '{USER_NAME}:x:{USER_ID}:{USER_ID}:podshm:/nonexistent:/usr/sbin/nologin' >> "$root/etc/passwd"
echo '{USER_NAME}:x:{USER_ID}:' >> "$root/etc/group"
# Runtimes bind-mount these; the build host's copies must not leak into the image.
rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
"""
"""Every pod image's first customize hook: the user its pods run as (a name for the number,
which programs such as PostgreSQL's look up), and no host files left in ``/etc``."""

CUSTOMIZE_SCRIPT = f"""\
set -eu
root="$1"
chroot "$root" python3 -m compileall -q --invalidation-mode checked-hash \\
    /usr/local/{SITE_PACKAGES}
# Fail the build, not a pod, if the helpers need anything the image lacks.
chroot "$root" python3 -c 'import podshm, posix_ipc, sysv_ipc'
chroot "$root" /usr/local/bin/podshm-ipc --help > /dev/null
chroot "$root" /usr/local/bin/podshm-ipcbench --version > /dev/null
"""
"""Runs on the host with the rootfs as $1, after the /usr/local payload is copied in."""


def mmdebstrap_command(
    sources_file: Path, staging: Path, output: Path, mmdebstrap: str = "mmdebstrap"
) -> list[str]:
    """The test image's mmdebstrap invocation: the helpers' /usr/local tree synced in, then
    the customize script (pure, so tests can inspect it)."""
    hooks = [mmdebstrap_mod.sync_in(staging, "/usr/local"), USER_HOOK, CUSTOMIZE_SCRIPT]
    return mmdebstrap_mod.command(sources_file, output, INCLUDE, hooks, VARIANT, mmdebstrap)


def build_rootfs_tar(
    sources_text: str,
    staging: Path,
    output: Path,
    progress: Callable[[str], None] = lambda msg: None,
) -> None:
    """Run mmdebstrap to write the test image's root filesystem tarball to ``output``."""
    program = mmdebstrap_mod.mmdebstrap_program()
    mmdebstrap_mod.run(
        sources_text,
        lambda sources: mmdebstrap_command(sources, staging, output, program),
        output,
        progress,
    )
