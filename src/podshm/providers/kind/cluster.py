"""The kind cluster itself: its config (a pure function, so unit tests read exactly what kind
gets), the kind and kubectl commands against it, and its nodes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from podshm.build import gobuild
from podshm.build.pins import Pins, pins_for
from podshm.errors import PodshmError
from podshm.objects import node_ready
from podshm.providers.kind import components as kind_components
from podshm.providers.kind import docker_engine

CLUSTER = "podshm"
POD_SUBNET = "10.245.0.0/16"
"""Not 10.244.0.0/16, which podshm's local cluster routes on the host."""
SERVICE_SUBNET = "10.97.0.0/16"
PINS_FILE = "k8s-version"
"""Beside the engine's state: the Kubernetes version the cluster was created at."""


def host_lacks_sys_resource() -> bool:
    """True when root's bounding set has no CAP_SYS_RESOURCE (bit 24), as on this machine."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return not int(line.split()[1], 16) >> 24 & 1
    return False


def host_cgroup_v1() -> bool:
    """True on a cgroup v1 (or hybrid) host: no unified hierarchy at /sys/fs/cgroup.

    The same test kind's node entrypoint makes (``fix_cgroup``): the nodes share the host's
    cgroup hierarchy.
    """
    return not Path("/sys/fs/cgroup/cgroup.controllers").exists()


def render_config(
    name: str, image: str, nodes: int, restrict_oom: bool = False, cgroupfs: bool = False
) -> str:
    """The kind cluster config: 1 control plane + ``nodes - 1`` workers, cgroup v1 allowed.

    ``failCgroupV1: false`` goes through kind's own kubeadmConfigPatches into every
    node's KubeletConfiguration: Kubernetes 1.35+ refuses cgroup v1 hosts by default.
    ``restrict_oom`` (for hosts whose root lacks CAP_SYS_RESOURCE) goes through kind's
    containerdConfigPatches: containerd then never asks runc for an OOM score below its
    own, which runc could not set (kind does the same for rootless nodes).
    ``cgroupfs`` (for cgroup v1 hosts) makes the kubelet and runc use the cgroupfs driver, as
    kind did before Kubernetes 1.24 and podshm's local cluster does: runc's systemd driver
    on cgroup v1 freezes every new container's cgroup to apply its device rules, and the v1
    freezer gives up under load ("error setting cgroup config for procHooks process: unable
    to freeze", kubernetes#131087; runc's own comment: "a game of chances, since the real fix
    belong to the kernel"). Seen twice in podshm's CI on kind, never on the local cluster.
    """
    if nodes < 1:
        raise PodshmError(f"--nodes must be at least 1, not {nodes}", "use --nodes 3")
    roles = ["control-plane"] + ["worker"] * (nodes - 1)
    lines = [
        "kind: Cluster",
        "apiVersion: kind.x-k8s.io/v1alpha4",
        f"name: {name}",
        "networking:",
        "  ipFamily: ipv4",
        "  apiServerAddress: 127.0.0.1",
        "  disableDefaultCNI: true",
        f'  podSubnet: "{POD_SUBNET}"',
        f'  serviceSubnet: "{SERVICE_SUBNET}"',
        "nodes:",
    ]
    for role in roles:
        lines += [f"- role: {role}", f"  image: {image}"]
    lines += [
        "kubeadmConfigPatches:",
        "- |",
        "  kind: KubeletConfiguration",
        "  apiVersion: kubelet.config.k8s.io/v1beta1",
        "  failCgroupV1: false",
    ]
    if cgroupfs:
        lines.append("  cgroupDriver: cgroupfs")
    patches = []
    if restrict_oom:
        patches.append('[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true')
    if cgroupfs:
        # kind's config.toml names two runc handlers: runc and test-handler.
        patches += [
            f'[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{handler}.options]\n'
            "  SystemdCgroup = false"
            for handler in ("runc", "test-handler")
        ]
    if patches:
        lines.append("containerdConfigPatches:")
        for patch in patches:
            lines.append("- |-")
            lines += ["  " + line for line in patch.splitlines()]
    return "\n".join(lines) + "\n"


def kind_path(log: TextIO = sys.stderr) -> Path:
    """The kind binary podshm builds from its Go module (cached)."""
    return gobuild.build(kind_components.kind(), log=log) / "kind"


def kubeconfig_path() -> Path:
    """The kind cluster's admin kubeconfig (context ``kind-podshm``)."""
    return docker_engine.STATE / "kubeconfig"


def kind(*args: str, log: TextIO | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run podshm's kind against podshm's engine; a failure is a PodshmError with its stderr."""
    cmd = [str(kind_path()), *args]
    proc = subprocess.run(cmd, env=docker_engine.env(), capture_output=True, text=True)
    if log is not None:
        sys.stderr.write(proc.stderr) if log is sys.stderr else log.write(proc.stderr)
    if check and proc.returncode != 0:
        raise PodshmError(
            f"{' '.join(cmd[1:3])} failed (exit {proc.returncode}):\n{proc.stderr.strip()}",
            "see the output above; podshm cluster logs shows each node's journal",
        )
    return proc


def kubectl(*args: str) -> str:
    """kubectl of the cluster's own version (else the one on PATH) against the cluster."""
    pins = recorded_pins()
    k8s = gobuild.built_bin_dir(gobuild.kubernetes_from_module(pins)) if pins else None
    program = str(k8s / "kubectl") if k8s else "kubectl"
    proc = subprocess.run(
        [program, "--kubeconfig", str(kubeconfig_path()), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise PodshmError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}", "is the cluster up?")
    return proc.stdout


def recorded_pins() -> Pins | None:
    """The pins the cluster was created with (read back from its state: parsed here, once)."""
    marker = docker_engine.STATE / PINS_FILE
    return pins_for(marker.read_text().strip()) if marker.exists() else None


def record_pins(pins: Pins) -> None:
    """Remember the version a new cluster runs."""
    (docker_engine.STATE / PINS_FILE).write_text(pins.kubernetes)


def node_objects() -> list[dict[str, Any]]:
    """The Node objects, as the API server has them."""
    items: list[dict[str, Any]] = json.loads(kubectl("get", "nodes", "-o", "json"))["items"]
    return items


def node_containers() -> list[str]:
    """The node containers' names (``podshm-control-plane``, ``podshm-worker``, ...)."""
    if not docker_engine.ping():
        return []
    out = kind("get", "nodes", "--name", CLUSTER, check=False).stdout
    return sorted(out.split())


def wait_ready(count: int, log: TextIO, timeout: float = 300) -> None:
    """Wait until ``count`` nodes are Ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = node_objects()
        ready = [i["metadata"]["name"] for i in items if node_ready(i)]
        if len(ready) >= count:
            print(f"podshm: kind: {len(ready)} nodes Ready", file=log, flush=True)
            return
        time.sleep(3)
    raise PodshmError(f"kind nodes not Ready after {timeout:.0f}s", "podshm cluster logs <node>")
