"""``podshm run``: run the conformance suite and leave a JUnit report behind.

Everything after the sub-command's own options goes to pytest unchanged, so
``podshm run -m sysv -n 4 --podshm-image IMAGE`` works as users expect from pytest.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from podshm.settings import add_cli_arguments, cli_options_with_values, cli_switches, from_cli_args

SUITE_PACKAGE = "podshm.suite"
DEFAULT_REPORTS_DIR = "reports"
OWN_OPTIONS = ("--reports-dir", *cli_options_with_values())
OWN_FLAGS = ("--start-cluster", *cli_switches())


def split_own_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """(run's own options, pytest's arguments): ours come first, the rest is pytest's.

    ``argparse.REMAINDER`` cannot do this on its own: it refuses a remainder that starts with
    an option (``podshm run -m sysv``). ``--`` ends our options explicitly.
    """
    own: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return own, argv[i + 1 :]
        if arg in ("-h", "--help", *OWN_FLAGS) or arg.split("=", 1)[0] in OWN_OPTIONS:
            own.append(arg)
            if arg in OWN_OPTIONS and i + 1 < len(argv):
                own.append(argv[i + 1])
                i += 1
            i += 1
            continue
        break
    return own, argv[i:]


class _PassthroughParser(argparse.ArgumentParser):
    """The ``run`` parser: parses its own options and hands everything else to pytest."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        own, rest = split_own_args(list(args if args is not None else sys.argv[1:]))
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
        "pytest_args", nargs="*", metavar="PYTEST_ARGS", help="passed to pytest unchanged"
    )
    # add_parser() cannot take a parser class; switch this one parser to the passthrough kind.
    parser.__class__ = _PassthroughParser
    parser.set_defaults(func=run)


def pytest_argv(args: argparse.Namespace, junit_path: Path) -> list[str]:
    """The pytest command line for the suite (settings travel as PODSHM_* variables)."""
    return ["--pyargs", SUITE_PACKAGE, "--junitxml", str(junit_path), *(args.pytest_args or [])]


def junit_path_for(reports_dir: str, now: float | None = None) -> Path:
    """``<reports_dir>/junit-YYYYmmdd-HHMMSS.xml`` (local time)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return Path(reports_dir) / f"junit-{stamp}.xml"


def run_pytest(argv: list[str], env: dict[str, str] | None = None) -> int:
    """Run pytest in a child process and wait for it, also through Ctrl-C.

    A child keeps pytest's assertion rewriting intact (this process has imported podshm
    already). Ctrl-C reaches the child too (same process group); it then deletes the run's
    namespaces, so the parent waits for it instead of killing it.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *argv], env={**os.environ, **(env or {})}
    )
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue


def run(args: argparse.Namespace) -> int:
    """Check the cluster, run the suite, say where the report is."""
    from podshm.prepare import prepare

    settings, target, _cluster = prepare(from_cli_args(args), args.start_cluster)
    print(f"podshm: target {target.why}; test image {settings.image}", file=sys.stderr)
    env = settings.env()
    junit = junit_path_for(args.reports_dir)
    junit.parent.mkdir(parents=True, exist_ok=True)
    code = run_pytest(pytest_argv(args, junit), env)
    print(f"podshm: JUnit report: {junit}", file=sys.stderr)
    return code
