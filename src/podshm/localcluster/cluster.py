"""Bring a real single-node Kubernetes up and down on this machine.

The recipe follows Kubernetes' own ``hack/local-up-cluster.sh``: etcd, then the
container runtime, kube-apiserver, kube-controller-manager, kube-scheduler and
the kubelet, every endpoint on loopback with TLS, Node and RBAC authorization
and the default admission plugins (Pod Security included).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from podshm.errors import PodshmError
from podshm.localcluster import cleanup, components, configs, daemons, gobuild, pki
from podshm.localcluster.layout import CONTEXT_NAME, Layout
from podshm.localpaths import NODE_IMAGE_ANNOTATION
from podshm.testimage import TEST_IMAGE_REPO

API_PORT = 6443
ETCD_PORT = 2379
ETCD_PEER_PORT = 2380
SERVER = f"https://127.0.0.1:{API_PORT}"
CNI_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")


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


def _say(log: TextIO, message: str) -> None:
    print(f"podshm: {message}", file=log, flush=True)


def node_name() -> str:
    """The kubelet's default node name: the host name, lower case."""
    return socket.gethostname().lower()


def _preflight() -> str:
    """Fail fast, before any build, on what would make the cluster impossible here."""
    if os.geteuid() != 0:
        raise PodshmError(
            "the local cluster needs root (it runs containerd, the kubelet and mounts)",
            "run `sudo podshm cluster up`, or point podshm at an existing cluster with "
            "--podshm-context",
        )
    cni = next((d for d in CNI_BIN_DIRS if Path(d, "bridge").is_file()), None)
    missing = [
        what
        for what, ok in (
            ("the CNI plugins (bridge, host-local, loopback)", cni),
            ("ip (iproute2)", shutil.which("ip")),
            ("mount/umount", shutil.which("umount")),
        )
        if not ok
    ]
    if missing:
        raise PodshmError(
            "missing on this machine: " + ", ".join(missing),
            "run scripts/bootstrap.sh (apt-get install containernetworking-plugins iproute2)",
        )
    if (
        not any(Path("/sys/fs/cgroup").glob("*/cgroup.procs"))
        and not Path("/sys/fs/cgroup/cgroup.procs").exists()
    ):
        raise PodshmError("no cgroup hierarchy is mounted under /sys/fs/cgroup", "mount cgroups")
    return str(cni)


def _check_ports_free() -> None:
    for port in (API_PORT, ETCD_PORT, ETCD_PEER_PORT, 10250, 10257, 10259):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                raise PodshmError(
                    f"port 127.0.0.1:{port} is already in use by another program",
                    "stop that program (`ss -ltnp` shows it) or `podshm cluster down` if it is an "
                    "earlier podshm cluster",
                )


def build_binaries(k8s_version: str, log: TextIO = sys.stderr) -> dict[str, Path]:
    """Build (or find cached) every Go binary the cluster runs; name -> path."""
    paths: dict[str, Path] = {}
    for component in (
        components.etcd(),
        components.containerd(),
        components.runc(),
        gobuild.kubernetes(k8s_version),
    ):
        bin_dir = gobuild.build(component, log=log)
        paths.update({name: bin_dir / name for name in component.packages})
    return paths


class _Api:
    """Minimal HTTPS client with the admin certificate, for health probes during `up`."""

    def __init__(self, layout: Layout) -> None:
        self.ctx = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
        self.ctx.load_cert_chain(str(layout.pki / "admin.crt"), str(layout.pki / "admin.key"))

    def get(self, url: str, timeout: float = 3) -> tuple[int, str]:
        with urllib.request.urlopen(url, context=self.ctx, timeout=timeout) as resp:
            return resp.status, resp.read().decode()

    def annotate_node(self, name: str, annotations: dict[str, str]) -> None:
        body = json.dumps({"metadata": {"annotations": annotations}}).encode()
        request = urllib.request.Request(
            f"{SERVER}/api/v1/nodes/{name}",
            data=body,
            method="PATCH",
            headers={"Content-Type": "application/merge-patch+json"},
        )
        with urllib.request.urlopen(request, context=self.ctx, timeout=10) as resp:
            resp.read()

    def node_ready(self, name: str) -> bool:
        _, body = self.get(f"{SERVER}/api/v1/nodes/{name}")
        conditions = json.loads(body).get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _certificates(layout: Layout, node: str) -> pki.Authority:
    ca = pki.Authority(layout.pki)
    loop = ("127.0.0.1",)
    ca.issue("etcd-server", "etcd", server=True, client=True, dns=("localhost",), ips=loop)
    ca.issue("apiserver-etcd-client", "kube-apiserver-etcd-client", client=True)
    ca.issue(
        "apiserver",
        "kube-apiserver",
        server=True,
        dns=(
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ),
        ips=("127.0.0.1", "10.96.0.1"),
    )
    ca.issue(
        "apiserver-kubelet-client",
        "kube-apiserver-kubelet-client",
        orgs=("system:masters",),
        client=True,
    )
    ca.issue("admin", "podshm-admin", orgs=("system:masters",), client=True)
    ca.issue("controller-manager", "system:kube-controller-manager", client=True)
    ca.issue("scheduler", "system:kube-scheduler", client=True)
    ca.issue("kubelet-client", f"system:node:{node}", orgs=("system:nodes",), client=True)
    ca.issue("kubelet-serving", node, server=True, dns=(node, "localhost"), ips=loop)
    pki.service_account_key(layout.pki)
    return ca


