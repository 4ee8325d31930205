#!/usr/bin/env python3
"""What one suite run costs the cluster, and three seed checks against kubectl by hand.

Prints figures; asserts nothing. Against podshm's local cluster (start it first: `podshm
cluster up`, which also turns on the API server's audit log and the CPU accounting cgroup):

1. the suite (``-m "not bench and not multinode"``), ``--suite-runs`` times; for each run:
   - cluster CPU-seconds per scenario: the cgroup counters of the cluster's daemons (and all
     they start: shims, runtimes, CNI plugins) and of its pods, from the run's start until
     no namespace is terminating (its clean-up is part of its cost); the idle cluster's rate,
     measured before, is printed beside it;
   - API requests per scenario, from the API server's audit log: every request of the run's
     own client (a user of its own, ``podshm-bench``), every request anybody made about an
     object in the run's namespaces (kubelet, scheduler, controllers), and the namespace
     controller's discovery calls in that time; requests about other podshm runs' namespaces
     in the same window are printed as the noise they are;
   - the suite's wall time against its CPU floor: (cluster + pytest CPU during the run) / cores,
     the time the work would take with every core busy all along;
2. the seed article's three checks (SysV with a shared ftok file, SysV without one, POSIX shm
   with a semaphore) as podshm tests against a script doing them the article's way with
   kubectl (create the pod, wait, exec the sender, exec the receiver, delete the pod): paired
   runs, alternating which goes first, ``--pairs`` each; medians and the ratio's spread;
3. one helper exec (``podshm-ipc shm-info``) against ``exec true`` in the same container,
   alternating, ``--execs`` each: the Python start-up and imports a helper costs.

Every measured run starts once no namespace is terminating, so none pays for the clean-up of
the run before it. On a shared machine, wall times are noisy: CPU-seconds and request counts
are the robust figures.

    .venv/bin/python bench/suite.py [--suite-runs 2] [--pairs 5] [--execs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import statistics
import string
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from podshm.kube.access import connect
from podshm.kube.launch import PodOptions, launch_pod, render_pod
from podshm.kube.pods import PodHandle
from podshm.providers.local import accounting, configs, daemons, pki
from podshm.providers.local.layout import CONTEXT_NAME, Layout
from podshm.providers.local.plan import SERVER
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
BENCH_USER = "podshm-bench"
NAMESPACE_CONTROLLER = "system:serviceaccount:kube-system:namespace-controller"


def cluster_info() -> dict:
    """What `podshm cluster up` wrote: kubeconfig, binaries."""
    return json.loads((Layout.default().root / "cluster.json").read_text())


def bench_kubeconfig(layout: Layout, directory: Path) -> Path:
    """A kubeconfig for a user of the bench's own (cluster-admin): the audit log then says
    which requests the measured runs made, whoever else uses the cluster meanwhile."""
    ca = pki.Authority(layout.pki)
    pair = ca.issue("bench-client", BENCH_USER, orgs=("system:masters",), client=True)
    return configs.kubeconfig(
        directory / "bench.kubeconfig",
        server=SERVER,
        ca=ca.cert_path,
        client=pair,
        user=BENCH_USER,
        context=CONTEXT_NAME,
    )


def new_run_id() -> str:
    """A run id the bench knows, so it knows the run's namespaces (``podshm-<id>-*``)."""
    return "b" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))


def suite_env(kubeconfig: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PODSHM_KUBECONFIG"] = str(kubeconfig)
    env.setdefault("PODSHM_PULL_POLICY", "Never")
    # Python's default: compiled modules and pytest's rewritten tests are cached on disk. An
    # environment that forbids it (PYTHONDONTWRITEBYTECODE=1, as on some CI images) makes
    # every run compile podshm again, about 0.8 s of a three-test run here; the figures are
    # meant to be what a user's second run sees.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def settle(kubectl: list[str], limit_s: float = 300) -> None:
    """Wait until no namespace is terminating: each measurement starts on a quiet cluster, not
    beside the clean-up of the one before (the namespace controller starts 5 s late)."""
    query = ["get", "namespaces", "-o", "jsonpath={.items[*].status.phase}"]
    deadline = time.monotonic() + limit_s
    phases = ""
    while time.monotonic() < deadline:
        phases = subprocess.run([*kubectl, *query], capture_output=True, text=True).stdout
        if "Terminating" not in phases:
            return
        time.sleep(1)
    raise SystemExit(f"namespaces still terminating after {limit_s:.0f} s: {phases}")


def children_cpu() -> float:
    """CPU seconds of this process's waited-for children (the pytest runs, kubectl)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far (everybody's work)."""
    fields = Path("/proc/stat").read_text().split("\n")[0].split()[1:]
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(v) for i, v in enumerate(fields) if i not in (3, 4)) / ticks


