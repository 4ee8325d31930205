"""Where the local cluster keeps things: a cache that survives, state that `down` removes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from podshm.localpaths import CLUSTER_NAME, CONTEXT_NAME, admin_kubeconfig, state_root

__all__ = ["CLUSTER_NAME", "CONTEXT_NAME", "Layout"]


@dataclass(frozen=True)
class Layout:
    """Every path of one local cluster's state, all below ``root``."""

    root: Path

    @classmethod
    def default(cls) -> Layout:
        return cls(state_root())

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def containerd_root(self) -> Path:
        return self.root / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.root / "containerd" / "state"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    def runtime_root(self, runtime: str) -> Path:
        """A runtime's own state (runc's ``--root``...), never the host's /run/containerd."""
        return self.root / "runtimes" / runtime

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def cni_conf(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def cni_data(self) -> Path:
        return self.root / "cni" / "ipam"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def audit_policy(self) -> Path:
        """What the API server audits (:func:`podshm.providers.local.configs.audit_policy`)."""
        return self.config / "audit-policy.yaml"

    @property
    def audit_log(self) -> Path:
        """One JSON line per API request (``bench/suite.py`` counts a run's)."""
        return self.logs / "kube-apiserver-audit.log"

    @property
    def admin_kubeconfig(self) -> Path:
        """Stable path printed by `podshm cluster kubeconfig`."""
        return self.root / admin_kubeconfig().name

    @property
    def info(self) -> Path:
        """What `up` started: versions and binaries, for `status`."""
        return self.root / "cluster.json"
