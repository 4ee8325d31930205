"""One Debian package, downloaded by apt and unpacked: how the VM gets its kernel and busybox.

The guest's pieces come from this machine's apt sources like every Debian root podshm makes
(``podshm.image.mmdebstrap``), so no mirror is named here: ``apt-get download`` fetches the
candidate version from the host's lists into a temporary directory, ``dpkg-deb -x`` unpacks it.
Nothing is installed on the host.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from podshm.errors import PodshmError

TIMEOUT = 600.0
"""Seconds for one apt or dpkg-deb call (a kernel package is about 27 MB)."""


@dataclass(frozen=True)
class Candidate:
    """What apt would install for a package name: the version, and what it depends on."""

    package: str
    version: str
    depends: tuple[str, ...]
    """Package names of its ``Depends`` (alternatives and version constraints dropped)."""


def parse_show(text: str) -> Candidate:
    """The first stanza of ``apt-cache show --no-all-versions`` (pure, for unit tests)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] not in " \t" and ":" in line:
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    if "Package" not in fields or "Version" not in fields:
        raise ValueError("no Package or Version field")
    depends = tuple(
        re.split(r"[\s(]", alternative.split("|")[0].strip(), maxsplit=1)[0]
        for alternative in fields.get("Depends", "").split(",")
        if alternative.strip()
    )
    return Candidate(fields["Package"], fields["Version"], depends)


def _run(argv: list[str], cwd: Path | None = None) -> str:
    if shutil.which(argv[0]) is None:
        raise PodshmError(
            f"{argv[0]} not found: the VM node's kernel and busybox come from Debian packages",
            "run podshm on Debian with apt (scripts/bootstrap.sh)",
        )
    try:
        proc = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as err:
        raise PodshmError(
            f"`{' '.join(argv)}` did not finish within {TIMEOUT:.0f}s",
            "check that this machine's apt sources are reachable, then try again",
        ) from err
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        raise PodshmError(
            f"`{' '.join(argv)}` failed (exit {proc.returncode}): {tail}",
            "run 'apt-get update'; the package must exist in this machine's apt sources",
        )
    return proc.stdout


def candidate(package: str) -> Candidate:
    """What apt would install for ``package`` now, from the host's package lists."""
    text = _run(["apt-cache", "show", "--no-all-versions", package])
    try:
        return parse_show(text)
    except ValueError as err:
        raise PodshmError(
            f"apt knows no installable package {package!r}",
            "run 'apt-get update', or name a package of this machine's apt sources",
        ) from err


def unpack(wanted: Candidate, into: Path) -> Path:
    """Download exactly ``wanted`` (name and version) and unpack it below ``into``; the
    ``.deb`` is removed after. Returns ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    download = into / ".deb"
    download.mkdir(exist_ok=True)
    # apt's sandbox user cannot write into root's temporary directories: download as root.
    _run(
        [
            "apt-get",
            "download",
            "-q",
            "-o",
            "APT::Sandbox::User=root",
            f"{wanted.package}={wanted.version}",
        ],
        cwd=download,
    )
    debs = sorted(download.glob("*.deb"))
    if len(debs) != 1:
        raise PodshmError(
            f"apt-get download {wanted.package} left {len(debs)} .deb files",
            "run 'apt-get clean' and try again",
        )
    _run(["dpkg-deb", "-x", str(debs[0]), str(into)])
    shutil.rmtree(download)
    return into
