"""Rules of Kubernetes objects that podshm reads and writes, each written once.

Pure (data in, data out, no cluster), so the cluster code, the sizing rule, the plugin, the
suite and the local cluster all read a Node's readiness, a quantity's bytes and podshm's
``managed-by`` label the same way.
"""

from __future__ import annotations

import math
from typing import Any

from kubernetes.utils import parse_quantity

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
"""The well-known label naming the tool that manages an object."""
MANAGED_BY_RUN = "podshm"
"""What a run makes carries it: its namespaces (`podshm gc` finds dead runs' by it) and the
RuntimeClasses its tests create for themselves (never a runtime-matrix column)."""
MANAGED_BY_LOCAL_CLUSTER = "podshm-cluster"
"""What the RuntimeClasses of podshm's local cluster carry: they outlive runs."""
IMAGE_REPORT_S = 90.0
"""How long a node may take to list an image just loaded into its runtime in
``status.images``: the kubelet refreshes its image list every 30 s
(``pkg/kubelet/images/image_gc_manager.go``) and updates node status every 10 s; measured on
kind, up to about a minute. Whoever looks an image up by that list waits this long."""


def quantity_to_bytes(value: Any) -> int:
    """A Kubernetes quantity (``256Mi``, ``1G``, ``67108864``) as bytes, rounded up.

    Go's ``Quantity.Value()`` rounds up, and the kubelet sizes cgroups and tmpfs with it:
    ``1.1Gi`` is 1181116007 bytes, ``100m`` one byte.
    """
    return math.ceil(parse_quantity(value))


def node_ready(node: dict[str, Any]) -> bool:
    """Whether a Node object's ``Ready`` condition is ``True`` (Unknown and absent are not)."""
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
