"""What the cluster is: versions, nodes, runtimes, kernels and memory.

These facts head the report (so a result can be traced to the cluster that produced it) and
feed the expected /dev/shm sizes (node allocatable memory, kubelet version).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException

from podshm.kube.api import KubeApi, api_error_message
from podshm.objects import MANAGED_BY_LABEL, node_ready, quantity_to_bytes
from podshm.sysctls import (
    ANNOTATION,
    CONFIGZ_RIGHT,
    KubeletAllowlist,
    from_annotation,
    from_configz,
)


def _bytes_or_none(value: Any) -> int | None:
    """A quantity field as bytes; None when the object leaves it out (the report says so)."""
    return None if value is None or value == "" else quantity_to_bytes(value)


def parse_version(text: str | None) -> tuple[int, int] | None:
    """(major, minor) from a gitVersion like ``v1.37.2`` or ``v1.31.4-eks-1234``."""
    match = re.match(r"v?(\d+)\.(\d+)", text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def cgroup_version(proc_self_cgroup: str) -> int | None:
    """2 when ``/proc/self/cgroup`` (read inside a pod) has only the unified ``0::`` line, 1 when
    it lists v1 hierarchies (a hybrid host also has a ``0::`` line); None if unreadable. The Node
    object does not say, and the kubelet's sizing and MemoryQoS depend on it."""
    lines = [line for line in proc_self_cgroup.splitlines() if line.strip()]
    if not lines:
        return None
    return 2 if all(line.startswith("0::") for line in lines) else 1


@dataclass(frozen=True)
class NodeFacts:
    """One node as the report and the expectations need it."""

    name: str
    ready: bool
    kubelet_version: str
    container_runtime: str  # "containerd://2.1.4", "cri-o://1.33.0"
    kernel_version: str
    os_image: str
    architecture: str
    allocatable_memory_bytes: int | None
    capacity_memory_bytes: int | None
    images: tuple[str, ...] = ()
    """Every image name the kubelet reports (``status.images``)."""
    annotations: dict[str, str] = field(default_factory=dict, compare=False)
    labels: dict[str, str] = field(default_factory=dict, compare=False)
    image_digests: dict[str, str] = field(default_factory=dict, compare=False)
    runtime_handlers: dict[str, dict[str, bool]] = field(default_factory=dict, compare=False)
    """Handler name (``""``: the default) -> the features the runtime reports for it
    (``status.runtimeHandlers``: ``userNamespaces``, ``recursiveReadOnlyMounts``)."""
    """``repo:tag`` -> ``repo@sha256:...`` for the images the node holds (same entry)."""
    kubelet_allowlist: KubeletAllowlist | None = field(default=None, compare=False)
    """The unsafe sysctls its kubelet allows; read only for scenarios that need it
    (:func:`read_kubelet_allowlist`), None until then."""

    @property
    def runtime_name(self) -> str:
        """``containerd``, ``cri-o``, ``docker``..."""
        return self.container_runtime.split("://", 1)[0]

    @property
    def runtime_version(self) -> str:
        """The runtime's version without the scheme."""
        return self.container_runtime.split("://", 1)[-1]

    @property
    def kubelet_minor(self) -> tuple[int, int] | None:
        """(major, minor) of the kubelet: it, not the API server, mounts /dev/shm volumes."""
        return parse_version(self.kubelet_version)

    @classmethod
    def from_node(cls, node: dict[str, Any]) -> NodeFacts:
        """Read a Node object (camelCase dict)."""
        status = node.get("status") or {}
        meta = node.get("metadata") or {}
        info = status.get("nodeInfo") or {}
        allocatable = status.get("allocatable") or {}
        capacity = status.get("capacity") or {}
        return cls(
            name=str(meta.get("name", "")),
            ready=node_ready(node),
            kubelet_version=str(info.get("kubeletVersion", "")),
            container_runtime=str(info.get("containerRuntimeVersion", "")),
            kernel_version=str(info.get("kernelVersion", "")),
            os_image=str(info.get("osImage", "")),
            architecture=str(info.get("architecture", "")),
            allocatable_memory_bytes=_bytes_or_none(allocatable.get("memory")),
            capacity_memory_bytes=_bytes_or_none(capacity.get("memory")),
            images=tuple(
                str(name)
                for image in status.get("images") or []
                for name in image.get("names") or []
            ),
            annotations={str(k): str(v) for k, v in (meta.get("annotations") or {}).items()},
            labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
            image_digests={
                str(name): str(digest)
                for image in status.get("images") or []
                for digest in image.get("names") or []
                if "@sha256:" in str(digest)
                for name in image.get("names") or []
                if "@" not in str(name)
            },
            runtime_handlers={
                str(h.get("name", "")): {
                    str(k): bool(v) for k, v in (h.get("features") or {}).items()
                }
                for h in status.get("runtimeHandlers") or []
            },
        )

    def describe(self) -> str:
        """One line for the report header."""
        mem = (
            f"{self.allocatable_memory_bytes / 2**30:.1f} GiB allocatable"
            if self.allocatable_memory_bytes
            else "allocatable memory unknown"
        )
        return (
            f"{self.name}: {'Ready' if self.ready else 'NotReady'}, kubelet {self.kubelet_version}"
            f", {self.container_runtime}, kernel {self.kernel_version}, {self.os_image}, {mem}"
        )


