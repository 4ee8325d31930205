#!/usr/bin/env python3
"""Benchmark of the local cluster: build time, `up` time, pod create-to-exec latency.

Prints figures; asserts nothing. Run as root from a checkout:

    .venv/bin/python bench/cluster_up.py            # warm up time and latency (20 pods)
    .venv/bin/python bench/cluster_up.py --cold     # also a cold build in an empty cache
    .venv/bin/python bench/cluster_up.py --vm       # also the VM node: boot to Ready, pods

Pod latency is measured from the create call to the first successful exec of
`true` in the container (the Kubernetes exec API), against `ctr run --rm` of the
same image on the same containerd (create + start + exit of `true`): the ratio
is what Kubernetes adds on top of the runtime.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from podshm import providers
from podshm.build import catalog, gobuild
from podshm.build.pins import DEFAULT, Pins, pins_for
from podshm.image import build_test_image
from podshm.kube.cluster import open_cluster
from podshm.kube.launch import PodOptions, launch_pod, render_pod
from podshm.kube.namespaces import NamespaceManager
from podshm.names import new_run_id
from podshm.providers.base import Request
from podshm.providers.local import lifecycle
from podshm.providers.local.layout import Layout
from podshm.providers.local.state import read_record
from podshm.providers.local.vm import join as vm_join


def timed(label: str, fn) -> float:
    started = time.monotonic()
    fn()
    elapsed = time.monotonic() - started
    print(f"{label:<44} {elapsed:8.1f} s", flush=True)
    return elapsed


def cold_build(pins: Pins) -> None:
    """Build every component into empty caches (module downloads still come from GOMODCACHE)."""
    with tempfile.TemporaryDirectory(prefix="podshm-cold-") as tmp:
        env = {"PODSHM_CACHE_DIR": f"{tmp}/cache", "GOCACHE": f"{tmp}/gocache"}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            for comp in catalog.go_components(pins):
                timed(f"cold build {comp.name} {comp.version}", lambda c=comp: gobuild.build(c))
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class PhaseLog:
    """A log stream for `up` that notes when each of its progress lines was written."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.marks: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                self.marks.append((time.monotonic() - self.start, line.removeprefix("podshm: ")))
        return len(text)

    def flush(self) -> None:
        pass

    def phases(self, total: float) -> list[tuple[str, float]]:
        """Each progress line's phase and how long it lasted (until the next line)."""
        ends = [t for t, _ in self.marks[1:]] + [total]
        return [(text, end - t) for (t, text), end in zip(self.marks, ends, strict=True)]


def pod_latencies(
    image: str, count: int, kubeconfig: str | None = None, node: str | None = None
) -> list[float]:
    layout = Layout.default()
    target = open_cluster(kubeconfig or str(layout.admin_kubeconfig), None)
    run_id = new_run_id()
    namespaces = NamespaceManager(target.api, "podshm-bench", run_id)
    ns = namespaces.create()
    options = PodOptions(image, "Never", run_id, node=node)
    out = []
    try:
        for i in range(count):
            pod = render_pod("bench-single.yaml", f"lat-{i}", options)
            started = time.monotonic()
            handle = launch_pod(target.api, ns.name, pod, poll=0.02, timeout=600)
            result = handle.exec("main", ["true"], timeout=120)
            out.append(time.monotonic() - started)
            if result.exit_code != 0:
                raise SystemExit(f"exec failed: {result.describe()}")
    finally:
        namespaces.delete_all()
    return out


def ctr_latencies(image: str, count: int) -> list[float]:
    layout = Layout.default()
    record = read_record(layout)
    assert record is not None, "the local cluster is not up"
    ctr = record.binary_paths()["ctr"]
    base = [str(ctr), "--address", str(layout.containerd_socket), "-n", "k8s.io"]
    out = []
    for i in range(count):
        started = time.monotonic()
        proc = subprocess.run(
            [*base, "run", "--rm", image, f"podshm-bench-{i}", "true"], capture_output=True
        )
        if proc.returncode != 0:
            raise SystemExit(f"ctr run failed: {proc.stderr.decode()[-2000:]}")
        out.append(time.monotonic() - started)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k8s-version", default=DEFAULT.kubernetes)
    parser.add_argument("--pods", type=int, default=20)
    parser.add_argument("--cold", action="store_true", help="also time a cold build (minutes)")
    parser.add_argument(
        "--vm", action="store_true", help="also a VM node: boot to Ready and its pod latency"
    )
    parser.add_argument("--vm-pods", type=int, default=5, help="pods timed on the VM node")
    parser.add_argument(
        "--kind", action="store_true", help="also kind's warm up and pod latency (3 nodes)"
    )
    args = parser.parse_args()
    pins = pins_for(args.k8s_version)
    local, kind = providers.get("local"), providers.get("kind")

    if args.cold:
        cold_build(pins)
    timed("warm build check (all cached)", lambda: lifecycle.build_binaries(pins))
    image = build_test_image()
    images = {image.ref: image.archive_path}
    timed("cluster down", lambda: local.down(sys.stderr))
    phase_log = PhaseLog()
    total = timed(
        "warm up to a Ready node (images imported)",
        lambda: local.up(Request(pins, images=images), phase_log),  # type: ignore[arg-type]
    )
    for text, seconds in phase_log.phases(total):
        print(f"  {text[:60]:<62} {seconds:6.2f} s")

    pods = pod_latencies(image.ref, args.pods)
    runs = ctr_latencies(image.ref, args.pods)
    rows = [("pod create -> exec (local)", pods), ("ctr run --rm (true)", runs)]
    if args.vm:
        vm_log = PhaseLog()
        vm_total = timed(
            "VM node: boot to Ready (cluster running)",
            lambda: local.up(Request(pins, vm_nodes=1), vm_log),  # type: ignore[arg-type]
        )
        for text, seconds in vm_log.phases(vm_total):
            print(f"  {text[:60]:<62} {seconds:6.2f} s")
        vm_pods = pod_latencies(image.ref, args.vm_pods, node=vm_join.NAME)
        rows.append((f"pod create -> exec (VM, n={args.vm_pods})", vm_pods))
        timed(
            "VM node: stop (--vm-nodes 0)", lambda: local.up(Request(pins, vm_nodes=0), sys.stderr)
        )
    if args.kind:
        timed("kind down", lambda: kind.down(sys.stderr))
        timed("kind warm up, 3 nodes Ready", lambda: kind.up(Request(pins, 3), sys.stderr))
        timed("kind load the test image", lambda: kind.load_image(image.archive_path, sys.stderr))
        rows.append(
            (
                "pod create -> exec (kind)",
                pod_latencies(image.ref, args.pods, str(kind.kubeconfig())),
            )
        )
        timed("kind down", lambda: kind.down(sys.stderr))
    print(f"\n{'':<28}{'p50':>9}{'p90':>9}{'mean':>9}   (seconds, n={args.pods})")
    for label, values in rows:
        print(
            f"{label:<28}{percentile(values, 0.5):9.3f}{percentile(values, 0.9):9.3f}"
            f"{statistics.mean(values):9.3f}"
        )
    ratio = percentile(pods, 0.5) / percentile(runs, 0.5)
    print(f"{'ratio pod / ctr (p50)':<28}{ratio:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
