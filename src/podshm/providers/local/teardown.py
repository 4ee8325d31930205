"""Tear down what the local cluster left on the machine, live or dead.

Used by `podshm cluster down` and by `up` when it finds a cluster whose
processes are gone but whose state is still there (a killed session): the
daemons (by recorded PID), container processes in our own cgroup tree, the
containerd shims of our socket, every mount under the state directory, the CNI
bridge, the kubelet's iptables chains, the cgroups and the state directory itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from podshm.providers.common.mounts import mounts_under, unmount_all
from podshm.providers.local import daemons
from podshm.providers.local.configs import BRIDGE
from podshm.providers.local.layout import Layout
from podshm.providers.local.plan import STOP_ORDER

CGROUP_PARENT = "podshm"
CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_dirs() -> list[Path]:
    """Our cgroup parent in every mounted hierarchy (cgroup v1 has one per controller)."""
    dirs = []
    for hierarchy in sorted(CGROUP_ROOT.iterdir()) if CGROUP_ROOT.is_dir() else []:
        if (hierarchy / "cgroup.procs").exists() and not hierarchy.is_symlink():
            dirs.append(hierarchy / CGROUP_PARENT)
    if (CGROUP_ROOT / "cgroup.procs").exists():  # pure cgroup v2
        dirs = [CGROUP_ROOT / CGROUP_PARENT]
    return dirs


def ensure_cgroups() -> None:
    """Create the kubelet's cgroupRoot (``/podshm``) so pods never land in a shared tree."""
    for d in cgroup_dirs():
        d.mkdir(exist_ok=True)


def _pids_in(tree: Path) -> set[int]:
    pids: set[int] = set()
    for procs in tree.rglob("cgroup.procs"):
        try:
            pids.update(int(p) for p in procs.read_text().split())
        except OSError:
            continue
    return pids


def shim_pids(layout: Layout) -> set[int]:
    """containerd shims started for our socket, and sandboxes of runtimes keeping state under
    ours (gVisor's runsc sandbox and gofer): they outlive containerd itself."""
    needle = str(layout.containerd_socket).encode()
    runtimes = str(layout.runtime_root("")).encode()
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if (b"containerd-shim" in cmdline and needle in cmdline) or (
            b"runsc" in cmdline and runtimes in cmdline
        ):
            pids.add(int(proc.name))
    return pids


def kill_workloads(layout: Layout) -> int:
    """SIGKILL every container process in our cgroups and our shims; return how many."""
    pids = shim_pids(layout)
    for tree in cgroup_dirs():
        if tree.is_dir():
            pids |= _pids_in(tree)
    pids.discard(os.getpid())
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.1)
    return len(pids)


def _remove_cgroups() -> None:
    for tree in cgroup_dirs():
        if not tree.is_dir():
            continue
        for sub in sorted((p for p in tree.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                sub.rmdir()
        with contextlib.suppress(OSError):
            tree.rmdir()


def delete_bridge() -> bool:
    """Delete the CNI bridge (its veths went with the pods' network namespaces)."""
    if not Path(f"/sys/class/net/{BRIDGE}").exists():
        return False
    subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True)
    return True


# Chains the kubelet itself creates (pkg/kubelet/kubelet_network_linux.go); kube-proxy's
# KUBE-* chains are not ours and are never touched.
KUBELET_CHAINS = ("KUBE-FIREWALL", "KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT")


def _iptables_tools() -> list[str]:
    return [tool for tool in ("iptables", "ip6tables") if shutil.which(tool)]


def kubelet_chains() -> list[str]:
    """The kubelet's iptables chains still present, as "tool table chain"."""
    found = []
    for tool in _iptables_tools():
        for table in ("filter", "mangle", "nat"):
            rules = subprocess.run([tool, "-t", table, "-S"], capture_output=True, text=True)
            for line in rules.stdout.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == "-N" and parts[1] in KUBELET_CHAINS:
                    found.append(f"{tool} {table} {parts[1]}")
    return found


def remove_kubelet_chains() -> int:
    """Delete the jumps to, then the chains the kubelet made; without iptables, nothing to do."""
    removed = 0
    for entry in kubelet_chains():
        tool, table, chain = entry.split()
        rules = subprocess.run([tool, "-t", table, "-S"], capture_output=True, text=True)
        for line in rules.stdout.splitlines():
            parts = line.split()
            if parts[:1] == ["-A"] and parts[-2:] == ["-j", chain]:
                subprocess.run([tool, "-t", table, "-D", *parts[1:]], capture_output=True)
        subprocess.run([tool, "-t", table, "-F", chain], capture_output=True)
        subprocess.run([tool, "-t", table, "-X", chain], capture_output=True)
        removed += 1
    return removed


@dataclass(frozen=True)
class Removed:
    """What a teardown stopped and removed (``down`` reports it)."""

    stopped: list[str]
    killed_processes: int
    unmounted: int
    bridge_deleted: bool
    iptables_chains_removed: int


def teardown(layout: Layout, *, remove_state: bool = True) -> Removed:
    """Leave nothing of the cluster behind; safe on a live, dead or half-started cluster."""
    stopped = [name for name in STOP_ORDER if daemons.stop(layout, name)]
    killed = kill_workloads(layout)
    unmounted = unmount_all(layout.root)
    bridge = delete_bridge()
    chains = remove_kubelet_chains()
    _remove_cgroups()
    if remove_state and layout.root.exists():
        shutil.rmtree(layout.root, ignore_errors=True)
    return Removed(stopped, killed, len(unmounted), bridge, chains)


def leftovers(layout: Layout) -> list[str]:
    """Everything of the cluster still on the machine (empty after a clean `down`)."""
    found = [f"process {name}" for name in STOP_ORDER if daemons.running(layout, name)]
    found += [f"shim pid {pid}" for pid in sorted(shim_pids(layout))]
    found += [f"mount {point}" for point in mounts_under(layout.root)]
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        found.append(f"network interface {BRIDGE}")
    found += [f"cgroup {d}" for d in cgroup_dirs() if d.is_dir()]
    found += [f"iptables chain {entry}" for entry in kubelet_chains()]
    if layout.root.exists():
        found.append(f"state directory {layout.root}")
    return found
