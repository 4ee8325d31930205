"""One benchmark run in Python (``podshm-ipc bench-peer``): what a Python program sees.

Same measurement as the C peer: ping-pong latency timed by the client around send + receive
of the echo (one-way = round trip / 2), throughput timed by the receiver between the complete
arrival of the first and the last message after the warm-up. The report has the same fields
as podshm-ipcbench's JSON, so the orchestrator treats both alike.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, field
from typing import Any

import posix_ipc
import sysv_ipc

from ..result import Report, UsageError, failed
from .limits import PeerTimeout, TimeLimit, current_cpu, pinned
from .transports import CLASSES, Endpoint, Transport
from .wire import (
    FLAG_STOP,
    MIN_SIZE,
    MODES,
    PROTOCOL,
    TRANSPORTS,
    check,
    crc,
    max_size,
    stamp,
)

IMPL_VERSION = "1"
_LIBRARY_ERRORS = (OSError, ValueError, posix_ipc.Error, sysv_ipc.Error)
MAX_SAMPLES = 4_000_000


@dataclass(frozen=True)
class PeerSpec:
    """One run of one side, as the command line of either implementation describes it."""

    transport: str
    role: str
    mode: str
    size: int
    directory: str
    tag: str
    budget_s: float = 0.1
    warmup_s: float = 0.0
    count: int = 0
    cpu: int = -1
    verify: str = "seq"
    timeout_s: float = 10.0

    def validate(self) -> None:
        """Raise UsageError for a run neither implementation would accept."""
        if self.transport not in TRANSPORTS:
            raise UsageError(f"unknown transport {self.transport!r}")
        if self.mode not in MODES or self.role not in ("server", "client"):
            raise UsageError(f"bad mode/role {self.mode}/{self.role}")
        if not MIN_SIZE <= self.size <= max_size(self.transport):
            raise UsageError(
                f"--size {self.size}: {self.transport} takes {MIN_SIZE}.."
                f"{max_size(self.transport)} bytes"
            )
        if not self.tag or len(self.tag) > 64 or any(c in self.tag for c in "/ \t\n"):
            raise UsageError("--tag must be 1-64 characters without '/' or blanks")

    def argv(self) -> list[str]:
        """The same run as flags (for podshm-ipcbench or bench-peer)."""
        return [
            *("--transport", self.transport, "--role", self.role, "--mode", self.mode),
            *("--size", str(self.size), "--dir", self.directory, "--tag", self.tag),
            *("--budget", f"{self.budget_s:g}", "--warmup", f"{self.warmup_s:g}"),
            *("--count", str(self.count), "--cpu", str(self.cpu), "--verify", self.verify),
            *("--timeout", f"{self.timeout_s:g}"),
        ]


@dataclass
class Counters:
    """What one side counted; the orchestrator cross-checks both sides' numbers."""

    sent: int = 0
    received: int = 0
    measured: int = 0
    crc_sent: int = 0
    crc_recv: int = 0
    window_s: float = 0.0
    rtts: list[int] = field(default_factory=list)


def _client_latency(t: Transport, spec: PeerSpec, c: Counters) -> None:
    size, full = spec.size, spec.verify == "full"
    sbuf = bytearray(size)
    send, recv, now, rtts = t.send, t.recv, time.monotonic_ns, c.rtts
    start = now()
    warm_end, end = start + int(spec.warmup_s * 1e9), start + int(spec.budget_s * 1e9)
    seq = first = last = 0
    while True:
        stamp(sbuf, seq, 0, full)
        t0 = now()
        if t0 >= end or (spec.count and len(rtts) >= spec.count):
            break
        send(sbuf)
        rbuf = recv()
        t1 = now()
        check(rbuf, seq, size, full)
        c.sent += 1
        c.received += 1
        if full:
            c.crc_sent, c.crc_recv = crc(c.crc_sent, sbuf), crc(c.crc_recv, rbuf)
        if t0 >= warm_end and len(rtts) < MAX_SAMPLES:
            first = first or t0
            last = t1
            rtts.append(t1 - t0)
        seq += 1
    # STOP is not echoed: the client's last operation is a send, so the server may remove
    # its objects as soon as STOP arrives.
    stamp(sbuf, seq, FLAG_STOP, full)
    send(sbuf)
    c.measured = len(rtts)
    c.window_s = (last - first) / 1e9 if rtts else 0.0


def _server_latency(t: Transport, spec: PeerSpec, c: Counters) -> None:
    size, full = spec.size, spec.verify == "full"
    send, recv = t.send, t.recv
    seq = 0
    while True:
        rbuf = recv()
        if check(rbuf, seq, size, full) & FLAG_STOP:
            return
        send(rbuf)
        c.sent += 1
        c.received += 1
        if full:
            c.crc_recv = crc(c.crc_recv, rbuf)
            c.crc_sent = c.crc_recv
        seq += 1


def _client_throughput(t: Transport, spec: PeerSpec, c: Counters) -> None:
    size, full = spec.size, spec.verify == "full"
    sbuf = bytearray(size)
    send, now = t.send, time.monotonic_ns
    end = now() + int(spec.budget_s * 1e9)
    seq = 0
    while (seq & 15 or now() < end) and not (spec.count and seq >= spec.count):
        stamp(sbuf, seq, 0, full)
        send(sbuf)
        if full:
            c.crc_sent = crc(c.crc_sent, sbuf)
        seq += 1
    c.sent = seq
    stamp(sbuf, seq, FLAG_STOP, full)
    send(sbuf)


