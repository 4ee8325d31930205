"""Medians, spreads and the pod/host ratio, per cell, over the repetitions.

Repetition k of the host and repetition k of the pod ran back to back (the order alternates
between repetitions), so the ratio is taken per repetition pair and then summarised: the
spread of the ratio shows how much of a difference is the pod and how much is the machine.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from podshm.ipcbench.records import CELL_KEYS, Record

METRICS = {"lat": ("p50", "p99"), "thr": ("msgs_per_s", "bytes_per_s")}
"""What is summarised per measure: one-way latency percentiles (us) and throughput."""
ENVS = ("host", "pod")


def metric(record: Record, name: str) -> float | None:
    """One figure of a successful record (None when it failed or lacks it)."""
    if not record.get("ok"):
        return None
    source = record.get("lat_us") if record["mode"] == "lat" else record.get("thr")
    value = (source or {}).get(name)
    return float(value) if isinstance(value, int | float) else None


def spread(values: list[float]) -> dict[str, float | int] | None:
    """Median, min, max and count (None for no values)."""
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def cell_key(record: Record) -> tuple:
    """The cell a record measured, without environment and repetition."""
    return tuple(record[k] for k in CELL_KEYS)


def summarise(records: list[Record]) -> list[dict[str, Any]]:
    """One row per cell: host and pod spreads of each metric and the paired pod/host ratio."""
    grouped: dict[tuple, dict[str, dict[int, Record]]] = defaultdict(lambda: defaultdict(dict))
    order: list[tuple] = []
    for record in records:
        key = cell_key(record)
        if key not in grouped:
            order.append(key)
        grouped[key][record["env"]][record["rep"]] = record
    rows = []
    for key in order:
        by_env = grouped[key]
        row: dict[str, Any] = dict(zip(CELL_KEYS, key, strict=True))
        for env in ENVS:
            row[env] = {}
        row["ratio"] = {}
        for name in METRICS[row["mode"]]:
            values = {env: {rep: metric(r, name) for rep, r in by_env[env].items()} for env in ENVS}
            for env in ENVS:
                row[env][name] = spread([v for v in values[env].values() if v is not None])
            ratios = [
                pod / host
                for rep, host in values["host"].items()
                if host and (pod := values["pod"].get(rep)) is not None
            ]
            row["ratio"][name] = spread(ratios)
        rows.append(row)
    return rows


def find(rows: list[dict[str, Any]], **where: Any) -> dict[str, Any] | None:
    """The summary row matching every given key (placement=..., size=...)."""
    for row in rows:
        if all(row.get(k) == v for k, v in where.items()):
            return row
    return None
