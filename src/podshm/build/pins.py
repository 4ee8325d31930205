"""The Kubernetes versions podshm's clusters run, each with the etcd, containerd and runc it is
tested with, parsed once: a user's ``v1.37`` becomes a :class:`Pins` at the command line, and
everything downstream (builds, configs, upgrades, providers) receives that value.

One table, because an upgrade rehearsal needs every supported minor side by side and a pin
that is written twice drifts. Each entry is the newest patch of its minor (``go list -m
-versions k8s.io/kubernetes``, pre-releases ignored) and says in ``why`` where each of its pins
comes from, so the next person to move a version can check the same sources:

* etcd: the ``etcd`` entry of that Kubernetes release's ``build/dependencies.yaml`` (the same
  value as ``hack/lib/etcd.sh``): the etcd its own CI and ``cluster/gce`` run.
* containerd: the Kubernetes source pins none for 1.33/1.34, and from 1.35 its
  ``cluster/gce/config-default.sh`` defaults to containerd v2.1.4 for every minor (below
  containerd's own minimum for 1.35), so the pin follows the "Kubernetes Support" matrix in
  containerd's ``RELEASES.md``: the newest containerd line recommended for that minor, at its
  newest patch in the module proxy. All are 2.x: the local cluster's config is version 3.
* runc: what that containerd release is tested with (``script/setup/runc-version``).

Every (component, version) here has a committed wrapper module (``go.mod`` + ``go.sum``)
under ``src/podshm/data/gomod/`` (tests/unit/test_versions.py checks it), so each build is
verified against the same hashes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from podshm.errors import PodshmError

# Where a containerd pin comes from (cited in several entries).
_MATRIX = "containerd RELEASES.md 'Kubernetes Support'"


@dataclass(frozen=True)
class Pins:
    """One Kubernetes minor: the patch release and the component versions it runs with."""

    kubernetes: str
    etcd: str
    containerd: str
    runc: str
    why: str
    toolchain: str | None = None
    """The Go toolchain Kubernetes needs when it is newer than the machine's (``go1.27.3``):
    set as ``GOTOOLCHAIN`` for that build only; the go command fetches it from the module
    proxy once."""

    @property
    def release(self) -> tuple[int, int, int]:
        """(1, 36, 3) for v1.36.3: the pinned version as numbers (it is always a full one)."""
        major, minor, patch = self.kubernetes.lstrip("v").split("-", 1)[0].split(".")
        return int(major), int(minor), int(patch)

    @property
    def prerelease(self) -> str:
        """``beta.0`` for v1.38.0-beta.0, ``""`` for a release."""
        return self.kubernetes.partition("-")[2]

    @property
    def minor(self) -> tuple[int, int]:
        """(1, 36) for v1.36.3: what version rules compare (``kubelet_minor`` has this form)."""
        return self.release[:2]

    @property
    def label(self) -> str:
        """``"1.36"``: the minor as users name it when they ask for a version."""
        return "{}.{}".format(*self.minor)

    @property
    def staging(self) -> str:
        """``v0.36.3``: the version of this release's staging modules (client-go...)."""
        suffix = f"-{self.prerelease}" if self.prerelease else ""
        return f"v0.{self.release[1]}.{self.release[2]}{suffix}"

    def by_component(self) -> dict[str, str]:
        """Component name -> version, in build order (the names are gobuild's cache keys)."""
        return {
            "etcd": self.etcd,
            "containerd": self.containerd,
            "runc": self.runc,
            "kubernetes": self.kubernetes,
        }


