"""What one ``podshm bench`` measures, and the batch command lines that measure it.

The default run is sized for the issue's bound (under 3 minutes on a 2-core machine): 7
transports x 3 sizes (the queues refuse 1 MiB) x 2 measures x 2 placements x 2 inner loops
= 152 cells per environment and repetition, 0.1 s each, 3 repetitions on the host and in
the pod, interleaved.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from podshm.ipc.peers.batch import IMPLS, Cell, plan
from podshm.ipc.peers.wire import MAX_SIZE, MIN_SIZE, MODES, TRANSPORTS

DEFAULT_SIZES = (64, 4096, 1 << 20)
DEFAULT_PLACEMENTS = ("same", "diff")
DEFAULT_REPS = 3
DEFAULT_BUDGET_S = 0.1
DEFAULT_WARMUP_S = 0.02
CELL_OVERHEAD_S = 0.012
"""Measured set-up cost of one cell (process start, rendezvous, teardown) on the host."""
BATCH_OVERHEAD_S = 0.5
"""Starting a batch pair: two exec calls through the API server in the pod."""
BATCH_MARGIN_S = 60.0


@dataclass(frozen=True)
class BenchConfig:
    """The benchmark's axes and its time budget per measurement."""

    transports: tuple[str, ...] = TRANSPORTS
    sizes: tuple[int, ...] = DEFAULT_SIZES
    modes: tuple[str, ...] = MODES
    impls: tuple[str, ...] = IMPLS
    placements: tuple[str, ...] = DEFAULT_PLACEMENTS
    reps: int = DEFAULT_REPS
    budget_s: float = DEFAULT_BUDGET_S
    warmup_s: float = DEFAULT_WARMUP_S
    count: int = 0
    verify: str = "seq"

    def __post_init__(self) -> None:
        if self.reps < 1 or self.budget_s <= 0 or self.warmup_s < 0:
            raise ValueError("want reps >= 1, budget > 0 and warmup >= 0")
        if not self.count and self.warmup_s >= self.budget_s:
            raise ValueError(
                f"the warm-up ({self.warmup_s:g} s) must be shorter than the budget "
                f"({self.budget_s:g} s), or nothing is measured"
            )
        if not (self.transports and self.sizes and self.modes and self.impls):
            raise ValueError("nothing to measure: empty transports, sizes, modes or impls")
        if not all(MIN_SIZE <= size <= MAX_SIZE for size in self.sizes):
            raise ValueError(f"message sizes must be {MIN_SIZE}..{MAX_SIZE} bytes")

    @property
    def cell_timeout_s(self) -> float:
        """Bound of one cell: its budget plus room for set-up on a busy machine."""
        return self.budget_s + 5.0

    def cells(self, placement: str, impl: str) -> list[Cell]:
        """The cells of one batch (one placement, one inner loop)."""
        return plan((placement,), (impl,), self.transports, self.sizes, self.modes)

    def groups(self) -> list[tuple[str, str]]:
        """(placement, impl) pairs: the unit that alternates between host and pod."""
        return [(p, i) for p in self.placements for i in self.impls]

    def batch_timeout_s(self, cells: int) -> float:
        """Bound of one batch: every cell at its budget, plus a margin for stragglers."""
        return cells * (self.budget_s + CELL_OVERHEAD_S) + BATCH_MARGIN_S

    def estimate_s(self, environments: int = 2) -> float:
        """Expected wall time of the measurements (without pod start-up)."""
        cells = sum(len(self.cells(p, i)) for p, i in self.groups())
        per_env = cells * (self.budget_s + CELL_OVERHEAD_S) + len(self.groups()) * BATCH_OVERHEAD_S
        return per_env * environments * self.reps

    def batch_argv(
        self,
        role: str,
        placement: str,
        impl: str,
        *,
        run: str,
        directory: str,
        cpus: tuple[int, int],
        ipcbench: str,
    ) -> list[str]:
        """``bench-batch`` and its flags for one role of one batch."""
        cells = len(self.cells(placement, impl))
        return [
            "bench-batch",
            *("--role", role, "--dir", directory, "--run", run),
            *("--transports", ",".join(self.transports)),
            *("--sizes", ",".join(str(s) for s in self.sizes)),
            *("--modes", ",".join(self.modes), "--impls", impl, "--placements", placement),
            *("--cpus", f"{cpus[0]},{cpus[1]}"),
            *("--budget", f"{self.budget_s:g}", "--warmup", f"{self.warmup_s:g}"),
            *("--count", str(self.count), "--verify", self.verify),
            *("--cell-timeout", f"{self.cell_timeout_s:g}"),
            *("--timeout", f"{self.batch_timeout_s(cells):g}"),
            *("--ipcbench", ipcbench),
        ]

    def to_json(self) -> dict:
        """Plain data for the report."""
        return {**asdict(self), "cell_timeout_s": self.cell_timeout_s}
