"""The printed report: one table per placement and inner loop, then the headline ratios."""

from __future__ import annotations

from typing import Any

from podshm.ipcbench.environments import describe_info
from podshm.ipcbench.measure import BenchResult
from podshm.ipcbench.stats import find

PLACEMENT_TITLES = {
    "same": "same CPU: server and client both pinned to CPU {0}",
    "diff": "different CPUs: server on CPU {0}, client on CPU {1}",
    "none": "not pinned: the scheduler places both",
}
IMPL_TITLES = {
    "c": "C inner loop (podshm-ipcbench): the transport's own cost",
    "python": "Python inner loop (podshm-ipc bench-peer): what a CPython program sees",
}
SEED_004 = (
    "seed 004 (rigtorp/ipc-bench, one 3.3 GHz CPU, both ends on it): latency TCP 6 us, "
    "UDS 2 us, pipe 2 us; throughput 0.25M, 1.73M, 1.68M msg/s"
)


def size_text(size: int) -> str:
    """64 B, 4 KiB, 1 MiB."""
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} B"


def us_text(value: float | None) -> str:
    """Microseconds with three significant digits."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f}"
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def rate_text(value: float | None) -> str:
    """Messages per second: 1.27M, 431k, 2.2k."""
    if value is None:
        return "-"
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.3g}"


def mbps_text(value: float | None) -> str:
    """Bytes per second as MB/s (10^6)."""
    return "-" if value is None else f"{value / 1e6:,.0f}"


def ratio_text(spread: dict[str, Any] | None) -> str:
    """``1.03 [0.98-1.10]``: median pod/host of the paired repetitions, then their range."""
    if not spread:
        return "-"
    return f"{spread['median']:.2f} [{spread['min']:.2f}-{spread['max']:.2f}]"


def _median(row: dict[str, Any] | None, env: str, name: str) -> float | None:
    value = ((row or {}).get(env) or {}).get(name)
    return value["median"] if value else None


HEADER = (
    f"{'transport':<10}{'size':>8} | {'lat p50 us: host':>16}{'pod':>8}  {'pod/host':<18}"
    f"| {'p99 host':>9}{'pod':>8} | {'msg/s host':>10}{'pod':>8}  {'pod/host':<18}"
    f"| {'MB/s host':>9}{'pod':>7}"
)


def _line(rows: list[dict[str, Any]], transport: str, size: int) -> str:
    lat = find(rows, transport=transport, size=size, mode="lat")
    thr = find(rows, transport=transport, size=size, mode="thr")
    return (
        f"{transport:<10}{size_text(size):>8} | "
        f"{us_text(_median(lat, 'host', 'p50')):>16}{us_text(_median(lat, 'pod', 'p50')):>8}  "
        f"{ratio_text((lat or {}).get('ratio', {}).get('p50')):<18}| "
        f"{us_text(_median(lat, 'host', 'p99')):>9}{us_text(_median(lat, 'pod', 'p99')):>8} | "
        f"{rate_text(_median(thr, 'host', 'msgs_per_s')):>10}"
        f"{rate_text(_median(thr, 'pod', 'msgs_per_s')):>8}  "
        f"{ratio_text((thr or {}).get('ratio', {}).get('msgs_per_s')):<18}| "
        f"{mbps_text(_median(thr, 'host', 'bytes_per_s')):>9}"
        f"{mbps_text(_median(thr, 'pod', 'bytes_per_s')):>7}"
    )


def _section(result: BenchResult, rows: list[dict[str, Any]], placement: str, impl: str) -> list:
    mine = [r for r in rows if r["placement"] == placement and r["impl"] == impl]
    if not mine:
        return []
    title = PLACEMENT_TITLES[placement].format(*result.cpus)
    lines = ["", f"== {title}; {IMPL_TITLES[impl]}", HEADER, "-" * len(HEADER)]
    seen = []
    for row in mine:
        if (row["transport"], row["size"]) not in seen:
            seen.append((row["transport"], row["size"]))
    lines += [_line(mine, transport, size) for transport, size in seen]
    return lines


def _headline(result: BenchResult, rows: list[dict[str, Any]]) -> list[str]:
    size = min(result.config.sizes)
    cols = [(p, m) for p in result.placements for m in ("lat", "thr")]
    names = {"lat": "lat p50", "thr": "msg/s"}
    head = f"{'transport':<10}" + "".join(f"{p + ' ' + names[m]:>22}" for p, m in cols)
    lines = [
        "",
        f"== pod / host, {size_text(size)}, C inner loop: median [range] over "
        f"{result.config.reps} paired repetitions (latency > 1: the pod is slower; "
        "msg/s < 1: the pod is slower)",
        head,
        "-" * len(head),
    ]
    for transport in result.config.transports:
        cells = []
        for placement, mode in cols:
            row = find(
                rows, placement=placement, impl="c", transport=transport, size=size, mode=mode
            )
            name = "p50" if mode == "lat" else "msgs_per_s"
            cells.append(f"{ratio_text((row or {}).get('ratio', {}).get(name)):>22}")
        lines.append(f"{transport:<10}" + "".join(cells))
    return lines


def _python_cost(result: BenchResult, rows: list[dict[str, Any]]) -> list[str]:
    if not {"c", "python"} <= set(result.config.impls):
        return []
    size = min(result.config.sizes)
    placement = result.placements[0]
    lines = [
        "",
        f"== what CPython adds to the one-way latency ({size_text(size)}, {placement} placement,"
        " p50 us: python - C = overhead; share of the Python figure)",
    ]
    for transport in result.config.transports:
        parts = []
        for env in ("host", "pod"):
            c, py = (
                _median(
                    find(
                        rows,
                        placement=placement,
                        impl=i,
                        transport=transport,
                        size=size,
                        mode="lat",
                    ),
                    env,
                    "p50",
                )
                for i in ("c", "python")
            )
            if c is None or py is None:
                parts.append(f"{env} -")
            else:
                parts.append(
                    f"{env} {us_text(py)} - {us_text(c)} = {us_text(py - c)} ({(py - c) / py:.0%})"
                )
        lines.append(f"{transport:<10}  " + "   ".join(parts))
    return lines


def render(result: BenchResult) -> str:
    """The full text report."""
    rows = result.summary
    cfg = result.config
    lines = [
        f"podshm bench: {len(cfg.transports)} transports, sizes "
        f"{', '.join(size_text(s) for s in cfg.sizes)}, {cfg.reps} repetitions host/pod "
        f"interleaved, {cfg.budget_s:g} s per measurement ({cfg.warmup_s:g} s warm-up), "
        f"wall {result.wall_s:.0f} s",
        f"load average before {result.load_before[0]:.2f}, after {result.load_after[0]:.2f}",
    ]
    for name, info in result.environments.items():
        where = f" ({info['pod']} on node {info['node']})" if "pod" in info else ""
        lines.append(f"{name}{where}: {describe_info(info)}")
    lines.append("latency: one-way = round trip / 2 (ping-pong); throughput: one-way stream")
    for placement in result.placements:
        for impl in cfg.impls:
            lines += _section(result, rows, placement, impl)
    lines += _headline(result, rows)
    lines += _python_cost(result, rows)
    lines += ["", SEED_004]
    for note in result.notes:
        lines.append(f"note: {note}")
    problems = result.problems
    if problems:
        lines.append(f"{len(problems)} measurement(s) failed their checks and are left out:")
        lines += [f"  {p}" for p in problems[:20]]
    return "\n".join(lines)


def render_runtimes(results: list[tuple[str, BenchResult]]) -> str:
    """Host and each runtime class side by side: one-way latency p50 (us) and msg/s at the
    smallest size, first placement, C inner loop. Each runtime's pod was measured
    interleaved with its own host run; the host column is the median of those host runs."""
    first = results[0][1]
    size, placement = min(first.config.sizes), first.placements[0]
    names = [label for label, _ in results]
    head = f"{'transport':<10}{'host':>10}" + "".join(f"{n:>12}" for n in names)
    lines = [
        f"== by runtime class: {size_text(size)}, {PLACEMENT_TITLES[placement].format(*first.cpus)}"
        ", C inner loop",
    ]
    for mode, name, text in (("lat", "p50", us_text), ("thr", "msgs_per_s", rate_text)):
        if mode not in first.config.modes:
            continue
        lines += ["", f"{'latency p50 us' if mode == 'lat' else 'msg/s'}", head, "-" * len(head)]
        for transport in first.config.transports:
            where = {"placement": placement, "impl": "c", "transport": transport, "size": size}
            rows = [find(r.summary, mode=mode, **where) for _, r in results]
            hosts = sorted(v for row in rows if (v := _median(row, "host", name)) is not None)
            host = hosts[len(hosts) // 2] if hosts else None
            cells = "".join(f"{text(_median(row, 'pod', name)):>12}" for row in rows)
            lines.append(f"{transport:<10}{text(host):>10}{cells}")
    return "\n".join(lines)
