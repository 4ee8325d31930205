"""``podshm bench``: which transport should two containers of a pod use, and what does the
pod cost against two processes on the host? Prints the table, writes JSON, text and PNG."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from podshm.errors import PodshmError
from podshm.ipc.argtypes import csv_of, one_of
from podshm.ipc.parser import message_size
from podshm.ipc.peers.batch import IMPLS, PLACEMENTS
from podshm.ipc.peers.wire import MAX_SIZE, MIN_SIZE, MODES, TRANSPORTS
from podshm.ipcbench.config import (
    DEFAULT_BUDGET_S,
    DEFAULT_PLACEMENTS,
    DEFAULT_REPS,
    DEFAULT_SIZES,
    DEFAULT_WARMUP_S,
    BenchConfig,
)
from podshm.settings import add_cli_arguments, from_cli_args

DEFAULT_REPORTS_DIR = "reports"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` sub-command."""
    parser = subparsers.add_parser(
        "bench",
        help="IPC latency/throughput between two containers of a pod vs two host processes",
        description=(
            "Measure seven IPC transports between the two containers of one pod and between "
            "two processes on this machine, interleaved, with CPU placement controlled. "
            "Writes REPORTS_DIR/bench-<timestamp>.{json,txt,png}."
        ),
    )
    target = parser.add_argument_group("cluster and pod (the table of podshm.settings)")
    add_cli_arguments(
        target,
        ("kubeconfig", "context", "local", "image", "pull_policy", "node", "runtime_class"),
    )
    target.add_argument(
        "--start-cluster",
        action="store_true",
        help="start podshm's local cluster when it is the target and is not running",
    )
    target.add_argument("--host-only", action="store_true", help="no pod: the host baseline alone")
    axes = parser.add_argument_group("what to measure")
    axes.add_argument(
        "--transports",
        type=csv_of(one_of(TRANSPORTS), "transports"),
        default=TRANSPORTS,
        help=f"comma-separated, of {','.join(TRANSPORTS)} (default: all)",
    )
    axes.add_argument(
        "--sizes",
        type=csv_of(message_size, "sizes"),
        default=DEFAULT_SIZES,
        help=f"message sizes in bytes, comma-separated, each {MIN_SIZE}..{MAX_SIZE} (the "
        f"queues refuse sizes over their limit); default {','.join(map(str, DEFAULT_SIZES))}",
    )
    axes.add_argument(
        "--modes",
        type=csv_of(one_of(MODES), "modes"),
        default=MODES,
        help="lat (ping-pong latency), thr (one-way throughput); default both",
    )
    axes.add_argument(
        "--impls",
        type=csv_of(one_of(IMPLS), "inner loops"),
        default=IMPLS,
        help="inner loops: c (podshm-ipcbench), python (podshm-ipc); default both",
    )
    axes.add_argument(
        "--placements",
        type=csv_of(one_of(PLACEMENTS), "placements"),
        default=DEFAULT_PLACEMENTS,
        help="same (both ends on one CPU), diff (two CPUs), none (unpinned); "
        f"default {','.join(DEFAULT_PLACEMENTS)}",
    )
    axes.add_argument("--reps", type=int, default=DEFAULT_REPS, help="repetitions (%(default)s)")
    axes.add_argument(
        "--budget", type=float, default=DEFAULT_BUDGET_S, help="s per measurement (%(default)s)"
    )
    axes.add_argument("--warmup", type=float, default=DEFAULT_WARMUP_S, help="s not counted")
    out = parser.add_argument_group("output")
    out.add_argument("--reports-dir", default=DEFAULT_REPORTS_DIR)
    out.add_argument("--no-chart", action="store_true", help="skip the PNG (no matplotlib)")
    parser.set_defaults(func=run)


def _progress(start: float) -> Any:
    def report(message: str) -> None:
        print(f"podshm bench: [{time.monotonic() - start:6.1f}s] {message}", file=sys.stderr)

    return report


