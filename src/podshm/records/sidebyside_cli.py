"""``podshm matrix RECORD...``: runs side by side, one column per run (or per runtime class
or node of a run), one row per scenario, the cells that differ marked.

Exit 0; 1 with ``--fail-on-change`` when a scenario differs; 2 when an input cannot be read
(PodshmError, printed by ``podshm.errors.dispatch``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from podshm.records.cli import emit
from podshm.records.load import load_record
from podshm.records.sidebyside import Run, build
from podshm.records.sidebyside_render import render_json, render_markdown, render_text
from podshm.settings import BY_NAME


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``matrix`` sub-command."""
    parser = subparsers.add_parser(
        "matrix",
        help="show runs side by side: one column per run, one row per scenario",
        description=(
            "Show runs of the suite side by side, each a run record (podshm-<timestamp>.json) "
            "or a pytest junit XML, in any mix: a header of cluster facts (Kubernetes, "
            "kubelet, container runtime, kernel, RuntimeClass, nodes), then one row per "
            "scenario with its outcome in each run and its observed values (a /dev/shm "
            "size, bytes written before ENOSPC...) below it; * marks what differs. A run "
            f"made with {BY_NAME['runtime_class'].pytest_flag} or {BY_NAME['nodes'].pytest_flag} "
            "gives one column per "
            "runtime class or node. Exit 0 (1 with --fail-on-change if a scenario differs); "
            "2: an input could not be read."
        ),
    )
    parser.add_argument(
        "runs",
        metavar="[LABEL=]RECORD",
        nargs="+",
        help=(
            "a run (record JSON or junit XML), in column order; LABEL= names its column "
            "(default: the file name without extension), e.g. v1.36=reports/podshm-1.json"
        ),
    )
    parser.add_argument(
        "--changed-only",
        action="store_true",
        help="list only the scenarios whose outcome or observed values differ between columns",
    )
    parser.add_argument(
        "--markdown",
        metavar="FILE",
        help="also write the matrix as markdown to FILE (a PR comment, a wiki page)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the matrix as JSON instead of the table (every scenario and value)",
    )
    parser.add_argument(
        "--fail-on-change",
        action="store_true",
        help="exit 1 when any scenario differs between columns (a fleet that should agree)",
    )
    parser.set_defaults(func=run)


def parse_run(argument: str) -> tuple[str, str]:
    """``LABEL=PATH`` -> (label, path); a plain path (even one with ``=`` in it, when that
    file exists) is labelled with its file name without extension."""
    label, sep, path = argument.partition("=")
    if not sep or not label or not path or Path(argument).exists():
        return Path(argument).stem or argument, argument
    return label, path


def run(args: argparse.Namespace) -> int:
    """Load every run, print the matrix, write the markdown; exit 1 only on request."""
    runs = []
    for argument in args.runs:
        label, path = parse_run(argument)
        runs.append(Run(label, load_record(path), source=path))
    matrix = build(runs)
    emit(
        args,
        text=render_text(matrix, args.changed_only),
        markdown=render_markdown(matrix, args.changed_only),
        json_text=render_json(matrix),
    )
    return 1 if args.fail_on_change and matrix.changed() else 0
