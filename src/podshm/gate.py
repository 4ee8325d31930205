"""``podshm gate --from vA --to vB``: rehearse an upgrade on the local cluster.

Bring the cluster up at vA, start a pod that holds a SysV segment and a POSIX shm object,
run the suite, then upgrade in place one minor at a time (podshm.providers.local.upgrade), run
the suite after each step and diff each run with the one before. The pod made before the
upgrade must still run afterwards with both objects and their contents.

Every step's suite must pass, the first version's included: a failure that exists only on vA
would otherwise read as "fixed" after the upgrade, and vA's own rules would never be proved
on a real vA kubelet. ``--baseline RUN`` accepts the failures that run had (known issues).
Exit 1 when a step failed, a diff regressed or the pre-upgrade pod lost anything; the
report names the step.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from podshm import providers
from podshm.build.pins import pins_for, upgrade_path
from podshm.errors import PodshmError
from podshm.kube.launch import PodOptions, launch_pod, render_pod
from podshm.kube.namespaces import NamespaceManager
from podshm.kube.pods import PodHandle
from podshm.names import new_run_id
from podshm.prepare import up_with_test_image
from podshm.records.cli import add_policy_arguments, policy_from_args
from podshm.records.load import load_record
from podshm.records.report import candidate_for, compare, step_failure
from podshm.runner import PassthroughParser, run_pytest
from podshm.settings import resolve
from podshm.suite import helpers as ipc
from podshm.target import choose, connect_target

GATE_TEXT = "written before the upgrade"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``gate`` sub-command."""
    parser = subparsers.add_parser(
        "gate",
        help="rehearse an upgrade on the local cluster: suite, upgrade a minor, suite, diff",
        description=(
            "Start podshm's local cluster at --from, run the suite, upgrade in place one "
            "minor at a time up to --to (etcd, kube-apiserver, controller-manager and "
            "scheduler, kubelet), run the suite after each step and diff it with the run "
            "before. Arguments after the options go to pytest (e.g. -m 'not destructive')."
        ),
    )
    parser.add_argument("--from", dest="start", required=True, help="version to start at (v1.36)")
    parser.add_argument("--to", dest="end", required=True, help="version to end at (v1.37)")
    parser.add_argument("--reports-dir", default="reports", help="where runs and diffs go")
    parser.add_argument(
        "--baseline",
        metavar="RUN",
        help="a run record or junit XML whose failures are accepted at every step (known "
        "issues); without it every failing test fails the gate",
    )
    add_policy_arguments(parser)
    parser.add_argument("pytest_args", nargs="*", metavar="PYTEST_ARGS", help="passed to pytest")
    parser.__class__ = PassthroughParser  # everything after our options goes to pytest
    parser.set_defaults(func=run)


class Clock:
    """Wall time of each part of the gate (bench/gate.py prints them)."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, float]] = []

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.parts.append((name, time.monotonic() - started))
            print(f"podshm gate: {name}: {self.parts[-1][1]:.1f} s", file=sys.stderr)


def wait_exec_ready(pod: PodHandle, timeout: float = 90.0) -> None:
    """A restarted kubelet answers exec only once it has re-admitted the pods it runs
    ("pod does not exist" until then): wait for that, boundedly."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if pod.exec("receiver", ["true"], timeout=10).exit_code == 0:
                return
        except PodshmError:
            pass
        if time.monotonic() > deadline:
            return  # the checks below then say what is wrong
        time.sleep(1)


