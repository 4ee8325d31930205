"""What a container runtime of the local cluster is: one small protocol, and the helpers every
runtime module shares (its containerd table, its RuntimeClass object).

A runtime module under ``podshm.providers.local.runtimes`` defines ``RUNTIME``, an object with
this shape; the package finds every module by itself, so adding a runtime is adding a module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol, TextIO

from podshm.objects import MANAGED_BY_LABEL, MANAGED_BY_LOCAL_CLUSTER

CRI_RUNTIMES = "plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes"
MANAGED_BY = {MANAGED_BY_LABEL: MANAGED_BY_LOCAL_CLUSTER}


class Runtime(Protocol):
    """One container runtime: how to get it, how containerd runs it, how pods ask for it."""

    name: str
    """The containerd handler and the RuntimeClass name (``runtimeClassName: <name>``)."""
    summary: str
    """One line for ``--help`` and ``podshm cluster status``."""

    def preflight(self) -> None:
        """Raise :class:`~podshm.errors.PodshmError` (cause and fix) if it cannot run here."""

    def install(self, binaries: dict[str, Path], log: TextIO) -> dict[str, Path]:
        """Build or find its programs (cached); ``binaries`` are the cluster's own (runc...).
        Returns the programs it adds (name -> path)."""

    def containerd_table(self, binaries: dict[str, Path], root: Path, config_dir: Path) -> str:
        """Its ``[...containerd.runtimes.<name>]`` table; ``root`` is its own state directory
        under podshm's (never the host's /run/containerd/...), ``config_dir`` for its files."""

    def runtime_class(self) -> dict[str, Any]:
        """The RuntimeClass object registered for it (handler, overhead)."""


def toml_table(name: str, runtime_type: str, options: dict[str, str | bool]) -> str:
    """``[<cri>.runtimes.<name>]`` with ``runtime_type`` and an ``options`` sub-table."""
    lines = [
        f"[{CRI_RUNTIMES}.{name}]",
        f"  runtime_type = {json.dumps(runtime_type)}",
        f"  [{CRI_RUNTIMES}.{name}.options]",
    ]
    for key, value in options.items():
        text = "true" if value is True else "false" if value is False else json.dumps(value)
        lines.append(f"    {key} = {text}")
    return "\n".join(lines) + "\n"


def runtime_class(name: str, overhead: dict[str, str] | None = None) -> dict[str, Any]:
    """A RuntimeClass named like its handler, labelled as the cluster's (not a test's)."""
    body: dict[str, Any] = {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": name, "labels": dict(MANAGED_BY)},
        "handler": name,
    }
    if overhead:
        body["overhead"] = {"podFixed": dict(overhead)}
    return body
