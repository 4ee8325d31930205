"""The clusters podshm brings up itself, one package per provider behind one protocol
(:mod:`.base`): ``local`` (podshm's own cluster of upstream daemons) and ``kind``.

Every package here that exposes ``PROVIDER`` is a provider; nothing else lists them, so
adding one is adding a package. Callers pick one by name and never branch on which they have.
"""

from __future__ import annotations

import importlib
import pkgutil

from podshm.errors import PodshmError
from podshm.providers.base import Provider

DEFAULT = "local"


def available() -> dict[str, Provider]:
    """Every provider package's ``PROVIDER``, by name (sorted)."""
    found: dict[str, Provider] = {}
    for module in pkgutil.iter_modules(__path__):
        if not module.ispkg:
            continue
        provider = getattr(importlib.import_module(f"{__name__}.{module.name}"), "PROVIDER", None)
        if provider is not None:
            found[provider.name] = provider
    return dict(sorted(found.items()))


def get(name: str) -> Provider:
    """The provider called ``name``."""
    known = available()
    if name not in known:
        raise PodshmError(f"no cluster provider {name!r}", f"pick one of {', '.join(known)}")
    return known[name]
