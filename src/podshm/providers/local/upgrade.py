"""Upgrade the running local cluster in place, one minor at a time, the upstream way.

The order follows kubeadm's (``kubeadm upgrade apply``, then the node): etcd first, kept with
its data; then kube-apiserver; then kube-controller-manager and kube-scheduler; then the
kubelet, restarted on the node with the new binary while its pods keep running. Never more
than one minor at a time, so the version skew policy (kubelet at most N-3, control plane
components at most N-1 behind the API server) holds at every moment. The container runtime
(containerd, runc) stays as the cluster started: a node's runtime is upgraded separately
(drained), which is not what this rehearses.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import TextIO

from podshm.build.pins import Pins
from podshm.errors import PodshmError
from podshm.objects import node_ready
from podshm.providers.local import daemons, lifecycle, startup
from podshm.providers.local.layout import Layout
from podshm.providers.local.probes import AdminApi
from podshm.providers.local.state import running_record, write_record


def _kubelet_reports(api: AdminApi, node: str, version: str) -> bool:
    found = api.node(node)
    kubelet = (found.get("status") or {}).get("nodeInfo", {}).get("kubeletVersion")
    return node_ready(found) and kubelet == version


def upgrade(pins: Pins, log: TextIO = sys.stderr) -> dict[str, float]:
    """Upgrade the running cluster to ``pins`` (the next minor); returns seconds per step."""
    layout = Layout.default()
    info = running_record(layout)
    if info is None:
        raise PodshmError("podshm's local cluster is not running", "run `podshm cluster up`")
    major, minor = info.pins.minor
    if pins.minor != (major, minor + 1):
        raise PodshmError(
            f"an in-place upgrade goes one minor at a time: {info.kubernetes} -> "
            f"{pins.kubernetes} skips a minor or goes back",
            f"upgrade to v{major}.{minor + 1} first",
        )
    timings: dict[str, float] = {}
    started = time.monotonic()
    new = lifecycle.build_binaries(pins, log)
    timings["build (cached)"] = time.monotonic() - started
    binaries = {name: Path(path) for name, path in info.binaries.items()}
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet"):
        binaries[name] = new[name]
    binaries["kubectl"] = new["kubectl"]

    step = time.monotonic()
    if pins.etcd != info.etcd:
        print(f"podshm: upgrading etcd {info.etcd} -> {pins.etcd} (data kept)", file=log)
        daemons.stop(layout, "etcd")
        binaries["etcd"] = new["etcd"]
        startup.start_etcd(layout, binaries["etcd"])
    timings["etcd"] = time.monotonic() - step

    step = time.monotonic()
    print(f"podshm: upgrading the control plane {info.kubernetes} -> {pins.kubernetes}", file=log)
    startup.restart_control_plane(layout, binaries, log)
    timings["control plane"] = time.monotonic() - step

    step = time.monotonic()
    print(f"podshm: upgrading the kubelet on {info.node} (its pods keep running)", file=log)
    daemons.stop(layout, "kubelet")
    startup.start_kubelet(layout, binaries, pins, tuple(info.unsafe_sysctls))
    api = AdminApi(layout)
    daemons.wait_for(
        layout,
        "kubelet",
        lambda: _kubelet_reports(api, info.node, pins.kubernetes),
        timeout=180,
        what=f"node {info.node} Ready with kubelet {pins.kubernetes}",
    )
    timings["kubelet"] = time.monotonic() - step

    upgraded = dataclasses.replace(
        info,
        kubernetes=pins.kubernetes,
        etcd=pins.etcd,
        binaries={name: str(path) for name, path in binaries.items()},
    )
    write_record(layout, upgraded)
    timings["total"] = time.monotonic() - started
    print(
        f"podshm: upgraded to {pins.kubernetes} in {timings['total']:.1f} s "
        f"(etcd {timings['etcd']:.1f}, control plane {timings['control plane']:.1f}, "
        f"kubelet {timings['kubelet']:.1f})",
        file=log,
    )
    return timings
