"""Bring a real single-node Kubernetes up and down on this machine.

The recipe follows Kubernetes' own ``hack/local-up-cluster.sh``: etcd, then the
container runtime, kube-apiserver, kube-controller-manager, kube-scheduler and
the kubelet, every endpoint on loopback with TLS, Node and RBAC authorization
and the default admission plugins (Pod Security included).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

from podshm.errors import PodshmError
from podshm.localcluster import (
    components,
    configs,
    credentials,
    daemons,
    gobuild,
    plan,
    preflight,
    probes,
    startup,
    teardown,
    versions,
)
from podshm.localcluster import runtimes as runtimes_pkg
from podshm.localcluster.layout import CONTEXT_NAME, Layout
from podshm.localcluster.plan import SERVER
from podshm.localcluster.runtimes.base import Runtime
from podshm.localpaths import NODE_IMAGE_ANNOTATION
from podshm.testimage import TEST_IMAGE_REPO


@dataclass
class ClusterInfo:
    """What `up` started; saved as ``cluster.json`` for `status`."""

    kubernetes: str
    containerd: str
    etcd: str
    runc: str
    node: str
    kubeconfig: str
    context: str
    binaries: dict[str, str]
    images: dict[str, str]
    runtimes: list[str] = field(default_factory=lambda: list(runtimes_pkg.DEFAULT))


def _say(log: TextIO, message: str) -> None:
    print(f"podshm: {message}", file=log, flush=True)


def node_name() -> str:
    """The kubelet's default node name: the host name, lower case."""
    return socket.gethostname().lower()


def build_binaries(k8s_version: str, log: TextIO = sys.stderr) -> dict[str, Path]:
    """Build (or find cached) every Go binary the cluster runs; name -> path.

    The etcd, containerd and runc are the ones pinned for ``k8s_version`` (versions.pins_for),
    so each Kubernetes minor runs with the components it is tested with.
    """
    paths: dict[str, Path] = {}
    for component in versions.go_components(versions.pins_for(k8s_version)):
        bin_dir = gobuild.build(component, log=log)
        paths.update({name: bin_dir / name for name in component.packages})
    return paths


