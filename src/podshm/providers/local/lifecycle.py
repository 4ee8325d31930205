"""Bring a real single-node Kubernetes up and down on this machine.

The recipe follows Kubernetes' own ``hack/local-up-cluster.sh``: etcd, then the
container runtime, kube-apiserver, kube-controller-manager, kube-scheduler and
the kubelet, every endpoint on loopback with TLS, Node and RBAC authorization
and the default admission plugins (Pod Security included).
"""

from __future__ import annotations

import concurrent.futures
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from podshm.build import catalog, gobuild
from podshm.build.pins import Pins
from podshm.errors import PodshmError
from podshm.image import build as image_build
from podshm.providers.local import (
    configs,
    converge,
    credentials,
    daemons,
    node_images,
    plan,
    preflight,
    probes,
    startup,
    teardown,
    vmnodes,
)
from podshm.providers.local import runtimes as runtimes_pkg
from podshm.providers.local.layout import CONTEXT_NAME, Layout
from podshm.providers.local.plan import SERVER
from podshm.providers.local.runtimes.base import Runtime
from podshm.providers.local.state import (
    ClusterRecord,
    healthy,
    node_name,
    read_record,
    write_record,
)
from podshm.providers.local.vm import join as vm_join
from podshm.providers.local.vm.layout import VmLayout


def _say(log: TextIO, message: str) -> None:
    print(f"podshm: {message}", file=log, flush=True)


def build_binaries(pins: Pins, log: TextIO = sys.stderr) -> dict[str, Path]:
    """Build (or find cached) every Go binary the cluster runs at ``pins``; name -> path."""
    paths: dict[str, Path] = {}
    for component in catalog.go_components(pins):
        bin_dir = gobuild.build(component, log=log)
        paths.update({name: bin_dir / name for name in component.packages})
    return paths


def up(
    pins: Pins,
    *,
    images: dict[str, Path] | None = None,
    log: TextIO = sys.stderr,
    node_timeout: float = 180,
    runtimes: tuple[str, ...] | None = None,
    vm_nodes: int | None = None,
    vm_kernel: str | None = None,
    unsafe_sysctls: tuple[str, ...] | None = None,
) -> ClusterRecord:
    """Start the cluster, or reuse a healthy one; a dead one's leftovers are cleaned first.

    ``runtimes`` (default runc) become containerd handlers and RuntimeClasses; a running
    cluster gets the ones it lacks added (None: whatever it has is fine). ``vm_nodes`` (0 or
    1) QEMU nodes with ``vm_kernel`` join it (:mod:`.vmnodes`; None: whatever runs).
    ``unsafe_sysctls``: the kubelets' ``allowedUnsafeSysctls`` (None: what a running cluster
    has, none for a new one; a change restarts the kubelets).

    ``images`` maps image references to OCI archives imported before the kubelet
    starts (the pause image always is). Ctrl-C or any failure tears down what was
    started, so nothing is left half-running.
    """
    chosen = runtimes_pkg.select(runtimes)
    cni_bin = preflight.preflight()
    for runtime in chosen:
        runtime.preflight()
    layout = Layout.default()
    existing = read_record(layout)
    if existing and healthy(layout):
        converge.refuse_other_version(existing, pins)
        _say(log, f"cluster already up and healthy (Kubernetes {existing.kubernetes}); reusing it")
        converge.account_daemons(layout)
        converge.control_plane_flags(layout, existing, log)
        if runtimes is not None:
            existing = converge.add_runtimes(layout, existing, chosen, cni_bin, log)
        if unsafe_sysctls is not None:
            existing = converge.set_unsafe_sysctls(layout, existing, unsafe_sysctls, log)
        node_images.import_images(layout, existing.binary_paths(), existing.node, images or {}, log)
        existing = vmnodes.converge(layout, existing, vm_nodes, vm_kernel, images or {}, log)
        converge.announce_unsafe_sysctls(layout, existing)
        return existing
    binaries = build_binaries(pins, log)
    for runtime in chosen:
        binaries.update(runtime.install(binaries, log))
    if layout.root.exists() or vmnodes.leftovers():
        _say(log, f"cleaning up the state of a stopped or broken cluster in {layout.root}")
        vmnodes.stop(None)
        teardown.teardown(layout)
    preflight.check_ports_free()
    started = time.monotonic()
    try:
        record = _start(
            layout,
            binaries,
            pins,
            cni_bin,
            images or {},
            log,
            node_timeout,
            chosen,
            unsafe_sysctls or (),
        )
    except BaseException:
        _say(log, "start failed or was interrupted: tearing down what was started")
        teardown.teardown(layout, remove_state=False)
        raise
    node_images.announce_images(layout, record.node, images or {})
    _say(log, f"cluster up in {time.monotonic() - started:.0f}s; node {record.node} is Ready")
    record = vmnodes.converge(layout, record, vm_nodes, vm_kernel, images or {}, log)
    converge.announce_unsafe_sysctls(layout, record)
    _say(log, f"kubeconfig: {record.kubeconfig} (context {record.context})")
    return record


def _prepare_state(layout: Layout, node: str) -> None:
    """Directories, certificates and kubeconfigs of a new cluster."""
    for d in (layout.config, layout.etcd_data, layout.kubelet_root, layout.cni_data):
        d.mkdir(parents=True, exist_ok=True)
    layout.etcd_data.chmod(0o700)
    ca = credentials.certificates(layout, node)
    credentials.kubeconfigs(layout, ca, node)  # written for the daemons and `kubeconfig`


