"""The benchmark's transports, Python side, one module each: set up, one message each way,
tear down.

Every module here that defines ``TRANSPORT`` (a :class:`base.Transport` subclass) is a
transport, known by its ``name``; nothing else lists them, so adding a transport is adding a
module (and its twin in images/ipcbench/ipcbench.c, and its name in ``wire.TRANSPORTS``, the
protocol's list: tests/unit/test_transports.py checks that the three agree).
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Endpoint, PeerClosed, Transport

__all__ = ["CLASSES", "Endpoint", "PeerClosed", "Transport"]


def _discover() -> dict[str, type[Transport]]:
    """Every transport module's ``TRANSPORT``, by name (sorted)."""
    found: dict[str, type[Transport]] = {}
    for module in pkgutil.iter_modules(__path__):
        transport = getattr(importlib.import_module(f"{__name__}.{module.name}"), "TRANSPORT", None)
        if transport is not None:
            found[transport.name] = transport
    return dict(sorted(found.items()))


CLASSES: dict[str, type[Transport]] = _discover()
"""Transport name -> class, found once at import: a run looks its class up once, at setup."""
