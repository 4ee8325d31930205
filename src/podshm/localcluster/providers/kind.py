"""The kind provider: a multi-node cluster in podshm's own Docker engine, all built offline.

``up`` starts the engine (``docker_engine``), builds kind and the node image (``kind_node_image``),
writes a kind config (a pure function: unit tests read exactly what kind gets) and runs ``kind
create cluster``; ``down`` deletes the cluster and stops the engine, leaving nothing.

Pod networking: kind's default CNI, kindnetd, lives in its own Go module
(``sigs.k8s.io/kind/images/kindnetd``) that the Go module proxy does not serve, so it cannot be
built here. The cluster starts with ``disableDefaultCNI`` and podshm sets up kindnetd's data
path: on every node a CNI config of the ``ptp`` plugin with ``host-local`` addresses from the
node's podCIDR, and a route to every other node's podCIDR via that node's address.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from podshm.errors import PodshmError
from podshm.image import oci
from podshm.localcluster import gobuild, versions
from podshm.localcluster.providers import docker_engine, kind_components, kind_node_image

CLUSTER = "podshm"
POD_SUBNET = "10.245.0.0/16"
"""Not 10.244.0.0/16, which podshm's local cluster routes on the host."""
SERVICE_SUBNET = "10.97.0.0/16"
CNI_FILE = "/etc/cni/net.d/10-podshm-ptp.conflist"


@dataclass(frozen=True)
class KindInfo:
    """What ``up`` made: where to point kubectl and what runs."""

    name: str
    kubeconfig: Path
    nodes: list[str]
    image: str
    k8s_version: str
    docker_host: str


def host_lacks_sys_resource() -> bool:
    """True when root's bounding set has no CAP_SYS_RESOURCE (bit 24), as on this machine."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return not int(line.split()[1], 16) >> 24 & 1
    return False


def render_config(name: str, image: str, nodes: int, restrict_oom: bool = False) -> str:
    """The kind cluster config: 1 control plane + ``nodes - 1`` workers, cgroup v1 allowed.

    ``failCgroupV1: false`` goes through kind's own kubeadmConfigPatches into every
    node's KubeletConfiguration: Kubernetes 1.35+ refuses cgroup v1 hosts by default.
    ``restrict_oom`` (for hosts whose root lacks CAP_SYS_RESOURCE) goes through kind's
    containerdConfigPatches: containerd then never asks runc for an OOM score below its
    own, which runc could not set (kind does the same for rootless nodes).
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
    if restrict_oom:
        lines += [
            "containerdConfigPatches:",
            "- |-",
            '  [plugins."io.containerd.grpc.v1.cri"]',
            "    restrict_oom_score_adj = true",
        ]
    return "\n".join(lines) + "\n"


