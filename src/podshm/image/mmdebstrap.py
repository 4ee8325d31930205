"""mmdebstrap, the one way podshm makes a Debian root: the command, its run, its package set.

The test image's root (:mod:`.rootfs`), kind's node and base images and the VM node's root
are all tarballs made here from this machine's apt sources (:mod:`.aptsources`),
reproducibly (``SOURCE_DATE_EPOCH``), each keyed in the cache by the ``name=version`` set its
packages resolve to (``apt-get --simulate`` against an empty dpkg status: no download).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from podshm.errors import PodshmError
from podshm.image.aptsources import SUITE, host_apt_sources

MERGED_USR_HOOKS = Path("/usr/share/mmdebstrap/hooks/merged-usr")
"""Shipped with mmdebstrap: merged /usr via usr-is-merged instead of usrmerge (and perl)."""
DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/lintian/*",
    "path-exclude=/usr/share/bash-completion/*",
)
SOURCE_DATE_EPOCH = "0"
"""mmdebstrap clamps mtimes to it and Python writes hash-checked .pyc files under it,
so the .pyc stay valid once the layer writer zeroes every mtime."""
ESSENTIAL = "essential"
"""Essential:yes packages (coreutils, util-linux, ...) only: no apt, no perl modules."""


def command(
    sources_file: Path,
    output: Path,
    include: Sequence[str],
    hooks: Sequence[str] = (),
    variant: str = ESSENTIAL,
    mmdebstrap: str = "mmdebstrap",
    *,
    essential_hooks: Sequence[str] = (),
    dpkg_options: Sequence[str] = (),
) -> list[str]:
    """The mmdebstrap invocation (pure, so unit tests can read it): ``hooks`` customize the
    finished root, ``essential_hooks`` run before the included packages are installed (their
    maintainer scripts see what they write), ``dpkg_options`` add to :data:`DPKG_OPTIONS`."""
    cmd = [mmdebstrap, f"--variant={variant}", "--mode=auto", "--format=tar"]
    cmd.append("--include=" + ",".join(include))
    if MERGED_USR_HOOKS.is_dir():
        cmd.append(f"--hook-dir={MERGED_USR_HOOKS}")
    cmd += [f"--dpkgopt={opt}" for opt in (*DPKG_OPTIONS, *dpkg_options)]
    cmd += [f"--essential-hook={hook}" for hook in essential_hooks]
    cmd += [f"--customize-hook={hook}" for hook in hooks]
    return [*cmd, SUITE, str(output), str(sources_file)]


def sync_in(staging: Path, target: str = "/") -> str:
    """A customize hook that copies ``staging`` into the root at ``target``."""
    return f"sync-in {shlex.quote(str(staging))} {shlex.quote(target)}"


def mmdebstrap_program() -> str:
    """mmdebstrap's path, or one error saying how to get it."""
    found = shutil.which("mmdebstrap")
    if found is None:
        raise PodshmError(
            "mmdebstrap not found on PATH: podshm builds its Debian roots with it",
            "run scripts/install-image-deps.sh (apt-get install mmdebstrap)",
        )
    return found


def build_root(
    output: Path,
    include: Sequence[str],
    hooks: Sequence[str] = (),
    progress: Callable[[str], None] = lambda msg: None,
    sources_text: str | None = None,
) -> None:
    """Write a root filesystem tarball to ``output`` (this machine's apt sources unless
    ``sources_text``); mmdebstrap's I:/W:/E: lines are progress."""
    program = mmdebstrap_program()
    run(
        host_apt_sources() if sources_text is None else sources_text,
        lambda sources: command(sources, output, include, hooks, mmdebstrap=program),
        output,
        progress,
    )


_INST = re.compile(r"^Inst (\S+) \((\S+) ")


def package_set(packages: Iterable[str], apt_get: str = "apt-get") -> list[str]:
    """``name=version`` of everything mmdebstrap would install, from the host's lists.

    Simulating an install onto an empty dpkg status gives the full dependency
    closure without downloading anything; it is the tag's stand-in for "the
    package set", so it only needs to change when the image's packages would.
    """
    if shutil.which(apt_get) is None:
        raise PodshmError(
            f"{apt_get} not found: the image is built from Debian packages",
            "build on Debian or Ubuntu with apt (see scripts/install-image-deps.sh)",
        )
    wanted = ["?essential", *packages]
    if MERGED_USR_HOOKS.is_dir():
        wanted.append("usr-is-merged")  # what the merged-usr hook installs
    proc = subprocess.run(
        [
            *(apt_get, "--simulate", "--quiet", "-o", "Dir::State::status=/dev/null"),
            *("-o", "APT::Install-Recommends=false", "-o", "Debug::NoLocking=true"),
            *("install", *wanted),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )
    found = sorted(
        {f"{m[1]}={m[2]}" for line in proc.stdout.splitlines() if (m := _INST.match(line))}
    )
    if proc.returncode != 0 or not found:
        tail = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["?"])[-1]
        raise PodshmError(
            f"apt cannot resolve the image's packages from this machine's package lists: {tail}",
            "run 'apt-get update' (the image uses the apt sources this machine is configured with)",
        )
    return found


def run(
    sources_text: str,
    command: Callable[[Path], list[str]],
    output: Path,
    progress: Callable[[str], None],
) -> None:
    """Run ``command(sources_file)`` with the apt sources in a deb822 file, reproducibly
    (SOURCE_DATE_EPOCH); relay mmdebstrap's I:/W:/E: lines as progress and keep the last
    lines for the error if it fails (the partial ``output`` is removed)."""
    with tempfile.TemporaryDirectory(prefix="podshm-apt-") as tmp:
        # The .sources suffix tells mmdebstrap the file is deb822.
        sources_file = Path(tmp, "podshm.sources")
        sources_file.write_text(sources_text)
        env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "LC_ALL": "C.UTF-8"}
        tail: list[str] = []
        with subprocess.Popen(
            command(sources_file),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip()
                tail = [*tail[-19:], line]
                if line.startswith(("I: ", "W: ", "E: ")):
                    progress("mmdebstrap " + line)
            returncode = proc.wait()
    if returncode != 0:
        output.unlink(missing_ok=True)
        print("\n".join(tail), file=sys.stderr)
        raise PodshmError(
            f"mmdebstrap failed (exit {returncode}): {tail[-1] if tail else 'no output'}",
            "read the mmdebstrap output above; 'apt-get update' and "
            "scripts/install-image-deps.sh fix the usual causes",
        )