@dataclass(frozen=True)
class RuntimeClassFacts:
    """A RuntimeClass: its handler and the memory overhead it adds to every pod."""

    name: str
    handler: str
    overhead_memory_bytes: int | None
    managed_by: str = ""
    """Its ``managed-by`` label: :data:`~podshm.objects.MANAGED_BY_RUN` marks one a test made
    for itself."""

    def __str__(self) -> str:
        overhead = (
            f", overhead {self.overhead_memory_bytes} B" if self.overhead_memory_bytes else ""
        )
        return f"{self.name} (handler {self.handler}{overhead})"

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> RuntimeClassFacts:
        """Read a RuntimeClass object."""
        overhead = ((obj.get("overhead") or {}).get("podFixed") or {}).get("memory")
        meta = obj.get("metadata") or {}
        return cls(
            name=str(meta.get("name", "")),
            handler=str(obj.get("handler", "")),
            overhead_memory_bytes=_bytes_or_none(overhead),
            managed_by=str((meta.get("labels") or {}).get(MANAGED_BY_LABEL, "")),
        )


@dataclass(frozen=True)
class ClusterFacts:
    """The cluster a run talks to."""

    api_server_url: str
    context: str
    server_version: str
    nodes: tuple[NodeFacts, ...] = ()
    nodes_error: str | None = None
    platform: str = ""
    runtime_classes: tuple[RuntimeClassFacts, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def server_minor(self) -> tuple[int, int] | None:
        """(major, minor) of the API server."""
        return parse_version(self.server_version)

    def node(self, name: str | None) -> NodeFacts | None:
        """The node called ``name``, if the run could list nodes."""
        return next((n for n in self.nodes if n.name == name), None)

    def runtimes(self) -> list[str]:
        """Distinct container runtimes across nodes."""
        return sorted({n.container_runtime for n in self.nodes})

    def kernels(self) -> list[str]:
        """Distinct kernel versions across nodes."""
        return sorted({n.kernel_version for n in self.nodes})

    def image_digest(self, ref: str) -> str | None:
        """The digest some node holds ``ref`` under (``repo@sha256:...``), if any."""
        for node in self.nodes:
            digest = node.image_digests.get(ref) or node.image_digests.get(f"docker.io/{ref}")
            if digest:
                return digest.rpartition("@")[2]
        return None

    def header_lines(self, image: str) -> list[str]:
        """The lines podshm adds to pytest's report header."""
        lines = [
            f"podshm: API server {self.api_server_url} (context {self.context}), "
            f"Kubernetes {self.server_version}",
        ]
        if self.nodes_error:
            lines.append(f"podshm: nodes unknown: {self.nodes_error}")
        for node in self.nodes:
            lines.append(f"podshm: node {node.describe()}")
        lines.append(
            "podshm: container runtime "
            + (", ".join(self.runtimes()) or "unknown")
            + "; kernel "
            + (", ".join(self.kernels()) or "unknown")
        )
        if self.runtime_classes:
            lines.append("podshm: RuntimeClasses " + ", ".join(map(str, self.runtime_classes)))
        lines.append(f"podshm: test image {image}")
        return lines


def gather_facts(api: KubeApi, context: str, version: dict[str, Any]) -> ClusterFacts:
    """Collect facts; a forbidden node list degrades to "nodes unknown" instead of failing."""
    nodes: tuple[NodeFacts, ...] = ()
    nodes_error = None
    try:
        nodes = tuple(NodeFacts.from_node(n) for n in api.list_nodes())
    except ApiException as err:
        nodes_error = f"cannot list nodes (HTTP {err.status}: {api_error_message(err)})"
    try:
        runtime_classes = tuple(
            RuntimeClassFacts.from_object(rc) for rc in api.list_runtime_classes()
        )
    except ApiException:  # no "list runtimeclasses": the report just lacks them
        runtime_classes = ()
    return ClusterFacts(
        runtime_classes=runtime_classes,
        api_server_url=api.host,
        context=context,
        server_version=str(version.get("gitVersion", "unknown")),
        nodes=nodes,
        nodes_error=nodes_error,
        platform=str(version.get("platform", "")),
    )


def read_kubelet_allowlist(
    api: KubeApi, node: str, annotations: dict[str, str] | None = None
) -> KubeletAllowlist:
    """The node's ``allowedUnsafeSysctls``, from its kubelet's live configuration; a refusal
    of the read (no nodes/proxy right) and any other failure are kept apart. Where the API
    server will not proxy to the kubelet's address (HTTP 400: podshm's local host node, on
    loopback), the node's ``annotations`` may name it (:data:`podshm.sysctls.ANNOTATION`)."""
    path = f"GET /api/v1/nodes/{node}/proxy/configz"
    try:
        document = api.node_configz(node)
    except ApiException as err:
        text = f"{path}: HTTP {err.status}: {api_error_message(err)}"
        if err.status in (401, 403):
            return KubeletAllowlist(forbidden=f"no {CONFIGZ_RIGHT} ({text})")
        if err.status == 400:
            declared = (annotations or {}).get(ANNOTATION)
            if declared is not None:
                return KubeletAllowlist(
                    from_annotation(declared), source=f"node annotation {ANNOTATION}; {text}"
                )
            return KubeletAllowlist(
                unreachable=f"{text} (the API server proxies only to a global unicast address)"
            )
        return KubeletAllowlist(error=text)
    try:
        return KubeletAllowlist(patterns=from_configz(document))
    except ValueError as err:
        return KubeletAllowlist(error=f"{path}: {err}")