def cni_config(pod_cidr: str) -> str:
    """The CNI config kindnetd would write for a node with ``pod_cidr``."""
    return json.dumps(
        {
            "cniVersion": "0.3.1",
            "name": "podshm-ptp",
            "plugins": [
                {
                    "type": "ptp",
                    "ipMasq": False,
                    "ipam": {
                        "type": "host-local",
                        "dataDir": "/run/cni-ipam-state",
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "ranges": [[{"subnet": pod_cidr}]],
                    },
                    "mtu": 1500,
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        indent=1,
    )


def routes_for(node: str, nodes: dict[str, tuple[str, str]]) -> list[list[str]]:
    """``ip route replace`` commands on ``node`` for every other node's (ip, podCIDR)."""
    return [
        ["ip", "route", "replace", cidr, "via", ip]
        for other, (ip, cidr) in sorted(nodes.items())
        if other != node
    ]


def kind_path(log: TextIO = sys.stderr) -> Path:
    """The kind binary podshm builds from its Go module (cached)."""
    return gobuild.build(kind_components.kind(), log=log) / "kind"


def kubeconfig_path() -> Path:
    """The kind cluster's admin kubeconfig (context ``kind-podshm``)."""
    return docker_engine.STATE / "kubeconfig"


def _kind(*args: str, log: TextIO | None = None, check: bool = True) -> subprocess.CompletedProcess:
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


def _kubectl(*args: str) -> str:
    k8s = gobuild.built_bin_dir(gobuild.kubernetes_from_module(_version()))
    kubectl = str(k8s / "kubectl") if k8s else "kubectl"
    proc = subprocess.run(
        [kubectl, "--kubeconfig", str(kubeconfig_path()), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise PodshmError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}", "is the cluster up?")
    return proc.stdout


def _version() -> str:
    marker = docker_engine.STATE / "k8s-version"
    return (
        marker.read_text().strip()
        if marker.exists()
        else kind_components.components.DEFAULT_K8S_VERSION
    )


def nodes() -> list[str]:
    """The node containers' names (``podshm-control-plane``, ``podshm-worker``, ...)."""
    if not docker_engine.ping():
        return []
    out = _kind("get", "nodes", "--name", CLUSTER, check=False).stdout
    return sorted(out.split())


def _network_pods(log: TextIO) -> None:
    """Write each node's CNI config and routes once every node has a podCIDR."""
    deadline = time.monotonic() + 180
    while True:
        items = json.loads(_kubectl("get", "nodes", "-o", "json"))["items"]
        table = {}
        for item in items:
            ip = next(
                a["address"] for a in item["status"]["addresses"] if a["type"] == "InternalIP"
            )
            table[item["metadata"]["name"]] = (ip, item["spec"].get("podCIDR", ""))
        if all(cidr for _, cidr in table.values()):
            break
        if time.monotonic() > deadline:
            raise PodshmError(
                f"nodes without a podCIDR after 180s: {table}", "check kube-controller-manager"
            )
        time.sleep(2)
    for node, (_, cidr) in sorted(table.items()):
        print(f"podshm: kind: pod network on {node}: {cidr}", file=log, flush=True)
        docker_engine.docker(
            "exec",
            "-i",
            node,
            "sh",
            "-c",
            f"cat > {CNI_FILE}",
            input=cni_config(cidr),
            capture_output=True,
        )
        for route in routes_for(node, table):
            docker_engine.docker("exec", node, *route, capture_output=True)


def _wait_ready(count: int, log: TextIO, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = json.loads(_kubectl("get", "nodes", "-o", "json"))["items"]
        ready = [
            i["metadata"]["name"]
            for i in items
            if any(
                c["type"] == "Ready" and c["status"] == "True" for c in i["status"]["conditions"]
            )
        ]
        if len(ready) >= count:
            print(f"podshm: kind: {len(ready)} nodes Ready", file=log, flush=True)
            return
        time.sleep(3)
    raise PodshmError(f"kind nodes not Ready after {timeout:.0f}s", "podshm cluster logs <node>")


def validate(k8s_version: str, nodes: int, runtimes: str | None = None) -> None:
    """Refuse what this provider cannot run, before anything is built."""
    versions.pins_for(k8s_version)
    if runtimes and runtimes != "runc":
        raise PodshmError(f"kind runs runc only, not {runtimes}", "use the local provider")
    if nodes < 1:
        raise PodshmError(f"a kind cluster needs at least one node, not {nodes}", "pass --nodes 3")


def up(
    k8s_version: str,
    nodes: int,
    log: TextIO = sys.stderr,
    images: dict[str, Path] | None = None,
    runtimes: str | None = None,
) -> KindInfo:
    """Start (or reuse) the kind cluster ``podshm`` with ``nodes`` nodes at ``k8s_version``,
    then load ``images`` (ref -> OCI archive) into every node."""
    started = time.monotonic()
    docker_engine.start(log)
    image = kind_node_image.build(k8s_version, log)
    existing = globals()["nodes"]()
    if existing and len(existing) == nodes and _version() == k8s_version:
        print(f"podshm: kind: reusing cluster {CLUSTER!r} ({len(existing)} nodes)", file=log)
    else:
        if existing:
            _kind("delete", "cluster", "--name", CLUSTER, log=log)
        config = docker_engine.STATE / "kind-config.yaml"
        config.write_text(render_config(CLUSTER, image, nodes, host_lacks_sys_resource()))
        (docker_engine.STATE / "k8s-version").write_text(k8s_version)
        print(
            f"podshm: kind: creating cluster {CLUSTER!r} ({nodes} nodes) ...", file=log, flush=True
        )
        _kind(
            "create",
            "cluster",
            "--name",
            CLUSTER,
            "--config",
            str(config),
            "--kubeconfig",
            str(kubeconfig_path()),
            "--retain",
            log=log,
        )
        _network_pods(log)
    _wait_ready(nodes, log)
    for archive in (images or {}).values():
        load_image(archive, log)
    print(f"podshm: kind: up in {time.monotonic() - started:.0f}s", file=log, flush=True)
    return KindInfo(
        CLUSTER, kubeconfig_path(), globals()["nodes"](), image, k8s_version, docker_engine.HOST
    )


def running() -> bool:
    """Whether podshm's engine runs with this cluster's node containers in it."""
    return docker_engine.ping() and bool(nodes())


def down(log: TextIO = sys.stderr) -> None:
    """Delete the cluster, then stop the engine (which removes everything it made); fail if
    anything of it is still there."""
    if docker_engine.ping() and nodes():
        print(f"podshm: kind: deleting cluster {CLUSTER!r} ...", file=log, flush=True)
        _kind("delete", "cluster", "--name", CLUSTER, log=log, check=False)
    docker_engine.stop(log)
    left = leftovers()
    if left:
        raise PodshmError(
            "some of the kind cluster is still there after `down`: " + "; ".join(left),
            "run `podshm cluster down --provider kind` again; if it persists, remove those by hand",
        )
    print("podshm: kind: down; nothing left", file=log, flush=True)


def leftovers() -> list[str]:
    """What `down` must not leave: the engine, its state, mounts, bridges."""
    found = []
    if docker_engine.pid() is not None:
        found.append(f"the Docker engine (pid {docker_engine.pid()})")
    for path in (docker_engine.STATE, docker_engine.RUN):
        if path.exists():
            found.append(f"directory {path}")
    found += [f"mount {m}" for m in docker_engine.mounts_under(docker_engine.DATA_ROOT)]
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    found += [
        f"network interface {line.split()[0]}"
        for line in links.splitlines()
        if (line.split() and line.split()[0].split("@")[0] == "docker0") or line.startswith("br-")
    ]
    return found


def status() -> dict:
    """Engine, node containers, node readiness, versions; ``up`` is True when all is well."""
    report: dict = {
        "provider": "kind",
        "engine": docker_engine.pid(),
        "docker_host": docker_engine.HOST,
        "kubeconfig": str(kubeconfig_path()),
        "nodes": {},
        "up": False,
    }
    report["containers"] = nodes()
    if not report["containers"]:
        return report
    try:
        items = json.loads(_kubectl("get", "nodes", "-o", "json"))["items"]
    except PodshmError as exc:
        report["error"] = str(exc)
        return report
    for item in items:
        conds = {c["type"]: c["status"] for c in item["status"]["conditions"]}
        report["nodes"][item["metadata"]["name"]] = {
            "ready": conds.get("Ready") == "True",
            "kubelet": item["status"]["nodeInfo"]["kubeletVersion"],
            "runtime": item["status"]["nodeInfo"]["containerRuntimeVersion"],
        }
    report["up"] = bool(report["nodes"]) and all(n["ready"] for n in report["nodes"].values())
    return report


def logs(node: str, unit: str = "kubelet", lines: int = 0) -> str:
    """A node's systemd journal for ``unit`` (kubelet, containerd)."""
    args = ["exec", node, "journalctl", "--no-pager", "-u", unit]
    if lines:
        args += ["-n", str(lines)]
    return docker_engine.docker(*args, capture_output=True).stdout


def wait_for_image(ref: str, timeout: float = 180, log: TextIO = sys.stderr) -> None:
    """Wait until every node lists ``ref`` in ``status.images``.

    The kubelet reports a newly imported image only with a later node status update
    (measured here: up to about a minute), and podshm's suite finds its test image
    through exactly that list, so a load is complete only once every node shows it.
    """
    deadline = time.monotonic() + timeout
    while True:
        items = json.loads(_kubectl("get", "nodes", "-o", "json"))["items"]
        missing = [
            i["metadata"]["name"]
            for i in items
            if not any(ref in img.get("names", []) for img in i["status"].get("images", []))
        ]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise PodshmError(
                f"{ref} loaded, but nodes {missing} still do not report it after {timeout:.0f}s",
                "podshm cluster logs (the kubelet's node status updates)",
            )
        print(f"podshm: kind: waiting for {', '.join(missing)} to report {ref}", file=log)
        time.sleep(5)


def load_image(archive: Path, log: TextIO = sys.stderr) -> None:
    """Import an OCI archive into every node (``kind load image-archive``), then wait until
    every node reports it, so the suite's image lookup finds it at once."""
    _kind("load", "image-archive", str(archive), "--name", CLUSTER, log=log)
    wait_for_image(oci.archive_ref(archive), log=log)
