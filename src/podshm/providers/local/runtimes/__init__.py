"""The container runtimes the local cluster can register, one module each.

Every module here that defines ``RUNTIME`` (see :class:`base.Runtime`) is a runtime; nothing
else lists them. ``podshm cluster up --runtimes runc,crun,gvisor`` registers each as a
containerd handler and a RuntimeClass of the same name.
"""

from __future__ import annotations

import importlib
import pkgutil

from podshm.errors import PodshmError
from podshm.providers.local.runtimes.base import Runtime

DEFAULT = ("runc",)


def available() -> dict[str, Runtime]:
    """Every runtime module's ``RUNTIME``, by name (sorted)."""
    found: dict[str, Runtime] = {}
    for module in pkgutil.iter_modules(__path__):
        runtime = getattr(importlib.import_module(f"{__name__}.{module.name}"), "RUNTIME", None)
        if runtime is not None:
            found[runtime.name] = runtime
    return dict(sorted(found.items()))


def select(spec: str | list[str] | tuple[str, ...] | None) -> list[Runtime]:
    """``"runc,crun"`` -> those runtimes, runc always first (the cluster's default handler)."""
    names = spec.split(",") if isinstance(spec, str) else list(spec or DEFAULT)
    names = [n.strip() for n in names if n.strip()]
    known = available()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise PodshmError(
            f"unknown runtime {', '.join(unknown)!s} in --runtimes",
            f"pick from {', '.join(known)} (comma-separated)",
        )
    ordered = ["runc", *[n for n in dict.fromkeys(names) if n != "runc"]]
    return [known[n] for n in ordered]
