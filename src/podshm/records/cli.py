"""``podshm diff BASE CANDIDATE``: did the candidate cluster (or podshm version) regress?

Exit 0 when nothing regressed, 1 on a regression (:func:`podshm.records.diff.exit_code`),
2 when an input cannot be read (PodshmError, printed by ``podshm.errors.dispatch``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from podshm.errors import PodshmError
from podshm.records.diff import FAIL_ON, Policy, diff, exit_code
from podshm.records.load import load_record
from podshm.records.render import render_json, render_markdown, render_text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``diff`` sub-command."""
    parser = subparsers.add_parser(
        "diff",
        help="compare two runs: new failures, fixes, changed measurements",
        description=(
            "Compare two runs of the suite, each a run record (podshm-<timestamp>.json) or a "
            "pytest junit XML, matched by test. Lists new failures, fixes, tests still "
            "failing, added and removed tests, changed outcomes and changed measured values, "
            "under a header comparing the two clusters. Exit 0: no regression; 1: a new "
            "failure, a removed test or a check no longer applicable (with --fail-on changes, "
            "also a changed value or outcome); 2: an input could not be read."
        ),
    )
    parser.add_argument("base", metavar="BASE", help="the reference run (record JSON or junit XML)")
    parser.add_argument(
        "candidate", metavar="CANDIDATE", help="the run to judge (record JSON or junit XML)"
    )
    parser.add_argument(
        "--markdown",
        metavar="FILE",
        help="also write the report as markdown to FILE (a PR comment, $GITHUB_STEP_SUMMARY)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the diff as JSON instead of the table (every test, with its class)",
    )
    add_policy_arguments(parser)
    parser.set_defaults(func=run)


def add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    """``--fail-on`` and ``--allow-not-applicable``: what counts as a regression (``podshm
    diff``, ``podshm run --baseline`` and ``podshm gate`` decide alike)."""
    parser.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="failures",
        help=(
            "what exits 1: failures = new failures, removed tests and checks that ran before "
            "and are not applicable now (default); changes = those plus changed values or "
            "outcomes"
        ),
    )
    parser.add_argument(
        "--allow-not-applicable",
        action="store_true",
        help="accept a check that ran before and is reported not applicable now (the new "
        "cluster lacks what it needs, e.g. a second node) instead of failing",
    )


def policy_from_args(args: argparse.Namespace) -> Policy:
    """The regression policy the command line asked for."""
    return Policy(args.fail_on, args.allow_not_applicable)


def run(args: argparse.Namespace) -> int:
    """Load both runs, print the diff, write the markdown; the exit code says if it regressed."""
    base, candidate = load_record(args.base), load_record(args.candidate)
    result = diff(base, candidate)
    policy = policy_from_args(args)
    emit(
        args,
        text=render_text(result, args.base, args.candidate),
        markdown=render_markdown(result, args.base, args.candidate, policy),
        json_text=render_json(result, args.base, args.candidate, policy),
    )
    return exit_code(result, policy)


def emit(args: argparse.Namespace, text: str, markdown: str, json_text: str) -> None:
    """The outputs of a records command: the table (``--json``: the JSON) on stdout, and the
    markdown in ``--markdown FILE``; a FILE that cannot be written is a PodshmError (exit 2)."""
    if args.markdown:
        target = Path(args.markdown)
        try:
            target.write_text(markdown, encoding="utf-8")
        except OSError as err:
            raise PodshmError(
                f"cannot write the markdown report to {target} ({err.strerror or err})",
                "pass a writable path to --markdown",
            ) from None
    print(json_text if args.json else text)
    if args.markdown and not args.json:
        print(f"markdown: {args.markdown}", file=sys.stderr)
