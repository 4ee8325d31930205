#!/usr/bin/env python3
"""What one helper exec costs in a pod, against ``exec true``, side by side in one run.

Prints figures; asserts nothing. Against podshm's local cluster (start it first: `podshm
cluster up`): one two-container pod of the test image, then, interleaved so drift hits all
alike, ``--execs`` rounds of three execs into it through podshm's own exec path (the API
client's exec stream, as every test runs its helpers):

- ``true``: what any exec costs (API server, kubelet, runtime, process start);
- ``podshm-ipc shm-info``: a helper as the suite runs it (imports only its own command);
- the same command after building every command's parser: what a helper cost while the
  parser imported every command's module (the loader's multiprocessing, the benchmark
  peers).

Target (issue 22): a helper exec at most 1.2x ``exec true``.

    .venv/bin/python bench/helper_exec.py [--execs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time

import yaml

from podshm.kube.execution import exec_in_container
from podshm.kube.launch import PodOptions, render_pod
from podshm.providers.local.layout import Layout
from podshm.settings import resolve
from podshm.target import choose, connect_target, find_image

EAGER = (
    "import podshm.ipc.cli as c, podshm.ipc.parser as p, sys; "
    "p.build_parser(); sys.exit(c.main(['shm-info']))"
)
VARIANTS = {
    "exec true": ["true"],
    "podshm-ipc shm-info": ["podshm-ipc", "shm-info"],
    "  ... every command imported": ["python3", "-c", EAGER],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execs", type=int, default=20, help="rounds of the three execs")
    args = parser.parse_args()
    info = json.loads((Layout.default().root / "cluster.json").read_text())
    kubectl = [info["binaries"]["kubectl"], "--kubeconfig", info["kubeconfig"]]
    settings = resolve({"kubeconfig": info["kubeconfig"]})
    cluster = connect_target(choose(settings))
    image, _source = find_image(settings, cluster.facts)
    ns = f"podshm-bench-exec-{os.getpid()}"
    pod = render_pod(
        "ipc-pair.yaml",
        "exec-bench",
        PodOptions(image=image, pull_policy="Never", run_id="bench-exec"),
        pod_security=None,
    )
    run = [*kubectl, "-n", ns]
    subprocess.run([*kubectl, "create", "namespace", ns], check=True, capture_output=True)
    try:
        subprocess.run([*run, "create", "-f", "-"], input=yaml.safe_dump(pod), text=True,
                       check=True, capture_output=True)  # fmt: skip
        subprocess.run([*run, "wait", "--for=condition=Ready", "pod/exec-bench",
                        "--timeout=120s"], check=True, capture_output=True)  # fmt: skip
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for _ in range(args.execs + 1):  # the first round warms caches and is dropped
            for name, argv in VARIANTS.items():
                started = time.monotonic()
                done = exec_in_container(cluster.api, ns, "exec-bench", "sender", argv, 30.0)
                times[name].append(time.monotonic() - started)
                if done.exit_code != 0:
                    raise SystemExit(f"{name}: exit {done.exit_code}: {done.stdout!r}")
    finally:
        subprocess.run([*kubectl, "delete", "namespace", ns, "--wait=false"], capture_output=True)
    base = statistics.median(times["exec true"][1:])
    print(f"exec into one pod, {args.execs} rounds interleaved, medians:")
    for name, values in times.items():
        median = statistics.median(values[1:])
        spread = f"{min(values[1:]) * 1000:.0f}-{max(values[1:]) * 1000:.0f} ms"
        print(f"  {name:30s} {median * 1000:6.0f} ms  {median / base:5.2f}x  ({spread})")
    print("target: a helper exec at most 1.20x exec true")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
