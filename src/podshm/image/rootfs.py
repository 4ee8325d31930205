"""The test image's Debian bookworm root filesystem, made by mmdebstrap.

Packages come from this machine's own apt sources (/etc/apt/sources.list and
sources.list.d), so the build reaches exactly the mirrors apt already uses and
no mirror is named in this repository. The package set is resolved up front
with ``apt-get --simulate`` against an empty dpkg status, from the host's
package lists: that gives the name=version list the image tag hashes, so a
cached image is reused until the archive's contents would actually change.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from podshm.errors import PodshmError
from podshm.image.wheels import SITE_PACKAGES

SUITE = "bookworm"
"""Bookworm's python3 is 3.11: the ABI the host-built wheels target."""
VARIANT = "essential"
"""Essential:yes packages (coreutils, util-linux, ...) only: no apt, no perl modules."""
INCLUDE = ("python3",)
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

USER_NAME = "podshm"
USER_ID = 65532
"""The distroless "nonroot" id: a fixed number so Pod Security "restricted" can use it."""

CUSTOMIZE_SCRIPT = f"""\
set -eu
root="$1"
echo '{USER_NAME}:x:{USER_ID}:{USER_ID}:podshm helpers:/nonexistent:/usr/sbin/nologin' \\
    >> "$root/etc/passwd"
echo '{USER_NAME}:x:{USER_ID}:' >> "$root/etc/group"
# Runtimes bind-mount these; the build host's copies must not leak into the image.
rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
chroot "$root" python3 -m compileall -q --invalidation-mode checked-hash \\
    /usr/local/{SITE_PACKAGES}
# Fail the build, not a pod, if the helpers need anything the image lacks.
chroot "$root" python3 -c 'import podshm, posix_ipc, sysv_ipc'
chroot "$root" /usr/local/bin/podshm-ipc --help > /dev/null
chroot "$root" /usr/local/bin/podshm-ipcbench --version > /dev/null
"""
"""Runs on the host with the rootfs as $1, after the /usr/local payload is copied in."""

APT_SOURCE_DIRS = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))

# one-line option names -> deb822 field names (sources.list(5))
_ONE_LINE_OPTIONS = {
    "arch": "Architectures",
    "lang": "Languages",
    "target": "Targets",
    "pdiffs": "PDiffs",
    "by-hash": "By-Hash",
    "allow-insecure": "Allow-Insecure",
    "allow-weak": "Allow-Weak",
    "allow-downgrade-to-insecure": "Allow-Downgrade-To-Insecure",
    "trusted": "Trusted",
    "signed-by": "Signed-By",
    "check-valid-until": "Check-Valid-Until",
    "valid-until-min": "Valid-Until-Min",
    "valid-until-max": "Valid-Until-Max",
    "check-date": "Check-Date",
    "date-max-future": "Date-Max-Future",
    "inrelease-path": "InRelease-Path",
}


@dataclass(frozen=True)
class AptSource:
    """One ``deb`` entry, reduced to the suites of the image's release."""

    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    options: tuple[tuple[str, str], ...] = ()  # (deb822 field, value), sorted

    def deb822(self) -> str:
        """This entry as a deb822 stanza (what mmdebstrap pastes into the chroot)."""
        lines = [
            "Types: deb",
            "URIs: " + " ".join(self.uris),
            "Suites: " + " ".join(self.suites),
            "Components: " + " ".join(self.components),
        ]
        for key, value in self.options:
            head, *rest = value.split("\n")
            lines.append(f"{key}: {head}")
            lines.extend(" " + (line if line.strip() else ".") for line in rest)
        return "\n".join(lines) + "\n"


def _suite_matches(suite: str, release: str) -> bool:
    return suite == release or suite.startswith((release + "-", release + "/"))


def parse_deb822(text: str) -> list[dict[str, str]]:
    """Split a deb822 file into stanzas of field -> value (continuations joined by \\n)."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if current:
                stanzas.append(current)
            current, key = {}, ""
            continue
        if raw[0] in " \t" and key:
            line = raw.strip()
            current[key] += "\n" + ("" if line == "." else line)
            continue
        field, _, value = raw.partition(":")
        key = field.strip().lower()
        current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


_FIELD_NAMES = {v.lower(): v for v in _ONE_LINE_OPTIONS.values()}


def sources_from_deb822(text: str, release: str = SUITE) -> list[AptSource]:
    """Enabled ``deb`` stanzas of a .sources file, restricted to ``release``'s suites."""
    found = []
    for stanza in parse_deb822(text):
        if "deb" not in stanza.get("types", "").split():
            continue
        if stanza.get("enabled", "yes").lower() in ("no", "false", "0"):
            continue
        suites = tuple(s for s in stanza.get("suites", "").split() if _suite_matches(s, release))
        if not suites or not stanza.get("uris"):
            continue
        options = tuple(
            sorted(
                (_FIELD_NAMES[k], v)
                for k, v in stanza.items()
                if k in _FIELD_NAMES and k not in ("types", "uris", "suites", "components")
            )
        )
        found.append(
            AptSource(
                uris=tuple(stanza["uris"].split()),
                suites=suites,
                components=tuple(stanza.get("components", "main").split()),
                options=options,
            )
        )
    return found


