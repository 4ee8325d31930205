"""``podshm run``: run the conformance suite and leave a JUnit report behind.

Everything after the sub-command's own options goes to pytest unchanged, so
``podshm run -m sysv -n 4 --podshm-image IMAGE`` works as users expect from pytest.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from podshm.plugin.markers import selects_opt_in
from podshm.records.cli import add_policy_arguments, policy_from_args
from podshm.settings import FRONT_END_ENV, PODSHM, add_cli_arguments, from_cli_args

SUITE_PACKAGE = "podshm.suite"
DEFAULT_REPORTS_DIR = "reports"


def split_own_args(
    argv: list[str], takes_value: set[str], switches: set[str]
) -> tuple[list[str], list[str]]:
    """(the command's own options, pytest's arguments): ours come first, the rest is pytest's.

    ``argparse.REMAINDER`` cannot do this on its own: it refuses a remainder that starts with
    an option (``podshm run -m sysv``). ``--`` ends our options explicitly.
    """
    own: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return own, argv[i + 1 :]
        if arg in ("-h", "--help", *switches) or arg.split("=", 1)[0] in takes_value:
            own.append(arg)
            if arg in takes_value and i + 1 < len(argv):
                own.append(argv[i + 1])
                i += 1
            i += 1
            continue
        break
    return own, argv[i:]


class PassthroughParser(argparse.ArgumentParser):
    """A sub-command parser that parses its own options and hands the rest to pytest
    (``podshm run``, ``podshm gate``): everything after our options lands in ``pytest_args``."""

    def parse_known_args(self, args=None, namespace=None):
        flags = [a for a in self._actions if a.option_strings]
        takes_value = {o for a in flags if a.nargs != 0 for o in a.option_strings}
        switches = {o for a in flags if a.nargs == 0 for o in a.option_strings}
        argv = list(args if args is not None else sys.argv[1:])
        own, rest = split_own_args(argv, takes_value, switches)
        namespace, extras = super().parse_known_args(own, namespace)
        namespace.pytest_args = [*extras, *rest]
        return namespace, []


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` sub-command."""
    parser = subparsers.add_parser(
        "run",
        help="run the conformance suite (pytest) against a cluster",
        description=(
            "Run the podshm conformance suite with pytest and write a JUnit report to "
            "REPORTS_DIR/junit-<timestamp>.xml. Arguments after the options below are passed "
            "to pytest, e.g.: podshm run -m 'sysv or posix' -n 4"
        ),
    )
    add_cli_arguments(parser.add_argument_group("cluster and pods (the table of podshm.settings)"))
    parser.add_argument(
        "--start-cluster",
        action="store_true",
        help="start podshm's local cluster when it is the target (--local, or no kubeconfig "
        "exists) and is not running",
    )
    parser.add_argument(
        "--reports-dir",
        default=DEFAULT_REPORTS_DIR,
        help=f"where the JUnit report goes (default: {DEFAULT_REPORTS_DIR})",
    )
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        help="an earlier run (record JSON or junit XML): print the diff against it and exit "
        "with the diff's code: a run whose failures the baseline also had exits 0 (they are "
        "listed as still failing: the baseline is the accepted state); a new failure, a "
        "removed test or a check no longer applicable exits 1",
    )
    add_policy_arguments(parser)
    parser.add_argument(
        "pytest_args", nargs="*", metavar="PYTEST_ARGS", help="passed to pytest unchanged"
    )
    # add_parser() cannot take a parser class; switch this one parser to the passthrough kind.
    parser.__class__ = PassthroughParser
    parser.set_defaults(func=run)


def pytest_argv(args: argparse.Namespace, junit_path: Path) -> list[str]:
    """The pytest command line for the suite (settings travel as PODSHM_* variables)."""
    return ["--pyargs", SUITE_PACKAGE, "--junitxml", str(junit_path), *(args.pytest_args or [])]


def markexpr_of(pytest_args: list[str]) -> str:
    """The ``-m`` expression among pytest's arguments (pytest keeps the last one)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-m", dest="markexpr", default="")
    known, _rest = parser.parse_known_args(pytest_args)
    return str(known.markexpr)


def junit_path_for(reports_dir: str, now: float | None = None) -> Path:
    """``<reports_dir>/junit-YYYYmmdd-HHMMSS.xml`` (local time)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return Path(reports_dir) / f"junit-{stamp}.xml"


def run_pytest(argv: list[str], env: dict[str, str] | None = None) -> int:
    """Run pytest in a child process and wait for it, also through Ctrl-C and SIGTERM.

    A child keeps pytest's assertion rewriting intact (this process has imported podshm
    already). Ctrl-C reaches the child too (same process group); SIGTERM (a cancelled CI job)
    is passed on to it. Either way the child deletes the run's namespaces, so the parent
    waits for it instead of killing it.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *argv], env={**os.environ, **(env or {})}
    )
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: proc.send_signal(signum))
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    """Check the cluster, run the suite, say where the reports are (and diff a baseline)."""
    from podshm.prepare import prepare
    from podshm.records.load import load_record
    from podshm.records.report import compare

    baseline = load_record(args.baseline) if args.baseline else None  # bad input: exit 2 now
    workload = "workload" in selects_opt_in(markexpr_of(args.pytest_args or []))
    settings, target, _cluster = prepare(from_cli_args(args), args.start_cluster, workload)
    print(f"podshm: target {target.why}; test image {settings.image}", file=sys.stderr)
    junit = junit_path_for(args.reports_dir)
    junit.parent.mkdir(parents=True, exist_ok=True)
    code = run_pytest(pytest_argv(args, junit), {**settings.env(), FRONT_END_ENV: PODSHM})
    print(f"podshm: JUnit report: {junit}", file=sys.stderr)
    if baseline is None or code not in (0, 1):
        return code
    return compare(args.baseline, baseline, junit, policy_from_args(args))
