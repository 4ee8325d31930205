"""This machine's apt sources, as the Debian roots podshm builds use them.

Every root (the test image, kind's node and base images, the VM node's root) is made by
mmdebstrap from the mirrors apt on this machine already uses, so no mirror is named in
this repository: the sources are read from /etc/apt (one-line and deb822 formats) and
reduced to the suites of the release the roots are built from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from podshm.errors import PodshmError

SUITE = "bookworm"
"""The Debian release every root is built from (its python3 is 3.11: the ABI the host-built
wheels of the test image target)."""
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
