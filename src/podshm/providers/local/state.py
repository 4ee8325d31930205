"""What the local cluster's ``up`` started, as recorded in ``cluster.json``, and whether it
is healthy now: ``status``, reuse, convergence and upgrades read it."""

from __future__ import annotations

import json
import socket
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from podshm.build.pins import Pins, pins_for
from podshm.providers.local import daemons, plan, probes
from podshm.providers.local.layout import Layout
from podshm.providers.local.runtimes import DEFAULT as DEFAULT_RUNTIMES


@dataclass
class ClusterRecord:
    """What `up` started; saved as ``cluster.json``."""

    kubernetes: str
    containerd: str
    etcd: str
    runc: str
    node: str
    kubeconfig: str
    context: str
    binaries: dict[str, str]
    images: dict[str, str]
    runtimes: list[str] = field(default_factory=lambda: list(DEFAULT_RUNTIMES))
    vm_nodes: list[str] = field(default_factory=list)
    """The VM nodes joined to it (``--vm-nodes``): their names."""
    vm_kernel: str = ""
    """The Debian kernel package the VM nodes boot (``--vm-kernel``)."""
    vm_images: dict[str, str] = field(default_factory=dict)
    """The images the VM nodes hold: reference -> OCI archive."""
    unsafe_sysctls: list[str] = field(default_factory=list)
    """The kubelet's ``allowedUnsafeSysctls`` patterns (``--allowed-unsafe-sysctls``)."""
    vm_unsafe_sysctls: list[str] = field(default_factory=list)
    """The same, as the running VM node's kubelet was started with."""

    @property
    def pins(self) -> Pins:
        """The pins of the version it runs (read back from the file: parsed here, once)."""
        return pins_for(self.kubernetes)

    @property
    def nodes(self) -> tuple[str, ...]:
        """Every node of the cluster: the host node, then the VM nodes."""
        return (self.node, *self.vm_nodes)

    def binary_paths(self) -> dict[str, Path]:
        """Program name -> path of every binary it runs."""
        return {name: Path(path) for name, path in self.binaries.items()}


def node_name() -> str:
    """The kubelet's default node name: the host name, lower case."""
    return socket.gethostname().lower()


def read_record(layout: Layout) -> ClusterRecord | None:
    """What the last `up` recorded, or None."""
    try:
        return ClusterRecord(**json.loads(layout.info.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _defaults() -> dict[str, object]:
    return {
        f.name: f.default_factory() if f.default_factory is not MISSING else f.default
        for f in fields(ClusterRecord)
        if f.default is not MISSING or f.default_factory is not MISSING
    }


def write_record(layout: Layout, record: ClusterRecord) -> None:
    """Record what runs (``cluster.json``). A field at its default is left out, so a cluster
    that uses no newer setting stays readable by the podshm before it (its ``read_record``
    refuses keys it does not know, and would take the cluster for a broken one)."""
    defaults = _defaults()
    data = {k: v for k, v in asdict(record).items() if k not in defaults or v != defaults[k]}
    layout.info.write_text(json.dumps(data, indent=1))


def healthy(layout: Layout) -> bool:
    """Every daemon is the process we started and the node is Ready."""
    record = read_record(layout)
    if record is None or any(daemons.running(layout, d) is None for d in plan.STOP_ORDER):
        return False
    try:
        return probes.AdminApi(layout).node_ready(record.node)
    except (OSError, ValueError, KeyError):  # refused, TLS, HTTP error, odd body: not healthy
        return False


def running_record(layout: Layout) -> ClusterRecord | None:
    """The record of the healthy local cluster, or None when it is not up."""
    record = read_record(layout)
    return record if record is not None and healthy(layout) else None
