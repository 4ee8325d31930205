"""How each daemon of the local cluster is started and waited for: by `up`, by in-place
upgrades, and by the restart that brings a stopped control plane back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from podshm.build.pins import Pins
from podshm.errors import PodshmError
from podshm.providers.local import accounting, configs, daemons, pki, plan, probes, teardown
from podshm.providers.local.layout import Layout
from podshm.providers.local.plan import ETCD_PORT, SERVER
from podshm.providers.local.runtimes.base import Runtime


def start_etcd(layout: Layout, binary: Path) -> None:
    """Start etcd on its data directory (kept across upgrades) and wait for /health."""
    accounting.join(daemons.start(layout, "etcd", plan.etcd_argv(binary, layout)))
    etcd_url = f"https://127.0.0.1:{ETCD_PORT}/health"
    daemons.wait_for(
        layout,
        "etcd",
        lambda: '"true"' in probes.etcd_get(layout, etcd_url),
        timeout=60,
        what="etcd /health",
    )


def start_kubelet(
    layout: Layout, binaries: dict[str, Path], pins: Pins, unsafe_sysctls: tuple[str, ...] = ()
) -> None:
    """Write the kubelet config for the minor of ``pins`` (allowing ``unsafe_sysctls``) and
    start that kubelet."""
    teardown.ensure_cgroups()
    serving = pki.Pair(layout.pki / "kubelet-serving.crt", layout.pki / "kubelet-serving.key")
    kubelet_yaml = configs.kubelet_config(
        layout,
        minor=pins.minor,
        ca=layout.pki / "ca.crt",
        serving=serving,
        cgroup_root=f"/{teardown.CGROUP_PARENT}",
        unsafe_sysctls=unsafe_sysctls,
    )
    path_env = f"{binaries['containerd'].parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    pid = daemons.start(
        layout,
        "kubelet",
        plan.kubelet_argv(
            binaries["kubelet"], layout, kubelet_yaml, layout.config / "kubelet-client.kubeconfig"
        ),
        env={"PATH": path_env},
    )
    accounting.join(pid)


def ctr(layout: Layout, binaries: dict[str, Path], *args: str, timeout: float = 300) -> str:
    """Run ``ctr`` against our containerd in the CRI (``k8s.io``) namespace."""
    proc = subprocess.run(
        [str(binaries["ctr"]), "--address", str(layout.containerd_socket), "-n", "k8s.io", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise PodshmError(f"ctr {' '.join(args)} failed: {proc.stderr.strip()}", "see the message")
    return proc.stdout


def start_containerd(
    layout: Layout,
    binaries: dict[str, Path],
    *,
    cni_bin: str,
    pause_image: str,
    runtimes: list[Runtime],
) -> None:
    """Write containerd's config with one handler per runtime, start it and wait for its
    socket. Also how runtimes are added to a running node: containerd restarts, and the pods
    keep running (their shims are not containerd's children)."""
    # A user-namespaced pod's root (a host uid like 65536+) must traverse the directories down
    # to its rootfs under containerd's state: 0711, as containerd's own /run/containerd. With
    # 0700 every `hostUsers: false` pod fails in runc ("remount-propagation ... rootfs,
    # flags=MS_PRIVATE: permission denied": EACCES on the path, not a missing capability).
    shared = layout.containerd_state.parent
    shared.mkdir(parents=True, exist_ok=True)
    shared.chmod(0o711)
    tables = [
        r.containerd_table(binaries, layout.runtime_root(r.name), layout.config) for r in runtimes
    ]
    toml = configs.containerd_toml(
        layout, cni_bin=cni_bin, pause_image=pause_image, runtime_tables=tables
    )
    # containerd finds shims (containerd-shim-<type>) on PATH: ours first.
    shim_dirs = dict.fromkeys(str(path.parent) for path in binaries.values())
    path_env = ":".join([*shim_dirs, os.environ.get("PATH", "/usr/bin:/bin")])
    pid = daemons.start(
        layout,
        "containerd",
        [str(binaries["containerd"]), "--config", str(toml)],
        env={"PATH": path_env},
    )
    accounting.join(pid)  # its shims, and the runtimes and CNI plugins they run, follow
    daemons.wait_for(
        layout,
        "containerd",
        lambda: bool(ctr(layout, binaries, "version")),
        timeout=60,
        what="the containerd socket",
    )


CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


def start_control_plane(
    layout: Layout,
    binaries: dict[str, Path],
    names: tuple[str, ...] = CONTROL_PLANE,
    timeout: float = 120,
) -> None:
    """Start control-plane daemons in order; the API server must be ready before the next."""
    api = probes.AdminApi(layout)
    for name in names:
        if name == "kube-apiserver":
            configs.audit_policy(layout)
        argv = plan.control_plane_argv(name, binaries[name], layout)
        accounting.join(daemons.start(layout, name, argv))
        if name == "kube-apiserver":
            daemons.wait_for(
                layout,
                name,
                lambda: api.get(f"{SERVER}/readyz")[0] == 200,
                timeout=timeout,
                what="/readyz",
            )


def restart_control_plane(
    layout: Layout, binaries: dict[str, Path], log: TextIO = sys.stderr, timeout: float = 120
) -> None:
    """Stop and start the API server, then the controller-manager and the scheduler (with the
    given binaries: the same, or a newer minor's), the order of an upstream upgrade.

    Controllers whose watch caches outlived an API server restart can stall (a new
    namespace never gets its ServiceAccount), so they restart too.
    """
    for name in CONTROL_PLANE:
        print(f"podshm: restarting {name} ({binaries[name]})", file=log, flush=True)
        daemons.stop(layout, name)
        start_control_plane(layout, binaries, (name,), timeout)
