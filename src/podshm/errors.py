"""Errors meant for users: each names the cause and what to do next."""

from __future__ import annotations

import argparse
import sys


class PodshmError(Exception):
    """A failure with a cause and a fix; the CLI prints it as one line and exits 2."""

    def __init__(self, cause: str, fix: str | None = None) -> None:
        self.cause = cause
        self.fix = fix
        super().__init__(f"{cause} -- {fix}" if fix else cause)


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
