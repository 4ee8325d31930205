"""The kind provider: a multi-node cluster in podshm's own Docker engine, all built offline.

``up`` starts the engine (``docker_engine``), builds kind and the node image (``node_image``),
writes a kind config (``cluster.render_config``) and runs ``kind create cluster``, then lays
the pod network (``network``); ``down`` deletes the cluster and stops the engine, leaving
nothing.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import TextIO

from podshm.build.pins import Pins
from podshm.errors import PodshmError
from podshm.image import oci
from podshm.objects import IMAGE_REPORT_S, node_ready
from podshm.providers.base import Request, Running
from podshm.providers.common.mounts import mounts_under
from podshm.providers.kind import docker_engine, network, node_image
from podshm.providers.kind.cluster import (
    CLUSTER,
    host_cgroup_v1,
    host_lacks_sys_resource,
    kind,
    kubeconfig_path,
    node_containers,
    node_objects,
    record_pins,
    recorded_pins,
    render_config,
    wait_ready,
)

CONTEXT = f"kind-{CLUSTER}"


def _say(log: TextIO, message: str) -> None:
    print(f"podshm: kind: {message}", file=log, flush=True)


class KindProvider:
    """kind's nodes as containers of podshm's own Docker engine."""

    name = "kind"
    summary = "a kind cluster (1 control plane + N-1 workers) in podshm's own Docker engine"

    def validate(self, request: Request) -> None:
        """runc only; at least one node."""
        if request.runtimes and tuple(request.runtimes) != ("runc",):
            raise PodshmError(
                f"kind runs runc only, not {','.join(request.runtimes)}", "use the local provider"
            )
        if request.nodes < 1:
            raise PodshmError(
                f"a kind cluster needs at least one node, not {request.nodes}", "pass --nodes 3"
            )
        if request.vm_nodes or request.vm_kernel:
            raise PodshmError(
                "kind's nodes are containers on this machine's kernel: it has no VM nodes",
                "use the local provider for a VM node (--provider local --vm-nodes 1)",
            )
        if request.unsafe_sysctls:
            raise PodshmError(
                "podshm's kind cluster starts its kubelets without unsafe sysctls",
                "use the local provider (--provider local --allowed-unsafe-sysctls ipc), or a "
                "kind config of your own with allowedUnsafeSysctls in a KubeletConfiguration "
                "patch",
            )

    def up(self, request: Request, log: TextIO) -> Running:
        """Start (or reuse) the cluster with ``request.nodes`` nodes at its pins, then load the
        images into every node. A running cluster of another size or version is recreated
        (kind has no in-place change of either), and ``up`` says so."""
        self.validate(request)
        started = time.monotonic()
        docker_engine.start(log)
        image = node_image.build(request.pins, log)
        existing = node_containers()
        same = len(existing) == request.nodes and recorded_pins() == request.pins
        if existing and same:
            _say(log, f"reusing cluster {CLUSTER!r} ({len(existing)} nodes)")
        else:
            if existing:
                _say(
                    log,
                    f"replacing cluster {CLUSTER!r} ({len(existing)} nodes, other version "
                    f"or size) with {request.nodes} nodes at {request.pins.kubernetes}",
                )
                kind("delete", "cluster", "--name", CLUSTER, log=log)
            self._create(request, image, log)
        wait_ready(request.nodes, log)
        for archive in request.images.values():
            self.load_image(archive, log)
        _say(log, f"up in {time.monotonic() - started:.0f}s")
        running = self.running()
        assert running is not None
        return running

    def _create(self, request: Request, image: str, log: TextIO) -> None:
        config = docker_engine.STATE / "kind-config.yaml"
        config.write_text(
            render_config(
                CLUSTER, image, request.nodes, host_lacks_sys_resource(), host_cgroup_v1()
            )
        )
        record_pins(request.pins)
        _say(log, f"creating cluster {CLUSTER!r} ({request.nodes} nodes) ...")
        kind(
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
        network.network_pods(log)

    def running(self) -> Running | None:
        """The cluster, when podshm's engine runs its node containers."""
        nodes = node_containers() if docker_engine.ping() else []
        pins = recorded_pins()
        if not nodes or pins is None:
            return None
        return Running(self.name, kubeconfig_path(), CONTEXT, pins.kubernetes, tuple(nodes))

    def down(self, log: TextIO) -> None:
        """Delete the cluster, then stop the engine (which removes everything it made); fail
        if anything of it is still there."""
        if docker_engine.ping() and node_containers():
            _say(log, f"deleting cluster {CLUSTER!r} ...")
            kind("delete", "cluster", "--name", CLUSTER, log=log, check=False)
        docker_engine.stop(log)
        left = leftovers()
        if left:
            raise PodshmError(
                "some of the kind cluster is still there after `down`: " + "; ".join(left),
                "run `podshm cluster down --provider kind` again; if it persists, remove those "
                "by hand",
            )
        _say(log, "down; nothing left")

    def status(self) -> dict[str, object]:
        """Engine, node containers, node readiness, versions; ``up`` when all is well."""
        nodes: dict[str, dict[str, object]] = {}
        report: dict[str, object] = {
            "provider": self.name,
            "engine": docker_engine.pid(),
            "docker_host": docker_engine.HOST,
            "kubeconfig": str(kubeconfig_path()),
            "containers": node_containers(),
            "nodes": nodes,
            "up": False,
        }
        if not report["containers"]:
            return report
        try:
            items = node_objects()
        except PodshmError as exc:
            report["error"] = str(exc)
            return report
        for item in items:
            nodes[item["metadata"]["name"]] = {
                "ready": node_ready(item),
                "kubelet": item["status"]["nodeInfo"]["kubeletVersion"],
                "runtime": item["status"]["nodeInfo"]["containerRuntimeVersion"],
            }
        report["up"] = bool(nodes) and all(n["ready"] for n in nodes.values())
        return report

    def kubeconfig(self) -> Path:
        """The cluster's admin kubeconfig (context ``kind-podshm``)."""
        return kubeconfig_path()

    def logs(self, component: str, lines: int) -> str:
        """A node's kubelet journal (``component`` names the node container)."""
        args = ["exec", component, "journalctl", "--no-pager", "-u", "kubelet"]
        if lines:
            args += ["-n", str(lines)]
        return docker_engine.docker(*args, capture_output=True).stdout

    def load_image(self, archive: Path, log: TextIO) -> None:
        """``kind load image-archive`` into every node, then wait until every node reports
        it, so the suite's image lookup finds it at once."""
        kind("load", "image-archive", str(archive), "--name", CLUSTER, log=log)
        wait_for_image(oci.archive_ref(archive), log=log)

    def upgrade(self, pins: Pins, log: TextIO) -> dict[str, float]:
        """kind has no in-place upgrade (a node image is one version)."""
        raise PodshmError(
            "a kind cluster is not upgraded in place (its node image is one version)",
            "rehearse upgrades with the local provider: podshm gate --from vA --to vB",
        )


def leftovers() -> list[str]:
    """What `down` must not leave: the engine, its state, mounts, bridges."""
    found = []
    if docker_engine.pid() is not None:
        found.append(f"the Docker engine (pid {docker_engine.pid()})")
    for path in (docker_engine.STATE, docker_engine.RUN):
        if path.exists():
            found.append(f"directory {path}")
    found += [f"mount {m}" for m in mounts_under(docker_engine.DATA_ROOT)]
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    found += [
        f"network interface {line.split()[0]}"
        for line in links.splitlines()
        if (line.split() and line.split()[0].split("@")[0] == "docker0") or line.startswith("br-")
    ]
    return found


def wait_for_image(ref: str, timeout: float = 2 * IMAGE_REPORT_S, log: TextIO = sys.stderr) -> None:
    """Wait until every node lists ``ref`` in ``status.images``.

    The kubelet reports a newly imported image only later (``IMAGE_REPORT_S``), and podshm's
    suite finds its test image through exactly that list, so a load is complete only once
    every node shows it.
    """
    deadline = time.monotonic() + timeout
    while True:
        items = node_objects()
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
