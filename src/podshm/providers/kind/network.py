"""Pod networking of the kind cluster, kindnetd's data path written by podshm.

kind's default CNI, kindnetd, lives in its own Go module (``sigs.k8s.io/kind/images/kindnetd``)
that the Go module proxy does not serve, so it cannot be built here. The cluster starts with
``disableDefaultCNI`` and podshm sets up what kindnetd would: on every node a CNI config of
the ``ptp`` plugin with ``host-local`` addresses from the node's podCIDR, and a route to every
other node's podCIDR via that node's address (no masquerade: the suite never leaves the
cluster).
"""

from __future__ import annotations

import json
import time
from typing import TextIO

from podshm.errors import PodshmError
from podshm.providers.kind import docker_engine
from podshm.providers.kind.cluster import node_objects

CNI_FILE = "/etc/cni/net.d/10-podshm-ptp.conflist"


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


def network_pods(log: TextIO) -> None:
    """Write each node's CNI config and routes once every node has a podCIDR."""
    deadline = time.monotonic() + 180
    while True:
        items = node_objects()
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