def _kubeconfigs(layout: Layout, ca: pki.Authority, node: str) -> dict[str, Path]:
    out = {}
    for name, user in (
        ("admin", "podshm-admin"),
        ("controller-manager", "system:kube-controller-manager"),
        ("scheduler", "system:kube-scheduler"),
        ("kubelet-client", f"system:node:{node}"),
    ):
        pair = pki.Pair(layout.pki / f"{name}.crt", layout.pki / f"{name}.key")
        path = layout.admin_kubeconfig if name == "admin" else layout.config / f"{name}.kubeconfig"
        out[name] = configs.kubeconfig(
            path, server=SERVER, ca=ca.cert_path, client=pair, user=user, context=CONTEXT_NAME
        )
    return out


def _etcd_argv(binary: Path, layout: Layout) -> list[str]:
    p = layout.pki
    return [
        str(binary),
        "--name=podshm",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls=https://127.0.0.1:{ETCD_PORT}",
        f"--advertise-client-urls=https://127.0.0.1:{ETCD_PORT}",
        f"--listen-peer-urls=https://127.0.0.1:{ETCD_PEER_PORT}",
        f"--initial-advertise-peer-urls=https://127.0.0.1:{ETCD_PEER_PORT}",
        f"--initial-cluster=podshm=https://127.0.0.1:{ETCD_PEER_PORT}",
        f"--cert-file={p / 'etcd-server.crt'}",
        f"--key-file={p / 'etcd-server.key'}",
        f"--trusted-ca-file={p / 'ca.crt'}",
        "--client-cert-auth=true",
        f"--peer-cert-file={p / 'etcd-server.crt'}",
        f"--peer-key-file={p / 'etcd-server.key'}",
        f"--peer-trusted-ca-file={p / 'ca.crt'}",
        "--peer-client-cert-auth=true",
        "--listen-metrics-urls=http://127.0.0.1:2381",
        "--log-level=warn",
    ]


def _apiserver_argv(binary: Path, layout: Layout) -> list[str]:
    p = layout.pki
    return [
        str(binary),
        "--bind-address=127.0.0.1",
        f"--secure-port={API_PORT}",
        f"--etcd-servers=https://127.0.0.1:{ETCD_PORT}",
        f"--etcd-cafile={p / 'ca.crt'}",
        f"--etcd-certfile={p / 'apiserver-etcd-client.crt'}",
        f"--etcd-keyfile={p / 'apiserver-etcd-client.key'}",
        f"--tls-cert-file={p / 'apiserver.crt'}",
        f"--tls-private-key-file={p / 'apiserver.key'}",
        f"--client-ca-file={p / 'ca.crt'}",
        "--anonymous-auth=false",
        "--authorization-mode=Node,RBAC",
        # Default admission plugins (PodSecurity among them) plus NodeRestriction.
        "--enable-admission-plugins=NodeRestriction",
        "--allow-privileged=true",
        f"--service-account-key-file={p / 'sa.pub'}",
        f"--service-account-signing-key-file={p / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={configs.SERVICE_CIDR}",
        f"--kubelet-client-certificate={p / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={p / 'apiserver-kubelet-client.key'}",
        f"--kubelet-certificate-authority={p / 'ca.crt'}",
        # The node's host name resolves to loopback here; the kubelet listens there only.
        "--kubelet-preferred-address-types=Hostname,InternalIP",
        "--v=1",
    ]


def _controller_argv(binary: Path, layout: Layout, kubeconfig: Path) -> list[str]:
    p = layout.pki
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--service-account-private-key-file={p / 'sa.key'}",
        f"--root-ca-file={p / 'ca.crt'}",
        f"--cluster-signing-cert-file={p / 'ca.crt'}",
        f"--cluster-signing-key-file={p / 'ca.key'}",
        "--use-service-account-credentials=true",
        "--leader-elect=false",
        "--v=1",
    ]