def daemon_cpu() -> dict[str, float]:
    """CPU seconds of each long-lived cluster daemon so far (per process, children excluded)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if exe in DAEMONS:
            found[exe] = found.get(exe, 0.0) + (int(stat[11]) + int(stat[12])) / ticks
    return found


def cluster_cpu() -> accounting.ClusterCpu:
    usage = accounting.cluster_cpu()
    if usage is None:
        raise SystemExit("no cpuacct cgroup for the cluster: this bench needs a cgroup v1 host")
    return usage


# -- the audit log ---------------------------------------------------------------------------
def audit_events(layout: Layout, since: datetime, until: datetime) -> list[dict]:
    """Audit events whose request arrived in [since, until], from the log and its backup."""
    events = []
    for path in sorted(layout.logs.glob(layout.audit_log.stem + "*")):
        with path.open() as lines:
            for line in lines:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                stamp = parse_time(event.get("requestReceivedTimestamp"))
                if stamp is not None and since <= stamp <= until:
                    events.append(event)
    return events


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def event_namespace(event: dict) -> str:
    """The namespace an event is about (a Namespace object is about itself)."""
    ref = event.get("objectRef") or {}
    if ref.get("namespace"):
        return str(ref["namespace"])
    if ref.get("resource") == "namespaces" and not ref.get("subresource"):
        return str(ref.get("name") or "")
    return ""


@dataclass
class Requests:
    """A run's API requests, by who made them; ``others``: other podshm runs' meanwhile."""

    by_source: Counter = field(default_factory=Counter)
    others: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_source.values())


def run_requests(events: list[dict], run_id: str) -> Requests:
    """Attribute audit events to the run with id ``run_id``."""
    prefix = f"podshm-{run_id}-"
    found = Requests()
    for event in events:
        user = (event.get("user") or {}).get("username", "")
        namespace = event_namespace(event)
        if user == BENCH_USER:
            found.by_source["the run's own client"] += 1
        elif namespace.startswith(prefix):
            found.by_source[short_user(user)] += 1
        elif user == NAMESPACE_CONTROLLER and not namespace:
            found.by_source["namespace-controller discovery"] += 1
        elif namespace.startswith("podshm-"):
            found.others += 1
    return found


def short_user(user: str) -> str:
    """``system:serviceaccount:kube-system:namespace-controller`` -> ``namespace-controller``."""
    if user.startswith("system:node:"):
        return "kubelet"
    return user.rsplit(":", 1)[-1]


# -- one suite run ---------------------------------------------------------------------------
@dataclass
class SuiteRun:
    tests: int
    wall: float
    client_cpu: float
    cluster_during: accounting.ClusterCpu
    cluster_total: accounting.ClusterCpu
    window: float
    machine_busy: float
    daemons: dict[str, float]
    requests: Requests
    slowest: tuple[float, str]


def run_suite(
    python: str, env: dict[str, str], kubectl: list[str], layout: Layout, args: list[str]
) -> SuiteRun:
    """One measured suite run, from a quiet cluster until its namespaces are gone."""
    settle(kubectl)
    run_id = new_run_id()
    with tempfile.TemporaryDirectory() as tmp:
        junit = f"{tmp}/junit.xml"
        cmd = [python, "-m", "pytest", "--pyargs", "podshm.suite", "-q",
               "-p", "no:cacheprovider", f"--junitxml={junit}", *args]  # fmt: skip
        since = datetime.now(UTC)
        cpu0, client0, busy0, daemons0 = cluster_cpu(), children_cpu(), machine_busy(), daemon_cpu()
        started = time.monotonic()
        proc = subprocess.run(
            cmd, env={**env, "PODSHM_RUN_ID": run_id}, capture_output=True, text=True
        )
        wall = time.monotonic() - started
        cpu1, client1, busy1 = cluster_cpu(), children_cpu(), machine_busy()
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-2000:], sep="\n")
            raise SystemExit(f"pytest {' '.join(args)} failed (exit {proc.returncode})")
        cases = [
            (float(tc.get("time", 0)), tc.get("name", "?"))
            for tc in ET.parse(junit).getroot().iter("testcase")
        ]
    settle(kubectl)
    cpu2, daemons2 = cluster_cpu(), daemon_cpu()
    window = time.monotonic() - started
    time.sleep(2)  # the audit log is written as requests complete
    events = audit_events(layout, since, datetime.now(UTC))
    return SuiteRun(
        tests=len(cases),
        wall=wall,
        client_cpu=client1 - client0,
        cluster_during=cpu1 - cpu0,
        cluster_total=cpu2 - cpu0,
        window=window,
        machine_busy=busy1 - busy0,
        daemons={n: daemons2.get(n, 0.0) - daemons0.get(n, 0.0) for n in DAEMONS},
        requests=run_requests(events, run_id),
        slowest=max(cases),
    )


def idle_rate(seconds: float = 15.0) -> float:
    """Cluster CPU-seconds per second with no run going (others' runs included, if any)."""
    before = cluster_cpu()
    time.sleep(seconds)
    return (cluster_cpu() - before).total / seconds


# -- seed checks: podshm vs kubectl ------------------------------------------------------------
def podshm_seeds(python: str, env: dict[str, str], kubectl: list[str]) -> float:
    settle(kubectl)
    cmd = [python, "-m", "pytest", "--pyargs", "podshm.suite", "-q",
           "-p", "no:cacheprovider", "-k", " or ".join(SEED_TESTS)]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-2000:], sep="\n")
        raise SystemExit(f"the seed checks failed (exit {proc.returncode})")
    return wall


