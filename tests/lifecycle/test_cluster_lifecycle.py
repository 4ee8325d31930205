"""`podshm cluster down` leaves nothing behind, and `up` recovers a killed cluster.

These run last (they take the local cluster down): a session that is killed
leaves the cluster's processes dead but its state (PID files, mounts, the CNI
bridge, containerd state) on disk, and the next `up` must cope with exactly that.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from podshm.cache import cache_root
from podshm.providers.common.mounts import mounts_under
from podshm.providers.local import daemons, plan, teardown
from podshm.providers.local.configs import BRIDGE
from podshm.providers.local.layout import Layout

pytestmark = pytest.mark.exclusive(2)
# What CI's cluster runs (scripts/test.sh): recovery rebuilds every runtime's configuration.
RUNTIMES = ("--runtimes", "runc,crun,gvisor")


def podshm(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podshm.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def cluster_processes() -> list[str]:
    """Every process running a binary from podshm's build cache (daemons, shims, runc)."""
    bins = str(cache_root() / "bin")
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            exe = os.readlink(proc / "exe")
        except OSError:
            continue
        if exe.startswith(bins):
            found.append(f"{proc.name} {exe}")
    return found


def assert_nothing_left(layout: Layout) -> None:
    assert teardown.leftovers(layout) == []
    assert cluster_processes() == []
    assert not Path(f"/sys/class/net/{BRIDGE}").exists()
    assert not [p for p in mounts_under(layout.root)]
    veths = [
        n
        for n in os.listdir("/sys/class/net")
        if Path(f"/sys/class/net/{n}/master").exists()
        and os.path.basename(os.readlink(f"/sys/class/net/{n}/master")) == BRIDGE
    ]
    assert veths == []


def kubectl(layout: Layout, *args: str, stdin: str | None = None) -> str:
    """The cluster's own kubectl as admin; a failure fails the test with its stderr."""
    info = json.loads(layout.info.read_text())
    done = subprocess.run(
        [info["binaries"]["kubectl"], "--kubeconfig", str(layout.admin_kubeconfig), *args],
        input=stdin,
        text=True,
        capture_output=True,
        timeout=180,
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def start_pod(layout: Layout, name: str, runtime_class: str) -> None:
    """A running pod of the test image in the default namespace, under ``runtime_class``."""
    info = json.loads(layout.info.read_text())
    image = next(ref for ref in info["images"] if "podshm-test" in ref)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "runtimeClassName": runtime_class,
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "c",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["sleep", "infinity"],
                }
            ],
        },
    }
    kubectl(layout, "create", "-f", "-", stdin=json.dumps(pod))
    kubectl(layout, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=120s")


def start_gvisor_pod(layout: Layout) -> None:
    """A running pod under gVisor: its sandbox and gofer outlive containerd unless `down`
    finds them (they keep their state, and a netns mount, under podshm's runtime root)."""
    start_pod(layout, "lifecycle-gvisor", "gvisor")
    assert any("runsc" in line for line in cluster_processes())


def test_down_leaves_nothing_and_up_recovers_from_a_killed_cluster() -> None:
    layout = Layout.default()
    # A live cluster (the suite ran on it), with a gVisor sandbox: down must leave nothing.
    start_gvisor_pod(layout)
    result = podshm("cluster", "down")
    assert result.returncode == 0, result.stderr
    assert_nothing_left(layout)

    # Ctrl-C in the middle of `up` leaves nothing half-started.
    started = subprocess.Popen(
        [sys.executable, "-m", "podshm.cli", "cluster", "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Background jobs of a shell ignore SIGINT; restore the default as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    apiserver_pid = layout.pids / "kube-apiserver.pid"
    deadline = time.monotonic() + 300
    while not apiserver_pid.exists() and time.monotonic() < deadline:
        assert started.poll() is None, started.communicate()
        time.sleep(0.1)
    started.send_signal(signal.SIGINT)
    _, err = started.communicate(timeout=120)
    assert started.returncode == 130, err
    assert "tearing down what was started" in err
    assert cluster_processes() == []
    assert not Path(f"/sys/class/net/{BRIDGE}").exists()
    assert mounts_under(layout.root) == []

    # `make suite` then `make test`: a cluster started with runc alone converges to the
    # runtimes asked for, in place; a pod it was running keeps running.
    up = podshm("cluster", "up", "--runtimes", "runc")
    assert up.returncode == 0, up.stderr
    start_pod(layout, "lifecycle-runc", "runc")
    pid_before = kubectl(layout, "exec", "lifecycle-runc", "--", "cat", "/proc/1/stat").split()[0]
    converged = podshm("cluster", "up", *RUNTIMES)
    assert converged.returncode == 0, converged.stderr
    assert "adding runtimes crun, gvisor" in converged.stderr
    assert "cleaning up the state" not in converged.stderr
    classes = kubectl(layout, "get", "runtimeclass", "-o", "name").split()
    assert classes == [
        "runtimeclass.node.k8s.io/crun",
        "runtimeclass.node.k8s.io/gvisor",
        "runtimeclass.node.k8s.io/runc",
    ]
    assert kubectl(layout, "get", "pod", "lifecycle-runc", "-o", "jsonpath={.status.phase}") == (
        "Running"
    )
    restarts = "jsonpath={.status.containerStatuses[0].restartCount}"
    assert kubectl(layout, "get", "pod", "lifecycle-runc", "-o", restarts) == "0"
    pid_after = kubectl(layout, "exec", "lifecycle-runc", "--", "cat", "/proc/1/stat").split()[0]
    assert pid_after == pid_before
    start_pod(layout, "lifecycle-crun", "crun")
    # What cannot change in place is refused in one line, before anything is built.
    other = podshm("cluster", "up", "--k8s-version", "v1.36")
    assert other.returncode == 2
    assert other.stderr.splitlines()[-2:] == [
        "podshm: error: podshm's local cluster runs Kubernetes v1.37.2, v1.36.3 was asked "
        "for, and `up` does not change a running cluster's version",
        "podshm: fix: run `podshm cluster down` first, then up with --k8s-version v1.36.3",
    ]
    assert podshm("cluster", "status").returncode == 0

    # Simulate the end of a session: every process killed, state left on disk.
    for name in plan.STOP_ORDER:
        pid = daemons.running(layout, name)
        assert pid is not None, f"{name} not running after up"
        os.kill(pid, signal.SIGKILL)
    for line in cluster_processes():
        os.kill(int(line.split()[0]), signal.SIGKILL)
    assert layout.root.exists()
    assert podshm("cluster", "status").returncode == 1

    recovered = podshm("cluster", "up", *RUNTIMES)
    assert recovered.returncode == 0, recovered.stderr
    assert "cleaning up the state of a stopped or broken cluster" in recovered.stderr
    assert podshm("cluster", "status").returncode == 0

    final = podshm("cluster", "down")
    assert final.returncode == 0, final.stderr
    assert_nothing_left(layout)