SUPPORTED: tuple[Pins, ...] = (
    Pins(
        kubernetes="v1.33.13",
        etcd="v3.5.24",
        containerd="v2.1.9",
        runc="v1.3.6",
        why=(
            "etcd 3.5.24: k8s.io/kubernetes@v1.33.13 build/dependencies.yaml; "
            f"containerd 2.1: {_MATRIX} lists 2.1.0+ as the newest line for 1.33 (the "
            "Kubernetes source pins none), v2.1.9 its newest patch; "
            "runc 1.3.6: containerd v2.1.9 script/setup/runc-version"
        ),
    ),
    Pins(
        kubernetes="v1.34.4",
        etcd="v3.6.5",
        containerd="v2.1.9",
        runc="v1.3.6",
        why=(
            "etcd 3.6.5: k8s.io/kubernetes@v1.34.4 build/dependencies.yaml; "
            f"containerd 2.1: {_MATRIX} lists 2.1.3+ as the newest line for 1.34 (the "
            "Kubernetes source pins none), v2.1.9 its newest patch; "
            "runc 1.3.6: containerd v2.1.9 script/setup/runc-version"
        ),
    ),
    Pins(
        kubernetes="v1.35.4",
        etcd="v3.6.6",
        containerd="v2.2.9",
        runc="v1.3.6",
        why=(
            "etcd 3.6.6: k8s.io/kubernetes@v1.35.4 build/dependencies.yaml; "
            f"containerd 2.2: {_MATRIX} lists 2.2.0+ as the newest line for 1.35 "
            "(cluster/gce/config-default.sh's default v2.1.4 is below the 2.1.5+ it asks "
            "for), v2.2.9 its newest patch; "
            "runc 1.3.6: containerd v2.2.9 script/setup/runc-version"
        ),
    ),
    Pins(
        kubernetes="v1.36.3",
        etcd="v3.6.8",
        containerd="v2.3.7",
        runc="v1.5.2",
        why=(
            "etcd 3.6.8: k8s.io/kubernetes@v1.36.3 build/dependencies.yaml; "
            f"containerd 2.3: {_MATRIX} lists 2.3.0+ as the newest line for 1.36 "
            "(1.36+ wants 2.x), v2.3.7 its newest patch; "
            "runc 1.5.2: containerd v2.3.7 script/setup/runc-version"
        ),
    ),
    Pins(
        kubernetes="v1.37.2",
        etcd="v3.7.0",
        containerd="v2.3.7",
        runc="v1.5.2",
        why=(
            "etcd 3.7.0: k8s.io/kubernetes@v1.37.2 build/dependencies.yaml; "
            f"containerd 2.3: {_MATRIX} (v2.4.x) lists 2.4.0+ and 2.3.0+ for 1.37; 2.3.7 "
            "is kept as the default cluster's tested runtime and shared with 1.36, so a "
            "1.36 -> 1.37 upgrade keeps containerd; "
            "runc 1.5.2: containerd v2.3.7 script/setup/runc-version"
        ),
    ),
)

# The newest minor: the newest release whose kubelet still runs on this cgroup v1 host
# (with failCgroupV1: false). 1.38 (v1.38.0-beta.0 is served) cannot be built here: its kubelet
# needs sigs.k8s.io/iptables-wrappers, which the Go module proxy refuses (README, versions).
DEFAULT: Pins = SUPPORTED[-1]

_VERSION = re.compile(
    r"v?(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+|x)(?:-(?P<pre>[0-9A-Za-z.]+))?)?"
)


def _supported_text() -> str:
    return ", ".join(p.kubernetes for p in SUPPORTED)


def pins_for(k8s_version: str) -> Pins:
    """The pinned entry for ``"v1.36"``, ``"1.36"``, ``"v1.36.x"`` or the pinned ``"v1.36.3"``.

    A patch other than the pinned one is refused rather than rounded: it has no committed
    ``go.sum``, and a run that says v1.36.1 must not silently test v1.36.3.
    """
    text = k8s_version.strip()
    match = _VERSION.fullmatch(text)
    if match is None:
        raise PodshmError(
            f"{k8s_version!r} is not a Kubernetes version",
            f"use one of {_supported_text()} (or just the minor, e.g. v{DEFAULT.label})",
        )
    minor = (int(match["major"]), int(match["minor"]))
    pins = next((p for p in SUPPORTED if p.minor == minor), None)
    if pins is None:
        raise PodshmError(
            f"Kubernetes {text} is not supported by podshm's clusters",
            f"use one of {_supported_text()}",
        )
    patch = match["patch"]
    if patch not in (None, "x") and (
        int(patch) != pins.release[2] or (match["pre"] or "") != pins.prerelease
    ):
        raise PodshmError(
            f"Kubernetes {text} is not pinned: podshm's {pins.label} is {pins.kubernetes}",
            f"ask for v{pins.label} (or one of {_supported_text()})",
        )
    return pins


def upgrade_path(first: Pins, last: Pins) -> list[Pins]:
    """The supported versions from ``first`` to ``last``, one minor apart, both included."""
    if last.minor < first.minor:
        raise PodshmError(
            f"cannot go from {first.kubernetes} down to {last.kubernetes}",
            "pass --from an older version than --to",
        )
    return [pins for pins in SUPPORTED if first.minor <= pins.minor <= last.minor]
