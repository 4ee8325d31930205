"""The `podshm` command: one entry point, one sub-command group per responsibility.

Each group lives next to the code it drives and registers itself through a
``register(subparsers)`` function, so this file only wires them together.
"""

from __future__ import annotations

import argparse
import importlib

from podshm.errors import dispatch, use_renderer
from podshm.settings import PODSHM, renderer_for

# (sub-command, module that owns it). Imported lazily so `podshm --help` stays fast.
GROUPS: tuple[tuple[str, str], ...] = (
    ("bench", "podshm.ipcbench.cli"),
    ("cluster", "podshm.cli.cluster"),
    ("diff", "podshm.records.cli"),
    ("gate", "podshm.gate"),
    ("gc", "podshm.gc"),
    ("image", "podshm.cli.image"),
    ("matrix", "podshm.records.sidebyside_cli"),
    ("run", "podshm.runner"),
)


def build_parser() -> argparse.ArgumentParser:
    """Build the full parser; every group adds its own sub-commands."""
    parser = argparse.ArgumentParser(
        prog="podshm",
        description="Conformance suite for IPC and /dev/shm inside Kubernetes pods.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for _name, module in GROUPS:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; errors meant for users exit 2 with one clear line. The front end's
    spelling of settings holds for this call only (a test calling main() in a pytest run
    gives pytest's back)."""
    previous = use_renderer(renderer_for(PODSHM))
    try:
        return dispatch(build_parser().parse_args(argv))
    finally:
        use_renderer(previous)
