"""What a cluster provider is: one small protocol, and the values that cross it.

A provider brings a real Kubernetes up on this machine and down again. ``podshm cluster``,
``podshm run --start-cluster``, ``podshm gate`` and ``podshm image load`` reach clusters
only through this protocol; each provider is one package beside this module that exposes
``PROVIDER`` (the package finds them: :func:`podshm.providers.available`), the shape of
kind's ``pkg/cluster/internal/providers``. Versions arrive parsed (``podshm.build.pins.Pins``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

from podshm.build.pins import Pins


@dataclass(frozen=True)
class Request:
    """What ``podshm cluster up`` asks of a provider, parsed from the command line."""

    pins: Pins
    nodes: int = 1
    runtimes: tuple[str, ...] | None = None
    """Container runtimes to register (each a RuntimeClass); None: the provider's default,
    or whatever a running cluster already has."""
    images: Mapping[str, Path] = field(default_factory=dict)
    """Image references and the OCI archives to load into every node."""
    vm_nodes: int | None = None
    """QEMU nodes of their own kernel joined to the cluster (local provider); None: whatever
    a running cluster has (none for a new one)."""
    vm_kernel: str | None = None
    """The Debian kernel package the VM nodes boot; None: the provider's default."""
    unsafe_sysctls: tuple[str, ...] | None = None
    """The kubelets' ``allowedUnsafeSysctls`` patterns (local provider; ``()``: none); None:
    whatever a running cluster has (none for a new one)."""


@dataclass(frozen=True)
class Running:
    """A cluster a provider runs: where to point a client, and what it is."""

    provider: str
    kubeconfig: Path
    context: str
    kubernetes: str
    """The pinned Kubernetes version its nodes run (``v1.37.2``)."""
    nodes: tuple[str, ...]


class Provider(Protocol):
    """One way to run a cluster here; every call may raise a PodshmError (cause and fix)."""

    name: str
    """What ``--provider`` names it."""
    summary: str
    """One line for ``podshm cluster --help``."""

    def validate(self, request: Request) -> None:
        """Refuse what this provider cannot run, before anything is built."""

    def up(self, request: Request, log: TextIO) -> Running:
        """Start the cluster, or reuse (and converge) a running one; load the images."""

    def running(self) -> Running | None:
        """The healthy cluster this provider runs now, if any."""

    def down(self, log: TextIO) -> None:
        """Stop everything ``up`` started and remove its state: nothing may be left."""

    def status(self) -> dict[str, object]:
        """Health of each part, for ``podshm cluster status`` (``up``: all is well)."""

    def kubeconfig(self) -> Path:
        """The admin kubeconfig of the cluster (whether or not it runs)."""

    def logs(self, component: str, lines: int) -> str:
        """A component's log (a daemon, or a node), its last ``lines`` lines (0: all)."""

    def load_image(self, archive: Path, log: TextIO) -> None:
        """Load an OCI archive into every node, so the suite finds it on each."""

    def upgrade(self, pins: Pins, log: TextIO) -> dict[str, float]:
        """Upgrade the running cluster in place to ``pins`` (the next minor); seconds per step."""