def _scheduler_argv(binary: Path, kubeconfig: Path) -> list[str]:
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        "--leader-elect=false",
        "--v=1",
    ]


def _kubelet_argv(binary: Path, layout: Layout, config: Path, kubeconfig: Path) -> list[str]:
    return [
        str(binary),
        f"--config={config}",
        f"--kubeconfig={kubeconfig}",
        f"--root-dir={layout.kubelet_root}",
        "--v=1",
    ]


def ctr(layout: Layout, binaries: dict[str, Path], *args: str, timeout: float = 300) -> str:
    """Run ``ctr`` against our containerd in the CRI (``k8s.io``) namespace."""
    proc = subprocess.run(
        [str(binaries["ctr"]), "--address", str(layout.containerd_socket), "-n", "k8s.io", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise PodshmError(f"ctr {' '.join(args)} failed: {proc.stderr.strip()}", "see the message")
    return proc.stdout


def read_info(layout: Layout) -> ClusterInfo | None:
    """What the last `up` recorded (versions, binaries, images), or None."""
    try:
        return ClusterInfo(**json.loads(layout.info.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def running_version(layout: Layout) -> str | None:
    """The Kubernetes version of the healthy local cluster, or None when it is not up."""
    info = read_info(layout)
    return info.kubernetes if info and healthy(layout) else None


def healthy(layout: Layout) -> bool:
    """Every daemon is the process we started and the node is Ready."""
    info = read_info(layout)
    if info is None or any(daemons.running(layout, d) is None for d in cleanup.DAEMONS):
        return False
    try:
        return _Api(layout).node_ready(info.node)
    except Exception:
        return False


def up(
    k8s_version: str = components.DEFAULT_K8S_VERSION,
    *,
    images: dict[str, Path] | None = None,
    log: TextIO = sys.stderr,
    node_timeout: float = 180,
) -> ClusterInfo:
    """Start the cluster, or reuse a healthy one; a dead one's leftovers are cleaned first.

    ``images`` maps image references to OCI archives imported before the kubelet
    starts (the pause image always is). Ctrl-C or any failure tears down what was
    started, so nothing is left half-running.
    """
    cni_bin = _preflight()
    layout = Layout.default()
    existing = read_info(layout)
    if existing and healthy(layout):
        if existing.kubernetes != k8s_version:
            raise PodshmError(
                f"a podshm cluster of Kubernetes {existing.kubernetes} is running, "
                f"{k8s_version} was asked for",
                "run `podshm cluster down` first",
            )
        _say(log, f"cluster already up and healthy (Kubernetes {existing.kubernetes}); reusing it")
        _import_images(layout, _binaries_of(existing), images or {}, log)
        _announce_test_image(layout, existing.node, images or {})
        return existing
    binaries = build_binaries(k8s_version, log)
    if layout.root.exists():
        _say(log, f"cleaning up the state of a stopped or broken cluster in {layout.root}")
        cleanup.teardown(layout)
    _check_ports_free()
    started = time.monotonic()
    try:
        info = _start(layout, binaries, k8s_version, cni_bin, images or {}, log, node_timeout)
    except BaseException:
        _say(log, "start failed or was interrupted: tearing down what was started")
        cleanup.teardown(layout, remove_state=False)
        raise
    _announce_test_image(layout, info.node, images or {})
    _say(log, f"cluster up in {time.monotonic() - started:.0f}s; node {info.node} is Ready")
    _say(log, f"kubeconfig: {info.kubeconfig} (context {info.context})")
    return info


def _announce_test_image(layout: Layout, node: str, images: dict[str, Path]) -> None:
    """Annotate the node with the test image just imported: runs find it there, whatever
    kubeconfig names this cluster (``podshm.target.find_image``)."""
    refs = [ref for ref in images if ref.startswith(TEST_IMAGE_REPO + ":")]
    if refs:
        _Api(layout).annotate_node(node, {NODE_IMAGE_ANNOTATION: refs[-1]})


def _binaries_of(info: ClusterInfo) -> dict[str, Path]:
    return {name: Path(path) for name, path in info.binaries.items()}


def _import_images(
    layout: Layout, binaries: dict[str, Path], images: dict[str, Path], log: TextIO
) -> None:
    """Import what containerd lacks (unpacked for the CRI's snapshotter, so no pod waits)."""
    from podshm.image.load import load_image

    present = ctr(layout, binaries, "images", "ls", "-q").split()
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
) -> ClusterInfo:
    from podshm.image import build as image_build

    node = node_name()
    for d in (layout.config, layout.etcd_data, layout.kubelet_root, layout.cni_data):
        d.mkdir(parents=True, exist_ok=True)
    layout.etcd_data.chmod(0o700)
    ca = _certificates(layout, node)
    kubeconfigs = _kubeconfigs(layout, ca, node)
    api = _Api(layout)

    _say(log, "starting etcd")
    daemons.start(layout, "etcd", _etcd_argv(binaries["etcd"], layout))
    etcd_url = f"https://127.0.0.1:{ETCD_PORT}/health"
    daemons.wait_for(
        layout,
        "etcd",
        lambda: '"true"' in _etcd_get(layout, etcd_url),
        timeout=60,
        what="etcd /health",
    )

    _say(log, "starting containerd")
    configs.cni_conflist(layout)
    pause = image_build.build_pause_image(progress=image_build.stderr_progress())
    toml = configs.containerd_toml(
        layout, runc=str(binaries["runc"]), cni_bin=cni_bin, pause_image=pause.ref
    )
    path_env = f"{binaries['containerd'].parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    daemons.start(
        layout,
        "containerd",
        [str(binaries["containerd"]), "--config", str(toml)],
        env={"PATH": path_env},
    )
    daemons.wait_for(
        layout,
        "containerd",
        lambda: bool(ctr(layout, binaries, "version")),
        timeout=60,
        what="the containerd socket",
    )
    _import_images(layout, binaries, {pause.ref: pause.archive_path, **images}, log)

    _say(log, f"starting kube-apiserver {version}")
    daemons.start(layout, "kube-apiserver", _apiserver_argv(binaries["kube-apiserver"], layout))
    daemons.wait_for(
        layout,
        "kube-apiserver",
        lambda: api.get(f"{SERVER}/readyz")[0] == 200,
        timeout=120,
        what="/readyz",
    )

    _say(log, "starting kube-controller-manager and kube-scheduler")
    daemons.start(
        layout,
        "kube-controller-manager",
        _controller_argv(
            binaries["kube-controller-manager"], layout, kubeconfigs["controller-manager"]
        ),
    )
    daemons.start(
        layout,
        "kube-scheduler",
        _scheduler_argv(binaries["kube-scheduler"], kubeconfigs["scheduler"]),
    )

    _say(log, "starting the kubelet")
    cleanup.ensure_cgroups()
    minor = int(version.lstrip("v").split(".")[1])
    serving = pki.Pair(layout.pki / "kubelet-serving.crt", layout.pki / "kubelet-serving.key")
    kubelet_yaml = configs.kubelet_config(
        layout,
        minor=minor,
        ca=ca.cert_path,
        serving=serving,
        cgroup_root=f"/{cleanup.CGROUP_PARENT}",
    )
    daemons.start(
        layout,
        "kubelet",
        _kubelet_argv(binaries["kubelet"], layout, kubelet_yaml, kubeconfigs["kubelet-client"]),
        env={"PATH": path_env},
    )
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
    for name in ("kube-controller-manager", "kube-scheduler"):
        if daemons.running(layout, name) is None:
            daemons.wait_for(layout, name, lambda: False, timeout=0, what="a running process")

    info = ClusterInfo(
        kubernetes=version,
        containerd=components.DEFAULT_CONTAINERD_VERSION,
        etcd=components.DEFAULT_ETCD_VERSION,
        runc=components.DEFAULT_RUNC_VERSION,
        node=node,
        kubeconfig=str(layout.admin_kubeconfig),
        context=CONTEXT_NAME,
        binaries={name: str(path) for name, path in binaries.items()},
        images={
            ref: str(archive) for ref, archive in {pause.ref: pause.archive_path, **images}.items()
        },
    )
    layout.info.write_text(json.dumps(asdict(info), indent=1))
    return info


def _etcd_get(layout: Layout, url: str) -> str:
    ctx = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
    ctx.load_cert_chain(
        str(layout.pki / "apiserver-etcd-client.crt"), str(layout.pki / "apiserver-etcd-client.key")
    )
    with urllib.request.urlopen(url, context=ctx, timeout=3) as resp:
        return resp.read().decode()


def down(log: TextIO = sys.stderr) -> dict[str, object]:
    """Stop everything `up` started and remove the state; nothing stays behind."""
    layout = Layout.default()
    result = cleanup.teardown(layout)
    left = cleanup.leftovers(layout)
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
    for name in reversed(cleanup.DAEMONS):
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
        api = _Api(layout)
        report["apiserver_ready"] = api.get(f"{SERVER}/readyz")[0] == 200
        report["node_ready"] = api.node_ready(info.node)
    except Exception as err:  # report, do not crash: status is for diagnosis
        report["apiserver_ready"] = False
        report["node_ready"] = False
        report["error"] = str(err)
    report["up"] = bool(report["node_ready"]) and all(c["pid"] for c in comps.values())
    return report
