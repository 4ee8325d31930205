"""``podshm-ipc bench-batch``: a whole plan of runs for one role, in one process.

Starting a helper through the Kubernetes exec API costs a good fraction of a second, far more
than one run, so the orchestrator starts one batch per role and container and each batch
walks the same plan: server and client derive the identical list of cells from the same
flags and meet once per cell through that cell's ready file (tag ``<run>-<index>``). C cells
run podshm-ipcbench as a child process; Python cells run in this process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from typing import Any

from ..result import EXIT_IPC_FAILED, EXIT_TIMEOUT, CommandFailed, Deadline, Report, UsageError
from .peer import PeerSpec, run_peer
from .wire import MIN_SIZE, max_size

PLACEMENTS = ("same", "diff", "none")
"""same: both peers pinned to the first CPU; diff: server on the first, client on the
second; none: not pinned (the scheduler decides)."""
IMPLS = ("c", "python")
DEFAULT_IPCBENCH = "podshm-ipcbench"
KILL_GRACE_S = 5.0


@dataclass(frozen=True)
class Cell:
    """One measurement of the plan: both roles number cells identically."""

    index: int
    placement: str
    impl: str
    transport: str
    size: int
    mode: str


def plan(
    placements: tuple[str, ...],
    impls: tuple[str, ...],
    transports: tuple[str, ...],
    sizes: tuple[int, ...],
    modes: tuple[str, ...],
) -> list[Cell]:
    """Every combination the transports allow, in a fixed order (sizes they refuse are left out)."""
    combos = [
        (placement, impl, transport, size, mode)
        for placement in placements
        for impl in impls
        for transport in transports
        for size in sizes
        if MIN_SIZE <= size <= max_size(transport)
        for mode in modes
    ]
    return [Cell(i, *combo) for i, combo in enumerate(combos)]


def cpus_for(placement: str, cpus: tuple[int, ...]) -> tuple[int, int]:
    """(server CPU, client CPU) of a placement; -1 means not pinned."""
    if placement == "none":
        return -1, -1
    if placement == "same" and cpus:
        return cpus[0], cpus[0]
    if placement == "diff" and len(cpus) >= 2 and cpus[0] != cpus[1]:
        return cpus[0], cpus[1]
    raise UsageError(f"placement {placement!r} needs --cpus A,B with two different CPUs")


def run_c(binary: str, spec: PeerSpec) -> tuple[int, dict[str, Any]]:
    """One run of podshm-ipcbench; (exit code, its JSON object)."""
    try:
        proc = subprocess.run(
            [binary, *spec.argv()],
            capture_output=True,
            text=True,
            timeout=spec.timeout_s + KILL_GRACE_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        reason = f"{binary} outlived its own --timeout {spec.timeout_s:g} s and was killed"
        return EXIT_TIMEOUT, {
            "error": {"errno": "ETIMEDOUT", "message": "killed", "reason": reason}
        }
    for line in reversed(proc.stdout.strip().splitlines()):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            return proc.returncode, doc
    reason = f"{binary} printed no JSON (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
    return proc.returncode or EXIT_IPC_FAILED, {
        "error": {"errno": None, "message": "no JSON", "reason": reason}
    }


def run_python(spec: PeerSpec) -> tuple[int, dict[str, Any]]:
    """One run of the Python peer in this process; (exit code, report)."""
    report: Report = {}
    started = time.monotonic()
    code = 0
    try:
        run_peer(spec, report)
    except CommandFailed as exc:
        report["error"] = exc.error_object()
        code = exc.exit_code
    report["elapsed_s"] = round(time.monotonic() - started, 3)
    return code, report


def _resolve(binary: str) -> str:
    path = shutil.which(binary) if os.sep not in binary else binary
    if not path or not os.access(path, os.X_OK):
        raise CommandFailed(
            EXIT_IPC_FAILED,
            f"{binary} not found or not executable: the C inner loop is missing (rebuild the "
            "test image with `podshm image build`, or pass --impls python)",
            errno="ENOENT",
        )
    return path


def bench_batch(args: argparse.Namespace, report: Report) -> None:
    """Run every cell of the plan for ``--role``; report each cell's JSON under ``cells``."""
    cells = plan(args.placements, args.impls, args.transports, args.sizes, args.modes)
    cpus = {p: cpus_for(p, args.cpus) for p in args.placements}
    binary = _resolve(args.ipcbench) if "c" in args.impls else ""
    report.update(role=args.role, run=args.run, planned=len(cells))
    results: list[dict[str, Any]] = []
    report["cells"] = results
    deadline = Deadline(args.timeout)
    for cell in cells:
        server_cpu, client_cpu = cpus[cell.placement]
        entry: dict[str, Any] = asdict(cell)
        left = deadline.remaining()
        if left <= 0:
            reason = f"not run: the batch's --timeout {args.timeout:g} s was used up"
            error = {"errno": "ETIMEDOUT", "message": "timed out", "reason": reason}
            results.append({**entry, "ok": False, "exit_code": EXIT_TIMEOUT, "error": error})
            continue
        spec = PeerSpec(
            transport=cell.transport,
            role=args.role,
            mode=cell.mode,
            size=cell.size,
            directory=args.dir,
            tag=f"{args.run}-{cell.index}",
            budget_s=args.budget,
            warmup_s=args.warmup,
            count=args.count,
            cpu=server_cpu if args.role == "server" else client_cpu,
            verify=args.verify,
            timeout_s=min(args.cell_timeout, left),
        )
        code, doc = run_c(binary, spec) if cell.impl == "c" else run_python(spec)
        doc.pop("command", None)
        results.append({**doc, **entry, "ok": code == 0, "exit_code": code})
    failures = [r for r in results if not r["ok"]]
    report["failed"] = len(failures)
    if failures:
        first = failures[0]
        raise CommandFailed(
            first["exit_code"] or EXIT_IPC_FAILED,
            f"{len(failures)} of {len(results)} runs failed; first: cell {first['index']} "
            f"({first['impl']} {first['transport']} {first['size']} B {first['mode']}): "
            f"{(first.get('error') or {}).get('reason', '?')}",
            errno=(first.get("error") or {}).get("errno"),
        )
