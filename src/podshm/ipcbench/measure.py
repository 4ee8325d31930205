"""Run the benchmark: host and pod interleaved, batch pair by batch pair.

Per repetition, every (placement, inner loop) group runs on the host and then in the pod, or
the other way round on odd repetitions, so slow drift of the machine (another job starting,
a frequency change) lands on both sides of a ratio instead of on one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from podshm.errors import PodshmError
from podshm.ipc.peers.batch import cpus_for
from podshm.ipc.peers.wire import PROTOCOL
from podshm.ipcbench import stats
from podshm.ipcbench.config import BenchConfig
from podshm.ipcbench.environments import BatchFailed, Environment
from podshm.ipcbench.records import Record, failed_batch, records_from_batches
from podshm.names import new_run_id

Progress = Callable[[str], None]


@dataclass
class BenchResult:
    """Everything one run measured, before it is rendered."""

    config: BenchConfig
    cpus: tuple[int, int]
    placements: tuple[str, ...]
    environments: dict[str, dict[str, Any]]
    records: list[Record]
    notes: list[str] = field(default_factory=list)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    wall_s: float = 0.0

    @property
    def summary(self) -> list[dict[str, Any]]:
        """Per-cell medians, spreads and ratios (see :func:`stats.summarise`)."""
        return stats.summarise(self.records)

    @property
    def problems(self) -> list[str]:
        """Every machinery problem, one line each (empty when all figures are trustworthy)."""
        return [
            f"{r['env']} rep {r['rep']} {r['placement']} {r['impl']} {r['transport']} "
            f"{r['size']} B {r['mode']}: {problem}"
            for r in self.records
            for problem in r["problems"]
        ]


def _quiet(message: str) -> None:
    pass


def check_inner_loops(config: BenchConfig, infos: dict[str, dict[str, Any]]) -> None:
    """Fail early when an environment lacks podshm-ipcbench or speaks another protocol."""
    for env, info in infos.items():
        if info.get("protocol") != PROTOCOL:
            raise PodshmError(
                f"the {env}'s podshm-ipc speaks benchmark protocol {info.get('protocol')}, "
                f"this podshm {PROTOCOL}",
                "rebuild and load the test image (podshm image build; podshm cluster up)",
            )
        bench = info.get("ipcbench") or {}
        if "c" in config.impls and bench.get("protocol") != PROTOCOL:
            raise PodshmError(
                f"podshm-ipcbench in the {env} is unusable ({bench.get('error') or bench})",
                "rebuild and load the test image (podshm image build; podshm cluster up), "
                "or run with --impls python",
            )


def plan_cpus(
    config: BenchConfig, infos: dict[str, dict[str, Any]]
) -> tuple[tuple[int, int], tuple[str, ...], list[str]]:
    """The two CPUs every environment may use, the placements they allow, and why not others.

    The same CPU numbers are used on the host and in the pod, so both pin alike.
    """
    allowed = None
    for info in infos.values():
        for key in ("cpus_allowed", "client_cpus_allowed"):
            if info.get(key) is not None:
                cpus = set(info[key])
                allowed = cpus if allowed is None else allowed & cpus
    common = sorted(allowed or ())
    notes = []
    placements = tuple(config.placements)
    if not common:
        raise PodshmError(
            f"the environments share no CPU ({', '.join(infos)})",
            "run the benchmark on the node the pod runs on",
        )
    if len(common) < 2 and "diff" in placements:
        placements = tuple(p for p in placements if p != "diff")
        notes.append(f"only CPU {common[0]} is usable everywhere: no different-CPU placement")
    pair = (common[0], common[1] if len(common) > 1 else common[0])
    return pair, placements, notes


def run_group(
    env: Environment,
    config: BenchConfig,
    rep: int,
    group: tuple[str, str],
    cpus: tuple[int, int],
    run_id: str,
) -> list[Record]:
    """One batch pair (one placement, one inner loop) in one environment."""
    placement, impl = group
    cells = [asdict(cell) for cell in config.cells(placement, impl)]
    pair_cpus = cpus_for(placement, cpus)
    run = f"{run_id}-{rep}-{placement}-{impl}-{env.name}"
    argv = {
        role: config.batch_argv(
            role,
            placement,
            impl,
            run=run,
            directory=env.directory,
            cpus=cpus,
            ipcbench=env.ipcbench,
        )
        for role in ("server", "client")
    }
    try:
        server, client = env.run_pair(
            argv["server"], argv["client"], config.batch_timeout_s(len(cells))
        )
    except BatchFailed as exc:
        return failed_batch(env.name, rep, cells, pair_cpus, str(exc))
    return records_from_batches(env.name, rep, pair_cpus, server, client)


def run_benchmark(
    config: BenchConfig,
    environments: Sequence[Environment],
    progress: Progress = _quiet,
    run_id: str | None = None,
) -> BenchResult:
    """Measure every cell in every environment, ``config.reps`` times, interleaved."""
    started = time.monotonic()
    run_id = run_id or new_run_id()
    infos = {env.name: env.info() for env in environments}
    check_inner_loops(config, infos)
    cpus, placements, notes = plan_cpus(config, infos)
    notes += [info["note"] for info in infos.values() if info.get("note")]
    load_before = os.getloadavg()
    records: list[Record] = []
    groups = [g for g in config.groups() if g[0] in placements]
    for rep in range(config.reps):
        order = list(environments) if rep % 2 == 0 else list(reversed(environments))
        for group in groups:
            for env in order:
                began = time.monotonic()
                batch = run_group(env, config, rep, group, cpus, run_id)
                bad = sum(not r["ok"] for r in batch)
                progress(
                    f"rep {rep + 1}/{config.reps} {group[0]:<4} {group[1]:<6} {env.name:<4} "
                    f"{len(batch)} cells, {bad} failed, {time.monotonic() - began:.1f} s"
                )
                records += batch
    return BenchResult(
        config=config,
        cpus=cpus,
        placements=placements,
        environments=infos,
        records=records,
        notes=notes,
        load_before=load_before,
        load_after=os.getloadavg(),
        wall_s=time.monotonic() - started,
    )
