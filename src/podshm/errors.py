"""Errors meant for users: each names the cause and what to do next.

A message refers to a run setting as ``{context}``, never by a flag: which flag the user can
type depends on the command they typed (``--podshm-context`` under pytest, ``--context``
under ``podshm run``). The front end of the process installs the renderer that spells
settings its way (:func:`use_renderer`, fed from :mod:`podshm.settings`), so every place that
shows an error, a traceback included, names the flag of that front end.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

Renderer = Callable[[str], str]


def _unrendered(text: str) -> str:
    return text


_renderer: Renderer = _unrendered


def use_renderer(renderer: Renderer) -> Renderer:
    """Install how this process's front end spells settings in messages; returns the one it
    replaces (a pytest run inside a test gives it back when it ends)."""
    global _renderer
    previous, _renderer = _renderer, renderer
    return previous


class PodshmError(Exception):
    """A failure with a cause and a fix; the CLI prints it as two lines and exits 2."""

    def __init__(self, cause: str, fix: str | None = None) -> None:
        self.raw_cause = cause
        self.raw_fix = fix
        super().__init__(cause, fix)

    @property
    def cause(self) -> str:
        """What went wrong, settings named as the front end spells them."""
        return _renderer(self.raw_cause)

    @property
    def fix(self) -> str | None:
        """What to do next, settings named as the front end spells them."""
        return _renderer(self.raw_fix) if self.raw_fix else None

    def __str__(self) -> str:
        return f"{self.cause} -- {self.fix}" if self.fix else self.cause


class InputError(PodshmError):
    """A run input the user gave is unusable (a file, a directory, a manifest, an image that
    cannot be used as given): pytest stops with its usage-error exit (4), ``podshm`` with 2."""


def dispatch(args: argparse.Namespace) -> int:
    """Call the parsed sub-command; a PodshmError prints its cause and fix and exits 2."""
    try:
        return int(args.func(args) or 0)
    except PodshmError as err:
        print(f"podshm: error: {err.cause}", file=sys.stderr)
        if err.fix:
            print(f"podshm: fix: {err.fix}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("podshm: interrupted", file=sys.stderr)
        return 130