def run(args: argparse.Namespace) -> int:
    """Measure, print the table, write the reports; exit 1 if a measurement failed a check.

    With ``--runtime-class`` the host/pod measurement runs once per runtime class (the host
    re-measured beside each, interleaved), each with its own report, then one table puts
    host and every runtime side by side.
    """
    from podshm.ipcbench.environments import HostEnv, PodEnv
    from podshm.ipcbench.measure import run_benchmark
    from podshm.ipcbench.pod import bench_pod
    from podshm.ipcbench.table import render_runtimes
    from podshm.prepare import prepare
    from podshm.target import select_runtime_classes

    start = time.monotonic()
    progress = _progress(start)
    try:
        config = BenchConfig(
            transports=args.transports,
            sizes=args.sizes,
            modes=args.modes,
            impls=args.impls,
            placements=args.placements,
            reps=args.reps,
            budget_s=args.budget,
            warmup_s=args.warmup,
        )
    except ValueError as err:
        raise PodshmError(f"bad benchmark settings: {err}", "see podshm bench --help") from err
    stamp = time.strftime("bench-%Y%m%d-%H%M%S")
    results: list[tuple[str, Any]] = []
    failed = False
    with HostEnv.create() as host:
        if args.host_only:
            progress(f"about {config.estimate_s(1):.0f} s of measurements ahead")
            result = run_benchmark(config, [host], progress)
            failed |= _report(args, result, {}, stamp, start)
            return int(failed)
        settings, target, cluster = prepare(from_cli_args(args), args.start_cluster)
        classes: list[str | None] = [*select_runtime_classes(settings, cluster.facts)] or [None]
        image = str(settings.image)
        ahead = config.estimate_s(2) * len(classes)
        progress(f"target {target.why}; about {ahead:.0f} s of measurements ahead")
        for runtime_class in classes:
            label = runtime_class or "default"
            progress(f"starting the bench pod ({image}, runtime class {label})")
            with bench_pod(cluster, settings, runtime_class) as pod:
                progress(f"pod {pod.namespace}/{pod.name} running on {pod.node_name}")
                result = run_benchmark(config, [host, PodEnv(pod)], progress)
            extra = {"image": image, "context": cluster.connection.context}
            if runtime_class:
                extra["runtime_class"] = runtime_class
            name = f"{stamp}-{runtime_class}" if runtime_class else stamp
            failed |= _report(args, result, extra, name, start)
            results.append((label, result))
    if len(results) > 1:
        text = render_runtimes(results)
        path = Path(args.reports_dir) / f"{stamp}-runtimes.txt"
        path.write_text(text + "\n")
        print(f"\n{text}\nreport: {path}")
    return int(failed)


def _report(
    args: argparse.Namespace, result: Any, extra: dict[str, Any], name: str, start: float
) -> bool:
    """Print one run's table and write its JSON, text and chart; True if it has problems."""
    from podshm.ipcbench.document import to_document, validate_document
    from podshm.ipcbench.table import render

    result.wall_s = time.monotonic() - start
    doc = to_document(result, extra)
    schema_problems = validate_document(doc)
    text = render(result)
    if "runtime_class" in extra:
        text = f"== runtime class {extra['runtime_class']}\n{text}"
    stem = Path(args.reports_dir) / name
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = [stem.with_suffix(".json"), stem.with_suffix(".txt")]
    written[0].write_text(json.dumps(doc, indent=1) + "\n")
    written[1].write_text(text + "\n")
    if not args.no_chart:
        from podshm.ipcbench.chart import write_chart

        written.append(write_chart(result, stem.with_suffix(".png")))
    print(text)
    print(f"\nreports: {', '.join(str(p) for p in written)}; wall time {result.wall_s:.0f} s")
    for problem in schema_problems:
        print(f"podshm bench: report schema problem (a bug): {problem}", file=sys.stderr)
    return bool(result.problems or schema_problems)
