"""``podshm gc``: list and remove what runs left on a cluster.

A run cleans up after itself, and every run sweeps the namespaces of dead runs when it
starts; this command is for the rest: a cluster no run will visit again. A run is dead when
its heartbeat stopped (a Lease it renews every 10 s; within a minute of a SIGKILL), or, for a
run without one, when its expiry passed. Only namespaces carrying podshm's run label are
ever considered, so nothing a human created is touched.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from podshm.errors import PodshmError
from podshm.kube.sweep import leftovers, read_beats, select_garbage, sweep_leftovers
from podshm.settings import add_cli_arguments, from_cli_args, parse_duration
from podshm.target import choose, connect_target


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``gc`` sub-command."""
    parser = subparsers.add_parser(
        "gc",
        help="list and remove namespaces that podshm runs left behind",
        description=(
            "Remove the namespaces of podshm runs: by default those of dead runs (their "
            "heartbeat, a Lease renewed every 10 s, stopped; for a run without one, its "
            "expiry podshm.io/expires passed). Lists every podshm namespace, live or dead. "
            "Exit 1 if any deletion was refused."
        ),
    )
    add_cli_arguments(parser.add_argument_group("cluster"), ("kubeconfig", "context", "local"))
    parser.add_argument(
        "--older-than",
        metavar="DURATION",
        help="remove those started longer ago than DURATION (e.g. 10m, 2h), expired or not",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="remove every podshm namespace: live runs' and kept ones' too",
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would go, delete nothing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """List (and unless --dry-run, delete) the chosen leftovers; 1 if a deletion failed."""
    older_than = None
    if args.older_than:
        try:
            older_than = parse_duration(args.older_than)
        except ValueError as err:
            raise PodshmError(
                f"--older-than {args.older_than!r} is not a duration", "pass e.g. 30m or 2h"
            ) from err
    target = choose(from_cli_args(args))
    cluster = connect_target(target, check_rbac=False)
    now = datetime.now(UTC)
    found = leftovers(cluster.api)
    beats = read_beats(cluster.api, found)
    chosen = select_garbage(found, now, older_than, args.all, beats)
    print(f"podshm gc: {target.why}: {len(found)} podshm namespaces, {len(chosen)} to remove")
    verb = "would remove" if args.dry_run else "removing"
    for ns in found:
        going = ns in chosen
        if going or not ns.terminating:
            print(f"{verb if going else 'keeping'} {ns.describe(now, ns.state(beats, now))}")
    if args.dry_run:
        return 0
    result = sweep_leftovers(cluster.api, chosen)
    for line in result.failure_lines():
        print(f"podshm gc: {line}")
    print(f"podshm gc: removed {len(result.deleted)}, failed {len(result.failed)}")
    return 1 if result.failed else 0