def kubectl_flow(kubectl: list[str], image: str) -> float:
    """The seed article's way, scripted: one pod at a time, kubectl for every step."""
    ns = f"podshm-kubectl-{os.getpid()}-{time.time_ns() % 10**6}"
    options = PodOptions(image=image, pull_policy="Never", run_id="bench-kubectl")
    checks = [
        ("sysv-shared-ftok.yaml", ipc.sysv_shm_send(), ipc.sysv_shm_recv(), 0),
        ("sysv-no-shared-file.yaml", None, ipc.sysv_shm_recv(timeout=10), 2),
        ("posix-shm.yaml", ipc.posix_shm_send(), ipc.posix_shm_recv(), 0),
    ]
    settle(kubectl)
    subprocess.run([*kubectl, "create", "namespace", ns], check=True, capture_output=True)
    try:
        started = time.monotonic()
        for manifest, send, recv, want in checks:
            name = manifest.removesuffix(".yaml")
            pod = render_pod(manifest, name, options, pod_security=None)
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


# -- one helper exec -----------------------------------------------------------------------
def helper_execs(kubeconfig: Path, kubectl: list[str], image: str, count: int) -> dict[str, list]:
    """Milliseconds of ``exec true`` and of helper commands in one running container,
    alternating, through podshm's own exec path (one websocket per exec)."""
    api = connect(str(kubeconfig), CONTEXT_NAME).api
    ns = f"podshm-execbench-{os.getpid()}"
    subprocess.run([*kubectl, "create", "namespace", ns], check=True, capture_output=True)
    try:
        options = PodOptions(image=image, pull_policy="Never", run_id="bench-exec")
        body = render_pod("devshm-default.yaml", "exec-bench", options, pod_security=None)
        pod: PodHandle = launch_pod(api, ns, body, wait=True)
        commands = {
            "exec true": ["true"],
            "podshm-ipc shm-info": ["podshm-ipc", "shm-info"],
            "podshm-ipc ipc-list": ["podshm-ipc", "ipc-list"],
        }
        times: dict[str, list] = {name: [] for name in commands}
        for _ in range(3):  # warm: the page cache, the runtime's first exec
            pod.exec("sender", ["true"])
        for _ in range(count):
            for name, argv in commands.items():
                started = time.monotonic()
                pod.exec("sender", argv)
                times[name].append((time.monotonic() - started) * 1000)
        return times
    finally:
        subprocess.run([*kubectl, "delete", "namespace", ns, "--wait=false"], capture_output=True)


def fmt(values: list[float], digits: int = 1) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


def spread(values: list[float]) -> str:
    """min-max and the quartiles of a small sample."""
    if len(values) < 2:
        return f"{values[0]:.2f}" if values else "-"
    q1, _q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return f"{min(values):.2f}-{max(values):.2f} (quartiles {q1:.2f}-{q3:.2f})"


