#!/usr/bin/env python3
"""The suite against its slowest scenario, and three seed checks against kubectl by hand.

Prints figures; asserts nothing. All measured side by side in one run, against podshm's local
cluster (start it first: `podshm cluster up`):

1. the whole suite with prestart (the default) and with ``--podshm-prestart 0``, interleaved;
   then its slowest test run alone; the ratio suite / slowest (target: at most 1.5);
2. the seed article's three checks (SysV with a shared ftok file, SysV without one, POSIX shm
   with a semaphore) as podshm tests, against a script doing the same checks the way the
   article does, one after the other with kubectl: create the pod, wait, exec the sender,
   exec the receiver, delete the pod (target: podshm at most 1/3 of the script);
3. CPU seconds used on the machine during one suite run, and by which daemons: on a small
   machine pod start is CPU-bound, and this says where the time goes.

Every measured run starts once no namespace is terminating, so none pays for the clean-up of
the run before it.

    .venv/bin/python bench/suite.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from podshm.kube.launch import PodOptions, render_pod
from podshm.providers.local.layout import Layout
from podshm.settings import resolve
from podshm.suite import helpers as ipc
from podshm.target import choose, connect_target, find_image

SUITE = ["-m", "not bench and not multinode"]
SEED_TESTS = (
    "test_shared_ftok_file_gives_both_containers_the_segment",
    "test_missing_ftok_file_fails_fast_with_enoent",
    "test_posix_shm_with_semaphore_between_containers",
)
DAEMONS = ("kube-apiserver", "etcd", "containerd", "kubelet", "kube-controller-manager")


def cluster_info() -> dict:
    """What `podshm cluster up` wrote: kubeconfig, binaries."""
    return json.loads((Layout.default().root / "cluster.json").read_text())


def suite_env(info: dict) -> dict[str, str]:
    env = dict(os.environ)
    env["PODSHM_KUBECONFIG"] = info["kubeconfig"]
    env.setdefault("PODSHM_PULL_POLICY", "Never")
    # Python's default: compiled modules and pytest's rewritten tests are cached on disk. An
    # environment that forbids it (PYTHONDONTWRITEBYTECODE=1, as on some CI images) makes
    # every run compile podshm again, about 0.8 s of a three-test run here; the figures are
    # meant to be what a user's second run sees.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def settle(info: dict, limit_s: float = 120) -> None:
    """Wait until no namespace is terminating: each measurement starts on a quiet cluster, not
    beside the clean-up of the one before (the namespace controller starts 5 s late)."""
    kubectl = [info["binaries"]["kubectl"], "--kubeconfig", info["kubeconfig"]]
    query = ["get", "namespaces", "-o", "jsonpath={.items[*].status.phase}"]
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        phases = subprocess.run([*kubectl, *query], capture_output=True, text=True).stdout
        if "Terminating" not in phases:
            return
        time.sleep(1)
    raise SystemExit(f"namespaces still terminating after {limit_s:.0f} s: {phases}")


def run_pytest(
    args: list[str], env: dict[str, str], info: dict
) -> tuple[float, list[tuple[float, str]]]:
    """(wall seconds, [(testcase seconds, test id)]) of one pytest run; exits if it fails."""
    settle(info)
    with tempfile.TemporaryDirectory() as tmp:
        junit = f"{tmp}/junit.xml"
        cmd = [sys.executable, "-m", "pytest", "--pyargs", "podshm.suite", "-q",
               "-p", "no:cacheprovider", f"--junitxml={junit}", *args]  # fmt: skip
        started = time.monotonic()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.monotonic() - started
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-2000:], sep="\n")
            raise SystemExit(f"pytest {' '.join(args)} failed (exit {proc.returncode})")
        cases = [
            (float(tc.get("time", 0)), tc.get("name", "?"))
            for tc in ET.parse(junit).getroot().iter("testcase")
        ]
    return wall, cases


def cpu_seconds() -> tuple[float, dict[str, float]]:
    """Busy CPU seconds of the machine so far, and of each cluster daemon."""
    fields = Path("/proc/stat").read_text().split("\n")[0].split()[1:]
    ticks = os.sysconf("SC_CLK_TCK")
    busy = sum(int(v) for i, v in enumerate(fields) if i not in (3, 4)) / ticks
    daemons: dict[str, float] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if exe in DAEMONS:
            daemons[exe] = daemons.get(exe, 0.0) + (int(stat[11]) + int(stat[12])) / ticks
    return busy, daemons


def kubectl_flow(info: dict, image: str) -> float:
    """The seed article's way, scripted: one pod at a time, kubectl for every step."""
    kubectl = [info["binaries"]["kubectl"], "--kubeconfig", info["kubeconfig"]]
    ns = f"podshm-kubectl-{os.getpid()}-{time.time_ns() % 10**6}"
    options = PodOptions(image=image, pull_policy="Never", run_id="bench-kubectl")
    checks = [
        ("sysv-shared-ftok.yaml", {}, ipc.sysv_shm_send(), ipc.sysv_shm_recv(), 0),
        ("sysv-no-shared-file.yaml", {}, None, ipc.sysv_shm_recv(timeout=10), 2),
        ("posix-shm.yaml", {}, ipc.posix_shm_send(), ipc.posix_shm_recv(), 0),
    ]
    settle(info)
    subprocess.run([*kubectl, "create", "namespace", ns], check=True, capture_output=True)
    try:
        started = time.monotonic()
        for manifest, params, send, recv, want in checks:
            name = manifest.removesuffix(".yaml")
            pod = render_pod(manifest, name, options, params=params, pod_security=None)
            run = [*kubectl, "-n", ns]
            subprocess.run([*run, "create", "-f", "-"], input=yaml.safe_dump(pod), text=True,
                           check=True, capture_output=True)  # fmt: skip
            subprocess.run([*run, "wait", "--for=condition=Ready", f"pod/{name}",
                            "--timeout=120s"], check=True, capture_output=True)  # fmt: skip
            if send:
                subprocess.run([*run, "exec", name, "-c", "sender", "--", "podshm-ipc", *send],
                               check=True, capture_output=True)  # fmt: skip
            got = subprocess.run([*run, "exec", name, "-c", "receiver", "--", "podshm-ipc", *recv],
                                 capture_output=True)  # fmt: skip
            if (got.returncode != 0) != bool(want):
                raise SystemExit(f"kubectl flow: {name}: exit {got.returncode}: {got.stdout!r}")
            subprocess.run([*run, "delete", "pod", name], check=True, capture_output=True)
        return time.monotonic() - started
    finally:
        subprocess.run([*kubectl, "delete", "namespace", ns, "--wait=false"], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each (best is kept)")
    args = parser.parse_args()
    info = cluster_info()
    env = suite_env(info)
    prestart, serial, cases = [], [], []
    for i in range(args.repeat):  # interleaved, so drift hits both alike
        if i == 0:
            settle(info)
            cpu_before = cpu_seconds()
        wall, cases = run_pytest(SUITE, env, info)
        prestart.append(wall)
        if i == 0:
            cpu_after = cpu_seconds()
        serial.append(run_pytest([*SUITE, "--podshm-prestart", "0"], env, info)[0])
    slow_case = max(cases)
    slowest = ["-k", slow_case[1].split("[")[0]]
    alone = [run_pytest(slowest, env, info)[0] for _ in range(args.repeat)]
    seed = " or ".join(SEED_TESTS)
    podshm_seed = [run_pytest(["-k", seed], env, info)[0] for _ in range(args.repeat)]
    settings = resolve({"kubeconfig": info["kubeconfig"]})
    image, _source = find_image(settings, connect_target(choose(settings)).facts)
    by_kubectl = [kubectl_flow(info, image) for _ in range(args.repeat)]

    best = min(prestart)
    print(f"tests per run: {len(cases)} (pytest {' '.join(SUITE)})")
    print(f"suite, prestart (default):   {best:6.1f} s  (runs: {fmt(prestart)})")
    print(f"suite, --podshm-prestart 0:  {min(serial):6.1f} s  (runs: {fmt(serial)})")
    print(f"slowest test, alone:         {min(alone):6.1f} s  {slow_case[1]}")
    print(f"suite / slowest:             {best / min(alone):6.2f}   (target <= 1.5)")
    print(f"3 seed checks, podshm:       {min(podshm_seed):6.1f} s  (runs: {fmt(podshm_seed)})")
    print(f"3 seed checks, kubectl:      {min(by_kubectl):6.1f} s  (runs: {fmt(by_kubectl)})")
    print(f"podshm / kubectl:            {min(podshm_seed) / min(by_kubectl):6.2f}   "
          "(target <= 0.33)")  # fmt: skip
    busy = cpu_after[0] - cpu_before[0]
    cores = os.cpu_count() or 1
    print(f"CPU during the first suite run: {busy:.1f} s busy of {cores} x {prestart[0]:.1f} s")
    # However well the pods overlap, the work cannot finish faster than the machine does it.
    floor = busy / cores
    print(f"  CPU floor for the suite: {floor:.1f} s = suite / slowest >= "
          f"{floor / min(alone):.2f} on {cores} cores")  # fmt: skip
    for name in DAEMONS:
        used = cpu_after[1].get(name, 0.0) - cpu_before[1].get(name, 0.0)
        print(f"  {name:24s} {used:5.1f} s")
    return 0


def fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