def check_pre_upgrade_pod(pod: PodHandle, final: bool) -> list[str]:
    """What the pod made before the upgrade lost (empty: nothing)."""
    problems = []
    wait_exec_ready(pod)
    pod.refresh()
    if (pod.pod.get("status") or {}).get("phase") != "Running":
        problems.append(f"pod {pod.namespace}/{pod.name} is no longer Running")
        return problems
    sysv = pod.run_ipc("receiver", *ipc.sysv_shm_recv(expect=GATE_TEXT, timeout=5))
    if not sysv.ok:
        problems.append(f"the SysV segment is gone or changed: {sysv.describe()}")
    listing = pod.run_ipc("receiver", *ipc.ipc_list())
    if ("posix_shm", ipc.POSIX_SHM_NAME) not in ipc.listed_objects(listing):
        problems.append(f"the POSIX shm object is gone: {listing.describe()}")
    if final:  # reading consumes the semaphore post: once, at the end
        posix = pod.run_ipc("receiver", *ipc.posix_shm_recv(expect=GATE_TEXT, timeout=5))
        if not posix.ok:
            problems.append(f"the POSIX shm contents changed: {posix.describe()}")
    return problems


def run(args: argparse.Namespace) -> int:
    """The whole rehearsal; see the module docstring."""
    clock = Clock()
    accepted = load_record(args.baseline) if args.baseline else None  # bad input: exit 2 now
    path = upgrade_path(pins_for(args.start), pins_for(args.end))
    local = providers.get("local")
    running = local.running()
    if running is not None and running.kubernetes != path[0].kubernetes:
        raise PodshmError(
            f"podshm's local cluster runs {running.kubernetes}; the gate starts at "
            f"{path[0].kubernetes}",
            "run `podshm cluster down` first (the gate brings the cluster up itself)",
        )
    with clock.part(f"cluster up at {path[0].kubernetes}"):
        _running, image = up_with_test_image(local, path[0])
    settings = resolve({"local": True, "image": image})
    cluster = connect_target(choose(settings))
    reports = Path(args.reports_dir) / time.strftime("gate-%Y%m%d-%H%M%S")
    reports.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id()
    namespaces = NamespaceManager(cluster.api, "podshm-gate", run_id, expiry_s=3600)
    code, previous, problems, failed_steps = 0, None, [], []
    try:
        ns = namespaces.create(test_id="podshm gate: the pod made before the upgrade")
        options = PodOptions(image, "IfNotPresent", run_id, expiry_s=3600)
        pod = launch_pod(cluster.api, ns.name, render_pod("ipc-pair.yaml", "gate", options))
        for argv in (ipc.sysv_shm_send(GATE_TEXT), ipc.posix_shm_send(GATE_TEXT)):
            made = pod.run_ipc("sender", *argv)
            if not made.ok:
                raise PodshmError(f"the pre-upgrade pod: {made.describe()}", None)
        for i, pins in enumerate(path):
            if i:
                with clock.part(f"upgrade to {pins.kubernetes}"):
                    local.upgrade(pins, sys.stderr)
                problems += check_pre_upgrade_pod(pod, final=i == len(path) - 1)
            junit = reports / f"junit-{pins.kubernetes}.xml"
            with clock.part(f"suite on {pins.kubernetes}"):
                argv = ["--pyargs", "podshm.suite", "--junitxml", str(junit), *args.pytest_args]
                rc = run_pytest(argv, settings.env())
            if rc not in (0, 1):
                raise PodshmError(f"the suite on {pins.kubernetes} ended with exit {rc}", None)
            step = f"suite on {pins.kubernetes}" + (" (after the upgrade)" if i else "")
            failure = step_failure(step, rc, load_record(candidate_for(junit)), accepted)
            if failure:
                failed_steps.append(failure)
            if previous is not None:
                with clock.part(f"diff {previous.stem} -> {junit.stem}"):
                    base = load_record(candidate_for(previous))
                    code = max(
                        code,
                        compare(str(candidate_for(previous)), base, junit, policy_from_args(args)),
                    )
            previous = junit
    finally:
        namespaces.delete_all()
    print("podshm gate: " + ", ".join(f"{name} {secs:.1f} s" for name, secs in clock.parts))
    for line in problems:
        print(f"podshm gate: the pre-upgrade pod: {line}", file=sys.stderr)
    for line in failed_steps:
        print(f"podshm gate: step failed: {line}", file=sys.stderr)
    if problems or failed_steps:
        return 1
    print(
        f"podshm gate: the pre-upgrade pod kept its SysV segment and POSIX shm object; "
        f"runs and records in {reports}"
    )
    return code
