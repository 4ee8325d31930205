"""Checks before the local cluster starts: fail fast, before any build, on what would make it
impossible here (not root, missing CNI plugins or tools, no cgroups, ports taken)."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from podshm.errors import PodshmError
from podshm.providers.local.plan import API_PORT, ETCD_PEER_PORT, ETCD_PORT

CNI_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")


def preflight() -> str:
    """Fail fast, before any build, on what would make the cluster impossible here."""
    if os.geteuid() != 0:
        raise PodshmError(
            "the local cluster needs root (it runs containerd, the kubelet and mounts)",
            "run `sudo podshm cluster up`, or point podshm at an existing cluster with {context}",
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


def check_ports_free() -> None:
    for port in (API_PORT, ETCD_PORT, ETCD_PEER_PORT, 10250, 10257, 10259):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                raise PodshmError(
                    f"port 127.0.0.1:{port} is already in use by another program",
                    "stop that program (`ss -ltnp` shows it) or `podshm cluster down` if it is an "
                    "earlier podshm cluster",
                )
