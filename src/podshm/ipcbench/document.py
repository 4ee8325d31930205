"""The JSON report of a benchmark run (schema ``podshm-bench/1``) and its validator.

The validator is what CI runs against real (tiny) runs: it checks shapes and the invariants
any correct measurement has (min <= p50 <= p99 <= max, bytes/s = msg/s x size, a failed
record lists its problems), never how fast anything was.
"""

from __future__ import annotations

import math
import time
from typing import Any, TypeGuard

from podshm.ipc.peers.batch import IMPLS, PLACEMENTS, cpus_for
from podshm.ipc.peers.wire import MIN_SIZE, MODES, TRANSPORTS
from podshm.ipcbench.measure import BenchResult
from podshm.ipcbench.stats import ENVS, METRICS

SCHEMA = "podshm-bench/1"
TOP_LEVEL = {
    "schema": str,
    "created": str,
    "wall_s": float,
    "config": dict,
    "placements": dict,
    "environments": dict,
    "load": dict,
    "notes": list,
    "problems": list,
    "measurements": list,
    "summary": list,
}
LAT_KEYS = ("min", "p50", "p90", "p99", "max")


def to_document(result: BenchResult, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole run as plain data: configuration, where it ran, every record, the summary."""
    return {
        "schema": SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_s": round(result.wall_s, 1),
        "config": result.config.to_json(),
        "placements": {
            p: dict(zip(("server_cpu", "client_cpu"), cpus_for(p, result.cpus), strict=True))
            for p in result.placements
        },
        "environments": result.environments,
        "load": {"before": list(result.load_before), "after": list(result.load_after)},
        "notes": list(result.notes),
        "problems": result.problems,
        "measurements": result.records,
        "summary": result.summary,
        **(extra or {}),
    }


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _record_problems(i: int, m: Any) -> list[str]:
    if not isinstance(m, dict):
        return [f"measurements[{i}] is not an object"]
    where = f"measurements[{i}]"
    checks = [
        (m.get("env") in ENVS, "env"),
        (isinstance(m.get("rep"), int) and m["rep"] >= 0, "rep"),
        (m.get("placement") in PLACEMENTS, "placement"),
        (m.get("impl") in IMPLS, "impl"),
        (m.get("transport") in TRANSPORTS, "transport"),
        (isinstance(m.get("size"), int) and m["size"] >= MIN_SIZE, "size"),
        (m.get("mode") in MODES, "mode"),
        (isinstance(m.get("ok"), bool), "ok"),
        (isinstance(m.get("problems"), list), "problems"),
        (isinstance(m.get("server_cpu"), int) and isinstance(m.get("client_cpu"), int), "cpus"),
    ]
    out = [
        f"{where}.{name} is missing or invalid: {m.get(name)!r}" for ok, name in checks if not ok
    ]
    if out:
        return out
    if m["ok"] == bool(m["problems"]):
        out.append(f"{where}: ok={m['ok']} but problems={m['problems']}")
    if not m["ok"]:
        return out
    if not (isinstance(m.get("sent"), int) and m["sent"] == m.get("received")):
        out.append(f"{where}: sent {m.get('sent')} != received {m.get('received')}")
    if m["mode"] == "lat":
        lat = m.get("lat_us") or {}
        values = [lat.get(k) for k in LAT_KEYS]
        numbers = [v for v in values if _number(v) and v > 0]
        if len(numbers) != len(values) or numbers != sorted(numbers):
            out.append(f"{where}.lat_us must have 0 < min <= p50 <= p90 <= p99 <= max: {lat}")
        if not (isinstance(lat.get("samples"), int) and lat["samples"] > 0):
            out.append(f"{where}.lat_us.samples must be a positive count: {lat.get('samples')}")
    else:
        thr = m.get("thr") or {}
        rate, rate_bytes = thr.get("msgs_per_s"), thr.get("bytes_per_s")
        if not (_number(rate) and rate > 0 and _number(rate_bytes)):
            out.append(f"{where}.thr must have positive msgs_per_s and bytes_per_s: {thr}")
        elif abs(rate_bytes - rate * m["size"]) > 0.051 * m["size"] + 1e-6 * rate_bytes:
            # both are rounded to 0.1, so the product may be off by 0.05 x size
            out.append(f"{where}.thr: bytes_per_s != msgs_per_s x size: {thr}")
        if not (isinstance(thr.get("messages"), int) and 0 < thr["messages"] <= m["received"]):
            out.append(f"{where}.thr.messages must be in 1..received: {thr.get('messages')}")
    return out


def _spread_problems(where: str, value: Any) -> list[str]:
    if value is None:
        return []
    keys = ("min", "median", "max")
    if not isinstance(value, dict) or not all(_number(value.get(k)) for k in keys):
        return [f"{where} must be null or {{median, min, max, n}}: {value!r}"]
    if not value["min"] <= value["median"] <= value["max"]:
        return [f"{where}: min <= median <= max does not hold: {value}"]
    if not (isinstance(value.get("n"), int) and value["n"] > 0):
        return [f"{where}.n must be a positive count"]
    return []


def _summary_problems(i: int, row: Any) -> list[str]:
    where = f"summary[{i}]"
    if not isinstance(row, dict) or row.get("mode") not in METRICS:
        return [f"{where} is not a summary row with a mode"]
    out = []
    for part in (*ENVS, "ratio"):
        block = row.get(part)
        if not isinstance(block, dict) or set(block) != set(METRICS[row["mode"]]):
            out.append(f"{where}.{part} must have exactly {METRICS[row['mode']]}")
            continue
        for name, value in block.items():
            out += _spread_problems(f"{where}.{part}.{name}", value)
    return out


def validate_document(doc: Any) -> list[str]:
    """Every way ``doc`` breaks schema podshm-bench/1 (empty list: valid)."""
    if not isinstance(doc, dict):
        return ["the document is not a JSON object"]
    out = [
        f"{key} must be {kind.__name__}, is {type(doc.get(key)).__name__}"
        for key, kind in TOP_LEVEL.items()
        if not isinstance(doc.get(key), kind)
    ]
    if out:
        return out
    if doc["schema"] != SCHEMA:
        out.append(f"schema is {doc['schema']!r}, want {SCHEMA!r}")
    for i, m in enumerate(doc["measurements"]):
        out += _record_problems(i, m)
    for i, row in enumerate(doc["summary"]):
        out += _summary_problems(i, row)
    for placement, cpus in doc["placements"].items():
        if placement not in PLACEMENTS or set(cpus) != {"server_cpu", "client_cpu"}:
            out.append(f"placements.{placement} must name server_cpu and client_cpu")
    if not all(isinstance(p, str) for p in doc["problems"]):
        out.append("problems must be strings")
    return out


PROPERTY_UNITS = {"p50": "us", "p99": "us", "msgs_per_s": "", "bytes_per_s": ""}


def junit_properties(result: BenchResult) -> list[tuple[str, float | int | str | None]]:
    """The summary as flat junit properties: medians, the pod/host ratio and its range.

    Names read ``<placement>.<impl>.<size>B.<mode>.<metric>.<host|pod|ratio...>``, e.g.
    ``same.c.64B.lat.p50_us.pod`` or ``diff.python.4096B.thr.msgs_per_s.ratio_max``.
    """
    props: list[tuple[str, float | int | str | None]] = [
        ("bench.cpus", f"{result.cpus[0]},{result.cpus[1]}"),
        ("bench.reps", result.config.reps),
        ("bench.load_before", round(result.load_before[0], 2)),
        ("bench.load_after", round(result.load_after[0], 2)),
    ]
    for row in result.summary:
        prefix = f"{row['placement']}.{row['impl']}.{row['size']}B.{row['mode']}"
        for name, unit in PROPERTY_UNITS.items():
            if name not in row["ratio"]:
                continue
            label = f"{prefix}.{name}_{unit}" if unit else f"{prefix}.{name}"
            for env in ("host", "pod"):
                value = row[env][name]
                props.append((f"{label}.{env}", round(value["median"], 4) if value else None))
            ratio = row["ratio"][name]
            for key in ("median", "min", "max"):
                suffix = "ratio" if key == "median" else f"ratio_{key}"
                props.append((f"{label}.{suffix}", round(ratio[key], 3) if ratio else None))
    return props
