"""The PNG chart: latency and throughput per transport, pod next to host, per placement.

matplotlib is an optional extra (``pip install 'podshm[bench]'``): it is imported only here,
and only when a chart is asked for, so the rest of podshm never pays for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from podshm.errors import PodshmError
from podshm.ipcbench.measure import BenchResult
from podshm.ipcbench.stats import find
from podshm.ipcbench.table import PLACEMENT_TITLES, rate_text, size_text, us_text

SERIES = (
    ("host", "c", "host, C", "#1f77b4", ""),
    ("pod", "c", "pod, C", "#ff7f0e", ""),
    ("host", "python", "host, Python", "#9ecae1", "//"),
    ("pod", "python", "pod, Python", "#fdd0a2", "//"),
)
PANELS = (("lat", "p50", "one-way latency p50 (us)"), ("thr", "msgs_per_s", "msg/s"))


def _pyplot() -> tuple[Any, Any]:
    try:
        import matplotlib
    except ImportError as err:
        raise PodshmError(
            "matplotlib is not installed: it draws the benchmark's PNG chart",
            "pip install 'podshm[bench]' (or run with --no-chart)",
        ) from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    return plt, ticker


def write_chart(result: BenchResult, path: Path, size: int | None = None) -> Path:
    """Grouped bars (median, whiskers = range over repetitions) for one message size."""
    plt, ticker = _pyplot()
    size = size or min(result.config.sizes)
    rows = result.summary
    transports = list(result.config.transports)
    series = [s for s in SERIES if s[1] in result.config.impls]
    width = 0.8 / len(series)
    fig, axes = plt.subplots(
        len(PANELS),
        len(result.placements),
        figsize=(6.5 * len(result.placements), 8),
        squeeze=False,
    )
    for col, placement in enumerate(result.placements):
        for row_no, (mode, name, label) in enumerate(PANELS):
            ax = axes[row_no][col]
            for i, (env, impl, legend, color, hatch) in enumerate(series):
                medians, lows, highs = [], [], []
                for transport in transports:
                    row = find(
                        rows,
                        placement=placement,
                        impl=impl,
                        transport=transport,
                        size=size,
                        mode=mode,
                    )
                    value = ((row or {}).get(env) or {}).get(name)
                    median = value["median"] if value else 0.0
                    medians.append(median)
                    lows.append(median - value["min"] if value else 0.0)
                    highs.append(value["max"] - median if value else 0.0)
                xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(transports))]
                ax.bar(
                    xs,
                    medians,
                    width,
                    yerr=[lows, highs],
                    label=legend,
                    color=color,
                    hatch=hatch,
                    edgecolor="black",
                    linewidth=0.4,
                    capsize=2,
                )
            ax.set_xticks(range(len(transports)), transports, rotation=30, ha="right")
            if mode == "thr":  # rates span orders of magnitude; latencies of one placement do not
                ax.set_yscale("log")
                ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
                ax.yaxis.set_minor_formatter(ticker.NullFormatter())
            fmt = us_text if mode == "lat" else rate_text
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos, f=fmt: f(v)))
            ax.set_ylabel(label)
            ax.grid(axis="y", which="both", alpha=0.3)
            title = PLACEMENT_TITLES[placement].format(*result.cpus).split(":")[0]
            ax.set_title(f"{title}, {size_text(size)}: {label}")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(series), bbox_to_anchor=(0.5, 0.955))
    fig.suptitle(
        f"podshm bench: pod vs host ({result.config.reps} repetitions, "
        f"whiskers = range; lower latency and higher msg/s are better)"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
