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

from podshm.errors import PodshmError

SUITE_PACKAGE = "podshm.suite"
DEFAULT_REPORTS_DIR = "reports"
OWN_OPTIONS = ("--kubeconfig", "--context", "--reports-dir")
OWN_FLAGS = ("--start-cluster",)


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
    parser.add_argument(
        "--kubeconfig",
        help="kubeconfig file (default: PODSHM_KUBECONFIG, KUBECONFIG, ~/.kube/config)",
    )
    parser.add_argument("--context", help="kubeconfig context (default: current-context)")
    parser.add_argument(
        "--start-cluster",
        action="store_true",
        help="start podshm's local cluster when no cluster is reachable",
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


def _local_cluster_env(start: bool) -> dict[str, str] | None:
    """Environment pointing the suite at podshm's local cluster (started if asked), or None.

    The test image is built (cached) and imported by `cluster up`, and nothing is pulled.
    """
    from podshm.image import build as image_build
    from podshm.localcluster import cluster, components
    from podshm.localcluster.layout import CONTEXT_NAME, Layout

    layout = Layout.default()
    version = cluster.running_version(layout)
    if version is None and not start:
        return None
    image = image_build.build_test_image(progress=image_build.stderr_progress())
    # A running cluster is reused whatever its version (it only gets the image imported).
    cluster.up(version or components.DEFAULT_K8S_VERSION, images={image.ref: image.archive_path})
    return {
        "PODSHM_KUBECONFIG": str(layout.admin_kubeconfig),
        "PODSHM_CONTEXT": CONTEXT_NAME,
        "PODSHM_IMAGE": os.environ.get("PODSHM_IMAGE", image.ref),
        "PODSHM_PULL_POLICY": os.environ.get("PODSHM_PULL_POLICY", "Never"),
    }


def ensure_cluster(args: argparse.Namespace) -> dict[str, str]:
    """Pick the cluster before pytest starts; return environment for the suite's process.

    The chosen context (options, PODSHM_* variables, else the current kube context) is
    used when it answers. When none was named and the current one does not answer,
    podshm's local cluster is used if it is up, or started with ``--start-cluster``.
    """
    from podshm.kube.access import connect

    kubeconfig = args.kubeconfig or os.environ.get("PODSHM_KUBECONFIG")
    context = args.context or os.environ.get("PODSHM_CONTEXT")
    try:
        connect(kubeconfig, context, check_rbac=False)
        return {}
    except PodshmError as err:
        if kubeconfig or context:
            raise PodshmError(
                f"the cluster you named does not answer: {err.cause}",
                err.fix or "check --kubeconfig/--context (PODSHM_KUBECONFIG/PODSHM_CONTEXT)",
            ) from err
        env = _local_cluster_env(start=getattr(args, "start_cluster", False))
        if env is None:
            raise PodshmError(
                f"no cluster to run the suite against: {err.cause}",
                "run `podshm run --start-cluster` to start podshm's own local cluster (root, "
                "Linux), or pass --kubeconfig/--context for another cluster",
            ) from err
        print(
            f"podshm: no usable current context ({err.cause}); using podshm's local cluster",
            file=sys.stderr,
        )
        return env


def pytest_argv(args: argparse.Namespace, junit_path: Path) -> list[str]:
    """The pytest command line for the suite."""
    passthrough = list(args.pytest_args or [])
    argv = ["--pyargs", SUITE_PACKAGE, "--junitxml", str(junit_path)]
    if args.kubeconfig:
        argv += ["--podshm-kubeconfig", args.kubeconfig]
    if args.context:
        argv += ["--podshm-context", args.context]
    return argv + passthrough


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
    env = ensure_cluster(args)
    junit = junit_path_for(args.reports_dir)
    junit.parent.mkdir(parents=True, exist_ok=True)
    code = run_pytest(pytest_argv(args, junit), env)
    print(f"podshm: JUnit report: {junit}", file=sys.stderr)
    return code