def _wait_until_usable(
    layout: Layout, node: str, node_timeout: float, runtimes: list[Runtime]
) -> None:
    """The node Ready, the default ServiceAccount made (no pod can be created before), the
    RuntimeClasses registered, the controllers still running."""
    api = probes.AdminApi(layout)
    daemons.wait_for(
        layout,
        "kubelet",
        lambda: api.node_ready(node),
        timeout=node_timeout,
        what=f"node {node} Ready",
    )
    daemons.wait_for(
        layout,
        "kube-controller-manager",
        lambda: api.get(f"{SERVER}/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
        timeout=60,
        what="the default ServiceAccount",
    )
    for runtime in runtimes:
        api.create(f"{SERVER}/apis/node.k8s.io/v1/runtimeclasses", runtime.runtime_class())
    for name in ("kube-controller-manager", "kube-scheduler"):
        if daemons.running(layout, name) is None:
            daemons.wait_for(layout, name, lambda: False, timeout=0, what="a running process")


def _start(
    layout: Layout,
    binaries: dict[str, Path],
    pins: Pins,
    cni_bin: str,
    images: dict[str, Path],
    log: TextIO,
    node_timeout: float,
    runtimes: list[Runtime],
    unsafe_sysctls: tuple[str, ...] = (),
) -> ClusterRecord:
    node = node_name()
    _prepare_state(layout, node)
    _say(log, "starting etcd")
    startup.start_etcd(layout, binaries["etcd"])

    _say(log, "starting containerd")
    configs.cni_conflist(layout)
    pause = image_build.build_pause_image(progress=image_build.stderr_progress())
    startup.start_containerd(
        layout, binaries, cni_bin=cni_bin, pause_image=pause.ref, runtimes=runtimes
    )
    node_images.import_missing(layout, binaries, {pause.ref: pause.archive_path}, log)
    # The other images import while the control plane and the kubelet start (no pod can be
    # scheduled before the node is Ready); the kubelet initialises while the API server
    # starts and registers as soon as it answers.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        imported = pool.submit(node_images.import_missing, layout, binaries, images, log)
        _say(log, f"starting the kubelet and kube-apiserver {pins.kubernetes}, then controllers")
        startup.start_kubelet(layout, binaries, pins, unsafe_sysctls)
        startup.start_control_plane(layout, binaries)
        imported.result()
    _say(log, f"waiting for node {node} to be Ready")
    _wait_until_usable(layout, node, node_timeout, runtimes)
    record = ClusterRecord(
        kubernetes=pins.kubernetes,
        containerd=pins.containerd,
        etcd=pins.etcd,
        runc=pins.runc,
        node=node,
        kubeconfig=str(layout.admin_kubeconfig),
        context=CONTEXT_NAME,
        binaries={name: str(path) for name, path in binaries.items()},
        images={
            ref: str(archive) for ref, archive in {pause.ref: pause.archive_path, **images}.items()
        },
        runtimes=[r.name for r in runtimes],
        unsafe_sysctls=list(unsafe_sysctls),
    )
    write_record(layout, record)
    return record


def down(log: TextIO = sys.stderr) -> teardown.Removed:
    """Stop everything `up` started and remove the state; nothing stays behind."""
    layout = Layout.default()
    vmnodes.stop(None)
    result = teardown.teardown(layout)
    left = teardown.leftovers(layout) + vmnodes.leftovers()
    if left:
        raise PodshmError(
            "some of the cluster is still there after `down`: " + "; ".join(left),
            "run `podshm cluster down` again; if it persists, unmount/kill those by hand",
        )
    _say(
        log,
        f"cluster down: stopped {', '.join(result.stopped) or 'nothing'}; "
        f"{result.unmounted} mounts removed",
    )
    return result


def status(layout: Layout | None = None) -> dict[str, object]:
    """Each component's health, the node's Ready condition and the versions."""
    layout = layout or Layout.default()
    record = read_record(layout)
    report: dict[str, object] = {"state_dir": str(layout.root), "components": {}}
    comps: dict[str, dict[str, object]] = {}
    for name in reversed(plan.STOP_ORDER):
        comps[name] = {
            "pid": daemons.running(layout, name),
            "log": str(daemons.log_path(layout, name)),
        }
    report["components"] = comps
    if record is None:
        report["up"] = False
        return report
    if record.vm_nodes:
        comps["vm-qemu"] = {"pid": vm_join.qemu_pid(), "log": str(VmLayout().console_log)}
    report.update(asdict(record))
    vm_ready: dict[str, bool] = {}
    try:
        api = probes.AdminApi(layout)
        report["apiserver_ready"] = api.get(f"{SERVER}/readyz")[0] == 200
        report["node_ready"] = api.node_ready(record.node)
        vm_ready = {name: api.node_ready(name) for name in record.vm_nodes}
    except Exception as err:  # report, do not crash: status is for diagnosis
        report["apiserver_ready"] = False
        report["node_ready"] = False
        report["error"] = str(err)
    report["vm_nodes_ready"] = vm_ready
    report["up"] = (
        bool(report["node_ready"])
        and all(vm_ready.get(name) for name in record.vm_nodes)
        and all(c["pid"] for c in comps.values())
    )
    return report