_ONE_LINE = re.compile(
    r"^deb\s+(?:\[(?P<opts>[^\]]*)\]\s+)?(?P<uri>\S+)\s+(?P<suite>\S+)(?P<rest>.*)$"
)


def sources_from_one_line(text: str, release: str = SUITE) -> list[AptSource]:
    """``deb`` lines of a sources.list file, restricted to ``release``'s suites."""
    found = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        match = _ONE_LINE.match(line)
        if not match or not _suite_matches(match["suite"], release):
            continue
        options = []
        for opt in (match["opts"] or "").split():
            key, _, value = opt.partition("=")
            if key in _ONE_LINE_OPTIONS:
                options.append((_ONE_LINE_OPTIONS[key], value.replace(",", " ")))
        found.append(
            AptSource(
                uris=(match["uri"],),
                suites=(match["suite"],),
                components=tuple(match["rest"].split()) or ("main",),
                options=tuple(sorted(options)),
            )
        )
    return found


def host_apt_sources(paths: Iterable[Path] = APT_SOURCE_DIRS, release: str = SUITE) -> str:
    """The host's apt entries for ``release`` as one deb822 text (stable order).

    Only files apt itself reads count (sources.list, *.list, *.sources), so a
    source someone disabled by renaming it stays out of the image build.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".list", ".sources")))
        elif path.is_file():
            files.append(path)
    sources: list[AptSource] = []
    for path in files:
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            sources.extend(sources_from_deb822(text, release))
        else:
            sources.extend(sources_from_one_line(text, release))
    if not sources:
        where = ", ".join(str(p) for p in paths)
        raise PodshmError(
            f"no enabled Debian {release} 'deb' source in {where}",
            f"configure apt with a {release} mirror (the image is Debian {release}), "
            "or pass --apt-sources FILE with deb822 or one-line entries",
        )
    unique = list(dict.fromkeys(sources))
    return "\n".join(source.deb822() for source in unique)


def read_sources_file(path: Path, release: str = SUITE) -> str:
    """An explicit sources file given by the user, normalised like the host's."""
    text = path.read_text()
    sources = sources_from_deb822(text, release) or sources_from_one_line(text, release)
    if not sources:
        raise PodshmError(
            f"{path} has no enabled 'deb' entry for {release}",
            "write deb822 stanzas (Types, URIs, Suites, Components) or 'deb URI SUITE COMP' lines",
        )
    return "\n".join(source.deb822() for source in dict.fromkeys(sources))


_INST = re.compile(r"^Inst (\S+) \((\S+) ")


def resolve_package_set(packages: Iterable[str] = INCLUDE, apt_get: str = "apt-get") -> list[str]:
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


def mmdebstrap_command(
    sources_file: Path,
    staging: Path,
    output: Path,
    mmdebstrap: str = "mmdebstrap",
) -> list[str]:
    """The full mmdebstrap invocation (a pure function, so tests can inspect it)."""
    cmd = [
        mmdebstrap,
        f"--variant={VARIANT}",
        "--mode=auto",
        "--format=tar",
        "--include=" + ",".join(INCLUDE),
    ]
    if MERGED_USR_HOOKS.is_dir():
        cmd.append(f"--hook-dir={MERGED_USR_HOOKS}")
    cmd += [f"--dpkgopt={opt}" for opt in DPKG_OPTIONS]
    cmd += [
        f"--customize-hook=sync-in {shlex.quote(str(staging))} /usr/local",
        f"--customize-hook={CUSTOMIZE_SCRIPT}",
        SUITE,
        str(output),
        str(sources_file),
    ]
    return cmd


def build_rootfs_tar(
    sources_text: str,
    staging: Path,
    output: Path,
    progress: Callable[[str], None] = lambda msg: None,
) -> None:
    """Run mmdebstrap to write the root filesystem tarball to ``output``.

    mmdebstrap's own "I: ..." lines are relayed as progress; the last lines are
    kept for the error message if it fails.
    """
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise PodshmError(
            "mmdebstrap not found on PATH: it builds the test image's Debian root filesystem",
            "run scripts/install-image-deps.sh (apt-get install mmdebstrap)",
        )
    run_mmdebstrap(
        sources_text,
        lambda sources: mmdebstrap_command(sources, staging, output, mmdebstrap),
        output,
        progress,
    )


def run_mmdebstrap(
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