def read_info(layout: Layout) -> ClusterInfo | None:
    """What the last `up` recorded (versions, binaries, images), or None."""
    try:
        return ClusterInfo(**json.loads(layout.info.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_info(layout: Layout, info: ClusterInfo) -> None:
    """Record what runs (``cluster.json``): `status`, reuse and upgrades read it."""
    layout.info.write_text(json.dumps(asdict(info), indent=1))


def running_version(layout: Layout) -> str | None:
    """The Kubernetes version of the healthy local cluster, or None when it is not up."""
    info = read_info(layout)
    return info.kubernetes if info and healthy(layout) else None


def healthy(layout: Layout) -> bool:
    """Every daemon is the process we started and the node is Ready."""
    info = read_info(layout)
    if info is None or any(daemons.running(layout, d) is None for d in plan.STOP_ORDER):
        return False
    try:
        return probes.AdminApi(layout).node_ready(info.node)
    except (OSError, ValueError, KeyError):  # refused, TLS, HTTP error, odd body: not healthy
        return False


def up(
    k8s_version: str = components.DEFAULT_K8S_VERSION,
    *,
    images: dict[str, Path] | None = None,
    log: TextIO = sys.stderr,
    node_timeout: float = 180,
    runtimes: str | list[str] | tuple[str, ...] | None = None,
) -> ClusterInfo:
    """Start the cluster, or reuse a healthy one; a dead one's leftovers are cleaned first.

    ``runtimes`` (default runc) become containerd handlers and RuntimeClasses; None also
    accepts whatever runtimes a healthy running cluster has.

    ``images`` maps image references to OCI archives imported before the kubelet
    starts (the pause image always is). Ctrl-C or any failure tears down what was
    started, so nothing is left half-running.
    """
    k8s_version = versions.pins_for(k8s_version).kubernetes  # "v1.37" -> the pinned v1.37.2
    chosen = runtimes_pkg.select(runtimes)
    cni_bin = preflight.preflight()
    for runtime in chosen:
        runtime.preflight()
    layout = Layout.default()
    existing = read_info(layout)
    if existing and healthy(layout):
        if existing.kubernetes != k8s_version:
            fix = f"run `podshm cluster down` first, then up with --k8s-version {k8s_version}"
            if _minor(k8s_version) > _minor(existing.kubernetes):
                fix = (
                    f"upgrade it in place with `podshm gate --from {existing.kubernetes} --to "
                    f"{k8s_version}`, or {fix}"
                )
            raise PodshmError(
                f"podshm's local cluster runs Kubernetes {existing.kubernetes}, {k8s_version} "
                "was asked for, and `up` does not change a running cluster's version",
                fix,
            )
        _say(log, f"cluster already up and healthy (Kubernetes {existing.kubernetes}); reusing it")
        if runtimes is not None:
            existing = _converge_runtimes(layout, existing, chosen, cni_bin, log)
        _import_images(layout, _binaries_of(existing), images or {}, log)
        _announce_test_image(layout, existing.node, images or {})
        return existing
    binaries = build_binaries(k8s_version, log)
    for runtime in chosen:
        binaries.update(runtime.install(binaries, log))
    if layout.root.exists():
        _say(log, f"cleaning up the state of a stopped or broken cluster in {layout.root}")
        teardown.teardown(layout)
    preflight.check_ports_free()
    started = time.monotonic()
    try:
        info = _start(
            layout, binaries, k8s_version, cni_bin, images or {}, log, node_timeout, chosen
        )
    except BaseException:
        _say(log, "start failed or was interrupted: tearing down what was started")
        teardown.teardown(layout, remove_state=False)
        raise
    _announce_test_image(layout, info.node, images or {})
    _say(log, f"cluster up in {time.monotonic() - started:.0f}s; node {info.node} is Ready")
    _say(log, f"kubeconfig: {info.kubeconfig} (context {info.context})")
    return info


def _minor(version: str) -> tuple[int, int]:
    major, minor = versions.pins_for(version).minor.split(".")
    return int(major), int(minor)


def _converge_runtimes(
    layout: Layout, info: ClusterInfo, asked: list[Runtime], cni_bin: str, log: TextIO
) -> ClusterInfo:
    """Add the runtimes ``asked`` for that the running cluster lacks: their programs, a
    containerd restarted with their handlers (running pods keep running), their
    RuntimeClasses. Runtimes the cluster has and nobody asked for stay."""
    missing = [r for r in asked if r.name not in info.runtimes]
    if not missing:
        if [r.name for r in asked] != info.runtimes:
            _say(log, f"keeping the cluster's runtimes {', '.join(info.runtimes)}")
        return info
    from podshm.image import build as image_build

    known = runtimes_pkg.available()
    everything = [known[name] for name in info.runtimes] + missing
    binaries = _binaries_of(info)
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
        layout, "kubelet", lambda: api.node_ready(info.node), timeout=120, what="node Ready"
    )
    for runtime in missing:
        api.create(f"{SERVER}/apis/node.k8s.io/v1/runtimeclasses", runtime.runtime_class())
    converged = dataclasses.replace(
        info,
        binaries={name: str(path) for name, path in binaries.items()},
        runtimes=[r.name for r in everything],
    )
    write_info(layout, converged)
    _say(
        log,
        f"added runtimes {names} (RuntimeClasses {names}); the cluster now has "
        f"{', '.join(converged.runtimes)}",
    )
    return converged


def import_images(
    layout: Layout, info: ClusterInfo, images: dict[str, Path], log: TextIO = sys.stderr
) -> None:
    """Import archives into the running cluster and name the test image on its node."""
    _import_images(layout, _binaries_of(info), images, log)
    _announce_test_image(layout, info.node, images)


def up_with_test_image(k8s_version: str, log: TextIO = sys.stderr) -> tuple[ClusterInfo, str]:
    """Start (or reuse) the cluster with this podshm's test image built (cached) and imported;
    returns the cluster and the image reference."""
    from podshm.image import build as image_build

    image = image_build.build_test_image(progress=image_build.stderr_progress())
    return up(k8s_version, images={image.ref: image.archive_path}, log=log), image.ref


def _announce_test_image(layout: Layout, node: str, images: dict[str, Path]) -> None:
    """Annotate the node with the test image just imported: runs find it there, whatever
    kubeconfig names this cluster (``podshm.target.find_image``)."""
    refs = [ref for ref in images if ref.startswith(TEST_IMAGE_REPO + ":")]
    if refs:
        probes.AdminApi(layout).annotate_node(node, {NODE_IMAGE_ANNOTATION: refs[-1]})


def _binaries_of(info: ClusterInfo) -> dict[str, Path]:
    return {name: Path(path) for name, path in info.binaries.items()}


def _import_images(
    layout: Layout, binaries: dict[str, Path], images: dict[str, Path], log: TextIO
) -> None:
    """Import what containerd lacks (unpacked for the CRI's snapshotter, so no pod waits)."""
    from podshm.image.load import load_image

    present = startup.ctr(layout, binaries, "images", "ls", "-q").split()
    for ref, archive in images.items():
        if ref not in present:
            _say(log, f"importing image {ref}")
            load_image(
                archive,
                "containerd",
                address=str(layout.containerd_socket),
                snapshotter="overlayfs",
                ctr=str(binaries["ctr"]),
            )


def _start(
    layout: Layout,
    binaries: dict[str, Path],
    version: str,
    cni_bin: str,
    images: dict[str, Path],
    log: TextIO,
    node_timeout: float,
    runtimes: list[Runtime],
) -> ClusterInfo:
    from podshm.image import build as image_build

    node = node_name()
    for d in (layout.config, layout.etcd_data, layout.kubelet_root, layout.cni_data):
        d.mkdir(parents=True, exist_ok=True)
    layout.etcd_data.chmod(0o700)
    ca = credentials.certificates(layout, node)
    credentials.kubeconfigs(layout, ca, node)  # written for the daemons and `kubeconfig`
    api = probes.AdminApi(layout)

    _say(log, "starting etcd")
    startup.start_etcd(layout, binaries["etcd"])

    _say(log, "starting containerd")
    configs.cni_conflist(layout)
    pause = image_build.build_pause_image(progress=image_build.stderr_progress())
    startup.start_containerd(
        layout, binaries, cni_bin=cni_bin, pause_image=pause.ref, runtimes=runtimes
    )
    _import_images(layout, binaries, {pause.ref: pause.archive_path}, log)
    # The other images import while the control plane and the kubelet start (no pod can be
    # scheduled before the node is Ready); the kubelet initialises while the API server
    # starts and registers as soon as it answers.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        imported = pool.submit(_import_images, layout, binaries, images, log)
        _say(log, f"starting the kubelet and kube-apiserver {version}, then the controllers")
        startup.start_kubelet(layout, binaries, version)
        startup.start_control_plane(layout, binaries)
        imported.result()
    _say(log, f"waiting for node {node} to be Ready")
    daemons.wait_for(
        layout,
        "kubelet",
        lambda: api.node_ready(node),
        timeout=node_timeout,
        what=f"node {node} Ready",
    )
    # Pods cannot be created before the controller-manager made the default ServiceAccount.
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

    pins = versions.pins_for(version)
    info = ClusterInfo(
        kubernetes=version,
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
    )
    write_info(layout, info)
    return info


def down(log: TextIO = sys.stderr) -> dict[str, object]:
    """Stop everything `up` started and remove the state; nothing stays behind."""
    layout = Layout.default()
    result = teardown.teardown(layout)
    left = teardown.leftovers(layout)
    if left:
        raise PodshmError(
            "some of the cluster is still there after `down`: " + "; ".join(left),
            "run `podshm cluster down` again; if it persists, unmount/kill those by hand",
        )
    _say(
        log,
        f"cluster down: stopped {', '.join(result['stopped']) or 'nothing'}; "
        f"{result['unmounted']} mounts removed",
    )
    return result


def status(layout: Layout | None = None) -> dict[str, object]:
    """Each component's health, the node's Ready condition and the versions."""
    layout = layout or Layout.default()
    info = read_info(layout)
    report: dict[str, object] = {"state_dir": str(layout.root), "components": {}}
    comps: dict[str, object] = {}
    for name in reversed(plan.STOP_ORDER):
        comps[name] = {
            "pid": daemons.running(layout, name),
            "log": str(daemons.log_path(layout, name)),
        }
    report["components"] = comps
    if info is None:
        report["up"] = False
        return report
    report.update(asdict(info))
    try:
        api = probes.AdminApi(layout)
        report["apiserver_ready"] = api.get(f"{SERVER}/readyz")[0] == 200
        report["node_ready"] = api.node_ready(info.node)
    except Exception as err:  # report, do not crash: status is for diagnosis
        report["apiserver_ready"] = False
        report["node_ready"] = False
        report["error"] = str(err)
    report["up"] = bool(report["node_ready"]) and all(c["pid"] for c in comps.values())
    return report
