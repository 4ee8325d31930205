"""What the cache holds for each pinned version: ``podshm cluster versions``, and what to build.

Reads only the cache and the committed pins (no network) to say what is built; describes the
Go components a version needs for the providers, which build them.
"""

from __future__ import annotations

import json

from podshm.build import components, gobuild
from podshm.build.components import GoComponent
from podshm.build.pins import DEFAULT, SUPPORTED, Pins
from podshm.cache import cache_root
from podshm.errors import PodshmError


def go_components(pins: Pins) -> list[GoComponent]:
    """What to build for ``pins``, in build order.

    Kubernetes is described from its module (its staging modules and commit date), so this
    downloads k8s.io/kubernetes into the Go module cache if it is not there yet.
    """
    return [
        components.etcd(pins.etcd),
        components.containerd(pins.containerd),
        components.runc(pins.runc),
        gobuild.kubernetes_from_module(pins),
    ]


def _kubernetes_built(pins: Pins) -> bool:
    """gobuild's cache test for Kubernetes without the network.

    Its stamp records the ldflags, which carry the release's commit date from the module
    proxy; that date is fixed per version, so every other field of the stamp is compared.
    """
    component = components.kubernetes(pins, "", [])
    bin_dir = cache_root() / "bin" / component.key
    stamp = bin_dir / gobuild.STAMP
    if not stamp.is_file() or not all((bin_dir / b).is_file() for b in component.packages):
        return False
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    expected = gobuild.fingerprint(component)
    return isinstance(recorded, dict) and all(
        recorded.get(key) == value for key, value in expected.items() if key != "ldflags"
    )


def built(pins: Pins) -> dict[str, bool]:
    """Component name -> whether its binaries for ``pins`` are already in podshm's cache.

    "Built" is what gobuild.build decides: the stamp written after a successful build
    matches what would be built now (same Go, flags and binaries). Without a Go toolchain
    nothing counts as built, since gobuild could not confirm any of it either.
    """
    pure_go = (
        components.etcd(pins.etcd),
        components.containerd(pins.containerd),
        components.runc(pins.runc),
    )
    try:
        found = {c.name: gobuild.built_bin_dir(c) is not None for c in pure_go}
        return {**found, "kubernetes": _kubernetes_built(pins)}
    except PodshmError:
        return dict.fromkeys(pins.by_component(), False)


def versions_report() -> list[dict[str, object]]:
    """One row per supported version, oldest first, for ``podshm cluster versions``.

    Keys: ``version``, ``default``, ``etcd``, ``containerd``, ``runc`` (pinned versions) and
    ``built`` (component name -> bool, see :func:`built`). Reads only the cache: no network.
    """
    return [
        {
            "version": pins.kubernetes,
            "default": pins is DEFAULT,
            "etcd": pins.etcd,
            "containerd": pins.containerd,
            "runc": pins.runc,
            "built": built(pins),
        }
        for pins in SUPPORTED
    ]