def report_suite(run: SuiteRun, idle: float, index: int) -> None:
    cores = os.cpu_count() or 1
    n = run.tests
    total = run.cluster_total.total
    net = total - idle * run.window
    print(f"suite run {index}: {n} tests, wall {run.wall:.1f} s")
    print(f"  cluster CPU, start until its namespaces are gone ({run.window:.0f} s): "
          f"{total:.1f} s = {total / n:.2f} s per scenario (target <= 0.8)")  # fmt: skip
    print(f"    daemons and what they start {run.cluster_total.daemons:.1f} s, "
          f"pods {run.cluster_total.pods:.1f} s; less the idle cluster's "
          f"{idle:.2f} s/s: {net:.1f} s = {net / n:.2f} s per scenario")  # fmt: skip
    for name, used in run.daemons.items():
        print(f"    {name:24s} {used:5.1f} s")
    req = run.requests
    print(f"  API requests: {req.total} = {req.total / n:.1f} per scenario (target <= 40)")
    for source, count in req.by_source.most_common():
        print(f"    {source:34s} {count:5d}")
    if req.others:
        print(f"    (not counted: {req.others} requests about other podshm runs' namespaces)")
    floor = (run.cluster_during.total + run.client_cpu) / cores
    print(f"  CPU during the run: cluster {run.cluster_during.total:.1f} s + pytest "
          f"{run.client_cpu:.1f} s; the machine was busy {run.machine_busy:.1f} s "
          f"(everybody's work) of {cores} x {run.wall:.1f} s")  # fmt: skip
    print(f"  CPU floor (cluster + pytest) / {cores} cores: {floor:.1f} s; "
          f"wall / floor {run.wall / floor:.2f} (target <= 1.10)")  # fmt: skip
    print(f"  slowest test {run.slowest[0]:.1f} s: {run.slowest[1]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite-runs", type=int, default=2, help="measured suite runs")
    parser.add_argument("--pairs", type=int, default=5, help="paired seed-check runs")
    parser.add_argument("--execs", type=int, default=20, help="execs of each helper command")
    parser.add_argument(
        "--python", default=sys.executable,
        help="the Python whose podshm the suite and seed checks run (default this one); "
        "another checkout's .venv/bin/python measures that code on the same cluster, "
        "for a before/after",
    )  # fmt: skip
    parser.add_argument(
        "--skip", action="append", default=[], choices=("suite", "seeds", "execs"),
        help="leave a part out (repeatable)",
    )  # fmt: skip
    args = parser.parse_args()
    layout = Layout.default()
    info = cluster_info()
    argv = Path(f"/proc/{apiserver_pid(layout)}/cmdline").read_bytes()
    if str(layout.audit_log).encode() not in argv or accounting.cluster_cgroup() is None:
        raise SystemExit(
            "the local cluster runs without its audit log or CPU accounting: run "
            "`podshm cluster up` (it restarts the control plane with this podshm's flags)"
        )
    with tempfile.TemporaryDirectory(prefix="podshm-bench-") as tmp:
        kubeconfig = bench_kubeconfig(layout, Path(tmp))
        kubectl = [info["binaries"]["kubectl"], "--kubeconfig", str(kubeconfig)]
        # The image podshm's own node holds (another node may join, a VM, holding none),
        # named to every run.
        settings = resolve({"kubeconfig": str(kubeconfig), "node": info["node"]})
        image, _source = find_image(settings, connect_target(choose(settings)).facts)
        env = {**suite_env(kubeconfig), "PODSHM_IMAGE": image}
        print(f"cluster: {SERVER}; test image {image}; {os.cpu_count()} cores", flush=True)
        if "suite" not in args.skip:
            settle(kubectl)
            idle = idle_rate()
            print(f"idle cluster: {idle:.2f} CPU-s per s", flush=True)
            for i in range(args.suite_runs):
                report_suite(run_suite(args.python, env, kubectl, layout, SUITE), idle, i + 1)
                sys.stdout.flush()
        if "seeds" not in args.skip:
            podshm_times, kubectl_times, ratios = [], [], []
            for i in range(args.pairs):  # alternating which goes first, so drift hits both
                if i % 2 == 0:
                    p = podshm_seeds(args.python, env, kubectl)
                    k = kubectl_flow(kubectl, image)
                else:
                    k = kubectl_flow(kubectl, image)
                    p = podshm_seeds(args.python, env, kubectl)
                podshm_times.append(p)
                kubectl_times.append(k)
                ratios.append(p / k)
            print(f"3 seed checks, {args.pairs} pairs (alternating):")
            print(f"  podshm:   median {statistics.median(podshm_times):5.1f} s  "
                  f"(runs: {fmt(podshm_times)})")  # fmt: skip
            print(f"  kubectl:  median {statistics.median(kubectl_times):5.1f} s  "
                  f"(runs: {fmt(kubectl_times)})")  # fmt: skip
            print(f"  podshm / kubectl: median {statistics.median(ratios):.2f}, "
                  f"spread {spread(ratios)} (target <= 0.25)")  # fmt: skip
            print(f"    pair ratios: {fmt(ratios, 2)}")
        if "execs" not in args.skip:
            settle(kubectl)
            times = helper_execs(kubeconfig, kubectl, image, args.execs)
            base = statistics.median(times["exec true"])
            print(f"one exec, {args.execs} each (alternating, medians):")
            for name, values in times.items():
                med = statistics.median(values)
                print(f"  {name:36s} {med:6.1f} ms  x{med / base:.2f} of exec true  "
                      f"(spread {spread(values)})")  # fmt: skip
            print("  target: a helper <= 1.2 x exec true")
    return 0


def apiserver_pid(layout: Layout) -> int:
    pid = daemons.running(layout, "kube-apiserver")
    if pid is None:
        raise SystemExit("the local cluster's API server is not running: `podshm cluster up`")
    return pid


if __name__ == "__main__":
    sys.exit(main())