def _server_throughput(t: Transport, spec: PeerSpec, c: Counters) -> None:
    size, full = spec.size, spec.verify == "full"
    recv, now = t.recv, time.monotonic_ns
    warm_ns = int(spec.warmup_s * 1e9)
    seq = first_arrival = t_first = t_last = 0
    while True:
        rbuf = recv()
        arrived = now()
        if check(rbuf, seq, size, full) & FLAG_STOP:
            break
        c.received += 1
        if full:
            c.crc_recv = crc(c.crc_recv, rbuf)
        if seq == 0:
            first_arrival = arrived
        seq += 1
        if arrived - first_arrival < warm_ns:
            continue
        if not c.measured:
            t_first = arrived
        t_last = arrived
        c.measured += 1
    c.window_s = (t_last - t_first) / 1e9


LOOPS = {
    ("client", "lat"): _client_latency,
    ("server", "lat"): _server_latency,
    ("client", "thr"): _client_throughput,
    ("server", "thr"): _server_throughput,
}


def _percentile(ordered: list[int], q: float) -> float:
    """Nearest rank, as in the C peer; one-way ns = round trip / 2."""
    rank = min(len(ordered), max(1, int(q * len(ordered) + 0.999999999)))
    return ordered[rank - 1] / 2


def summarise(spec: PeerSpec, c: Counters) -> dict[str, Any]:
    """The figures of a finished run, in podshm-ipcbench's field names."""
    full = spec.verify == "full"
    doc: dict[str, Any] = {
        "verify": spec.verify,
        "sent": c.sent,
        "received": c.received,
        "measured": c.measured,
        "errors": 0,
        "crc_sent": f"{c.crc_sent:08x}" if full else None,
        "crc_recv": f"{c.crc_recv:08x}" if full else None,
        "window_s": round(c.window_s, 6),
        "lat_ns": None,
        "thr": None,
    }
    if c.rtts:
        ordered = sorted(c.rtts)
        doc["lat_ns"] = {
            "p50": _percentile(ordered, 0.5),
            "p90": _percentile(ordered, 0.9),
            "p99": _percentile(ordered, 0.99),
            "mean": round(sum(ordered) / len(ordered) / 2, 1),
            "min": ordered[0] / 2,
            "max": ordered[-1] / 2,
            "samples": len(ordered),
        }
    if spec.role == "server" and spec.mode == "thr" and c.measured >= 2 and c.window_s > 0:
        rate = (c.measured - 1) / c.window_s
        doc["thr"] = {"msgs_per_s": round(rate, 1), "bytes_per_s": round(rate * spec.size, 1)}
    return doc


def run_peer(spec: PeerSpec, report: Report) -> None:
    """Run one side of one measurement into ``report``; raises CommandFailed on failure."""
    report.update(
        impl="python",
        version=IMPL_VERSION,
        protocol=PROTOCOL,
        transport=spec.transport,
        role=spec.role,
        mode=spec.mode,
        size=spec.size,
        tag=spec.tag,
        cpu=spec.cpu,
    )
    spec.validate()
    end = Endpoint(
        spec.transport,
        spec.role == "server",
        spec.mode == "lat",
        spec.size,
        spec.directory,
        spec.tag,
    )
    counters = Counters()
    transport = CLASSES[spec.transport](end)
    cleanup_errors: list[str] = []
    try:
        with TimeLimit(spec.timeout_s) as limit, pinned(spec.cpu):
            report["cpus_allowed"] = sorted(os.sched_getaffinity(0))
            try:
                transport.setup()
                LOOPS[(spec.role, spec.mode)](transport, spec, counters)
            finally:
                try:
                    limit.disarm()
                except PeerTimeout:  # it surfaced at this first call after a failed one
                    limit.disarm()
                report["cpu_end"] = current_cpu()
                cleanup_errors = transport.close()
    except _LIBRARY_ERRORS as exc:
        raise failed(exc, f"{spec.transport} {spec.role} failed: {exc}") from exc
    finally:
        report["objects"] = transport.objects
        report["cleanup_errors"] = cleanup_errors
    report.update(summarise(spec, counters))
    if cleanup_errors:
        raise failed(
            RuntimeError("; ".join(cleanup_errors)),
            f"{spec.transport} {spec.role}: could not release everything: "
            + "; ".join(cleanup_errors),
        )


def spec_from_args(args: argparse.Namespace) -> PeerSpec:
    """The PeerSpec of ``bench-peer``'s flags."""
    return PeerSpec(
        transport=args.transport,
        role=args.role,
        mode=args.mode,
        size=args.size,
        directory=args.dir,
        tag=args.tag,
        budget_s=args.budget,
        warmup_s=args.warmup,
        count=args.count,
        cpu=args.cpu,
        verify=args.verify,
        timeout_s=args.timeout,
    )


def bench_peer(args: argparse.Namespace, report: Report) -> None:
    """``podshm-ipc bench-peer``: one side of one run, Python inner loop."""
    run_peer(spec_from_args(args), report)
