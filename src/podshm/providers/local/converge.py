"""A running local cluster brought to what ``up`` asks for, in place, where that is possible:
runtimes it lacks are added (``make suite`` starts runc alone, ``make test`` wants three), a
control plane started with other flags (an older podshm's: no audit log) is restarted with
this podshm's, daemons outside the accounting cgroup are moved in, a changed
``--allowed-unsafe-sysctls`` restarts the kubelet with it. A different Kubernetes
version is not something ``up`` changes (``podshm gate`` upgrades)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TextIO

from podshm import sysctls
from podshm.build.pins import Pins
from podshm.errors import PodshmError
from podshm.image import build as image_build
from podshm.providers.local import accounting, daemons, plan, probes, startup, teardown
from podshm.providers.local import runtimes as runtimes_pkg
from podshm.providers.local.layout import Layout
from podshm.providers.local.plan import SERVER
from podshm.providers.local.runtimes.base import Runtime
from podshm.providers.local.state import ClusterRecord, write_record


def _say(log: TextIO, message: str) -> None:
    print(f"podshm: {message}", file=log, flush=True)


def refuse_other_version(record: ClusterRecord, pins: Pins) -> None:
    """One line when the running cluster is another version than the one asked for."""
    if record.kubernetes == pins.kubernetes:
        return
    fix = f"run `podshm cluster down` first, then up with --k8s-version {pins.kubernetes}"
    if pins.minor > record.pins.minor:
        fix = (
            f"upgrade it in place with `podshm gate --from {record.kubernetes} --to "
            f"{pins.kubernetes}`, or {fix}"
        )
    raise PodshmError(
        f"podshm's local cluster runs Kubernetes {record.kubernetes}, {pins.kubernetes} was "
        "asked for, and `up` does not change a running cluster's version",
        fix,
    )


def add_runtimes(
    layout: Layout, record: ClusterRecord, asked: list[Runtime], cni_bin: str, log: TextIO
) -> ClusterRecord:
    """Add the runtimes ``asked`` for that the running cluster lacks: their programs, a
    containerd restarted with their handlers (running pods keep running: their shims are not
    containerd's children), their RuntimeClasses. Runtimes nobody asked for stay."""
    missing = [r for r in asked if r.name not in record.runtimes]
    if not missing:
        if [r.name for r in asked] != record.runtimes:
            _say(log, f"keeping the cluster's runtimes {', '.join(record.runtimes)}")
        return record
    known = runtimes_pkg.available()
    everything = [known[name] for name in record.runtimes] + missing
    binaries = record.binary_paths()
    for runtime in missing:
        binaries.update(runtime.install(binaries, log))
    names = ", ".join(r.name for r in missing)
    _say(log, f"adding runtimes {names}: restarting containerd (running pods keep running)")
    pause = image_build.build_pause_image(progress=image_build.stderr_progress())
    daemons.stop(layout, "containerd")
    startup.start_containerd(
        layout, binaries, cni_bin=cni_bin, pause_image=pause.ref, runtimes=everything
    )
    api = probes.AdminApi(layout)
    daemons.wait_for(
        layout, "kubelet", lambda: api.node_ready(record.node), timeout=120, what="node Ready"
    )
    for runtime in missing:
        api.create(f"{SERVER}/apis/node.k8s.io/v1/runtimeclasses", runtime.runtime_class())
    converged = dataclasses.replace(
        record,
        binaries={name: str(path) for name, path in binaries.items()},
        runtimes=[r.name for r in everything],
    )
    write_record(layout, converged)
    _say(log, f"added runtimes {names}; the cluster now has {', '.join(converged.runtimes)}")
    return converged


def running_argv(layout: Layout, name: str) -> list[str] | None:
    """The command line daemon ``name`` runs with (None when it is not running)."""
    pid = daemons.running(layout, name)
    if pid is None:
        return None
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode() for part in raw.split(b"\0") if part]


def control_plane_flags(layout: Layout, record: ClusterRecord, log: TextIO) -> bool:
    """Restart the control plane when a daemon of it runs with other flags than this podshm
    gives it (same binaries); True if it did. The node and its pods are not touched."""
    binaries = record.binary_paths()
    changed = [
        name
        for name in startup.CONTROL_PLANE
        if running_argv(layout, name) != plan.control_plane_argv(name, binaries[name], layout)
    ]
    if not changed:
        return False
    _say(log, f"{', '.join(changed)} runs with other flags than this podshm's: restarting")
    startup.restart_control_plane(layout, binaries, log)
    return True


def account_daemons(layout: Layout) -> int:
    """Move the running daemons and shims of a cluster started before CPU accounting into the
    accounting cgroup (:mod:`podshm.providers.local.accounting`); how many moved."""
    pids = [daemons.running(layout, name) for name in plan.STOP_ORDER]
    pids += sorted(teardown.shim_pids(layout))
    return sum(
        1 for pid in pids if pid is not None and not accounting.member(pid) and accounting.join(pid)
    )


def set_unsafe_sysctls(
    layout: Layout, record: ClusterRecord, asked: tuple[str, ...], log: TextIO
) -> ClusterRecord:
    """Restart the host node's kubelet allowing ``asked`` (its ``allowedUnsafeSysctls``) when
    it runs with other patterns; running pods keep running (their containers are not the
    kubelet's children), as in an in-place upgrade. The VM node follows in :mod:`.vmnodes`."""
    if list(asked) == record.unsafe_sysctls:
        return record
    shown = ",".join(asked) or "none"
    was = ",".join(record.unsafe_sysctls) or "none"
    _say(log, f"restarting the kubelet with allowedUnsafeSysctls {shown} (was {was})")
    daemons.stop(layout, "kubelet")
    startup.start_kubelet(layout, record.binary_paths(), record.pins, asked)
    api = probes.AdminApi(layout)
    daemons.wait_for(
        layout, "kubelet", lambda: api.node_ready(record.node), timeout=120, what="node Ready"
    )
    converged = dataclasses.replace(record, unsafe_sysctls=list(asked))
    write_record(layout, converged)
    return converged


def announce_unsafe_sysctls(layout: Layout, record: ClusterRecord) -> None:
    """Name each node's ``allowedUnsafeSysctls`` on it (:data:`podshm.sysctls.ANNOTATION`, empty
    for none): the API server cannot proxy to the host node's loopback kubelet, so runs read
    it here instead of ``/configz``. Every ``up`` rewrites it, so it follows the kubelets."""
    api = probes.AdminApi(layout)
    api.annotate_node(record.node, {sysctls.ANNOTATION: ",".join(record.unsafe_sysctls)})
    for name in record.vm_nodes:
        api.annotate_node(name, {sysctls.ANNOTATION: ",".join(record.vm_unsafe_sysctls)})
