"""The VM joined to the local cluster as its second node: cgroup v2 and a Debian kernel of
its own, running the host node's own builds (containerd, runc, the kubelet of the cluster's
version) and the images the host node holds.

Why a node joined to the host's control plane and not a whole cluster inside the VM: the
control plane under TCG would cost ten times its CPU on a two-core machine, and a second
cluster could not answer what matters here, the same scenario on two kernels and two cgroup
versions side by side in one run (and the isolation scenario across them).

How it joins: certificates of its own from the cluster's CA (``system:node:podshm-vm``, and
a serving certificate for its address), a kubeconfig that reaches the API server through the
forward on the bridge address and verifies it as ``kubernetes``, and a kubelet config from
the same rule as the host node's (:func:`~podshm.providers.local.configs.kubelet_document`).
All of it comes on the boot disk; the guest's ``boot.sh`` copies it in place, starts
containerd, imports the images and starts the kubelet. The node registers with a
``NoSchedule`` taint: a TCG node is slow, so it takes only the pods pinned to it
(``--podshm-nodes`` binds by ``nodeName``, which the taint does not stop).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import yaml

from podshm.build.pins import Pins
from podshm.errors import PodshmError
from podshm.providers.local import configs, daemons, pki, probes
from podshm.providers.local.layout import CONTEXT_NAME, Layout
from podshm.providers.local.plan import API_PORT
from podshm.providers.local.runtimes import runc
from podshm.providers.local.vm import bootdisk, hosts, imagestore, kernel, node
from podshm.providers.local.vm.agent import Agent
from podshm.providers.local.vm.guestinit import BOOT_LOG, BOOT_MOUNT
from podshm.providers.local.vm.layout import QEMU, VmLayout
from podshm.providers.local.vm.network import NetworkPlan

NAME = "podshm-vm"
"""The VM node's name (and host name)."""
TAINT = {"key": "podshm.dev/vm-node", "effect": "NoSchedule"}
POD_SUBNET = "10.244.1.0/24"
MEMORY_MIB = 4096
"""Room for the suite's pods at once: pinned by nodeName they skip the scheduler, and the
kubelet rejects one whose limits do not fit beside the others (OutOfmemory) while a slow
guest still terminates the last test's pods. TCG only touches the pages the guest uses."""
"""The VM node's pods (the host node's are ``configs.POD_SUBNET``)."""
PLAN = NetworkPlan(pod_subnet=POD_SUBNET)

FILES = "files"
"""Below this directory of the boot disk: files ``boot.sh`` copies to the guest's ``/``."""
IMAGES_DEVICE = "/dev/vdc"
"""The images disk (:mod:`.imagestore`), the first data disk, holds containerd's root."""
CONTAINERD_ROOT = "/var/lib/containerd"
ETC = "/etc/podshm"
PKI = f"{ETC}/pki"
KUBELET_CONFIG = f"{ETC}/kubelet.yaml"
KUBECONFIG = f"{ETC}/kubelet.kubeconfig"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
CNI_DIR = "/etc/cni/net.d"
CNI_BIN = "/usr/lib/cni"
KUBELET_LOG = "/var/log/kubelet.log"
CONTAINERD_LOG = "/var/log/containerd.log"
GUEST_LOGS = {"kubelet": KUBELET_LOG, "containerd": CONTAINERD_LOG, "boot": BOOT_LOG}
"""Guest log files by the name ``podshm cluster logs vm-<name>`` uses."""
BINARIES = ("containerd", "containerd-shim-runc-v2", "ctr", "runc", "kubelet")
"""The host node's builds the VM node runs (linked into /usr/local/bin by its init)."""


def vm_config(kernel_package: str) -> node.Config:
    """The VM as a node: its name, its network with a pod range, the API server forwarded."""
    return node.Config(
        kernel_package=kernel_package,
        plan=PLAN,
        hostname=NAME,
        forwards=((API_PORT, API_PORT),),
        memory_mib=MEMORY_MIB,
    )


@dataclass(frozen=True)
class Credentials:
    """The VM node's identities, issued by the cluster's CA (kept across boots)."""

    ca: bytes
    client: pki.Pair
    serving: pki.Pair


def credentials(layout: Layout, plan: NetworkPlan = PLAN) -> Credentials:
    """``system:node:podshm-vm`` for the API server, and a serving certificate the API server
    verifies when it dials the kubelet by name (``podshm-vm``, the ``/etc/hosts`` line)."""
    ca = pki.Authority(layout.pki)
    client = ca.issue(
        f"{NAME}-kubelet-client", f"system:node:{NAME}", orgs=("system:nodes",), client=True
    )
    serving = ca.issue(
        f"{NAME}-kubelet-serving", NAME, server=True, dns=(NAME,), ips=(plan.guest_ip,)
    )
    return Credentials(ca.cert_path.read_bytes(), client, serving)


def guest_files(
    creds: Credentials,
    pins: Pins,
    pause_image: str,
    plan: NetworkPlan = PLAN,
    unsafe_sysctls: tuple[str, ...] = (),
) -> dict[str, bootdisk.File]:
    """Guest path (relative to ``/``) -> content and mode: certificates, kubeconfig, kubelet
    config, containerd config and the CNI network of the VM node (pure but for reading the
    certificates)."""
    guest_pair = pki.Pair(Path(f"{PKI}/client.crt"), Path(f"{PKI}/client.key"))
    serving = pki.Pair(Path(f"{PKI}/serving.crt"), Path(f"{PKI}/serving.key"))
    ca = Path(f"{PKI}/ca.crt")
    kubeconfig = configs.kubeconfig_document(
        server=f"https://{plan.host_ip}:{API_PORT}",
        ca=ca,
        client=guest_pair,
        user=f"system:node:{NAME}",
        context=CONTEXT_NAME,
        tls_server_name="kubernetes",
    )
    kubelet = configs.kubelet_document(
        minor=pins.minor,
        ca=ca,
        serving=serving,
        cgroup_root="/",
        runtime_endpoint=f"unix://{CONTAINERD_SOCKET}",
        address=plan.guest_ip,
        taints=(TAINT,),
        unsafe_sysctls=unsafe_sysctls,
    )
    runtime_table = runc.RUNTIME.containerd_table(
        {"runc": Path("/usr/local/bin/runc")}, Path("/run/containerd/runc"), Path(ETC)
    )
    containerd = configs.containerd_text(
        root=Path(CONTAINERD_ROOT),
        state=Path("/run/containerd"),
        socket=Path(CONTAINERD_SOCKET),
        cni_bin=CNI_BIN,
        cni_conf=Path(CNI_DIR),
        pause_image=pause_image,
        runtime_tables=[runtime_table],
        restrict_oom=False,
    )
    cni = configs.cni_document(plan.pod_subnet or POD_SUBNET, Path("/var/lib/cni/networks"))
    texts: dict[str, tuple[str | bytes, int]] = {
        str(ca): (creds.ca, 0o644),
        str(guest_pair.cert): (creds.client.cert.read_bytes(), 0o644),
        str(guest_pair.key): (creds.client.key.read_bytes(), 0o600),
        str(serving.cert): (creds.serving.cert.read_bytes(), 0o644),
        str(serving.key): (creds.serving.key.read_bytes(), 0o600),
        KUBECONFIG: (yaml.safe_dump(kubeconfig, sort_keys=False), 0o600),
        KUBELET_CONFIG: (yaml.safe_dump(kubelet, sort_keys=False), 0o644),
        CONTAINERD_CONFIG: (containerd, 0o644),
        f"{CNI_DIR}/{configs.CNI_CONFLIST}": (json.dumps(cni, indent=2), 0o644),
    }
    return {
        f"{FILES}{path}": (text.encode() if isinstance(text, str) else text, mode)
        for path, (text, mode) in texts.items()
    }


def kubelet_argv(plan: NetworkPlan = PLAN) -> list[str]:
    """The guest kubelet's command line (pure)."""
    return [
        "kubelet",
        f"--config={KUBELET_CONFIG}",
        f"--kubeconfig={KUBECONFIG}",
        f"--hostname-override={NAME}",
        f"--node-ip={plan.guest_ip}",
        "--v=1",
    ]


def boot_script(host_pod_subnet: str = configs.POD_SUBNET, plan: NetworkPlan = PLAN) -> str:
    """What the guest runs at boot (pure): files in place, the route to the host node's pods,
    containerd on the images disk, the kubelet. Any failure stops the boot with its line."""
    return f"""#!/bin/sh
# podshm VM node: join the local cluster. Output: {BOOT_LOG}.
set -eu
cp -a {BOOT_MOUNT}/{FILES}/. /
ip route replace {host_pod_subnet} via {plan.host_ip} dev eth0
mkdir -p {CONTAINERD_ROOT}
mount -t ext4 {IMAGES_DEVICE} {CONTAINERD_ROOT}
setsid -f containerd --config {CONTAINERD_CONFIG} > {CONTAINERD_LOG} 2>&1 < /dev/null
tries=0
until ctr --address {CONTAINERD_SOCKET} version > /dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 240 ]; then echo "containerd did not answer in 120s"; exit 1; fi
    sleep 0.5
done
setsid -f {" ".join(kubelet_argv(plan))} > {KUBELET_LOG} 2>&1 < /dev/null
echo "kubelet started"
"""


SHUTDOWN_SCRIPT = """#!/bin/sh
# podshm VM node: the kubelet first (it would restart what is stopped), then containerd.
pkill -x kubelet || true
pkill -x containerd || true
"""


@dataclass(frozen=True)
class Joined:
    """A VM node that is Ready, and what it took."""

    name: str
    kernel_package: str
    boot_seconds: float
    """QEMU start to the guest's ready line (containerd answering, the kubelet started)."""
    ready_seconds: float
    """QEMU start to the node Ready in the API."""


def _say(log: TextIO, message: str) -> None:
    print(f"podshm: {message}", file=log, flush=True)


def start(
    layout: Layout,
    pins: Pins,
    binaries: Mapping[str, Path],
    images: Mapping[str, Path],
    pause_image: str,
    kernel_package: str,
    *,
    vm_layout: VmLayout | None = None,
    log: TextIO = sys.stderr,
    timeout: float = 420.0,
    unsafe_sysctls: tuple[str, ...] = (),
) -> Joined:
    """Boot the VM node and wait until it is Ready in the cluster of ``layout``."""
    vm_layout = vm_layout or VmLayout()
    config = vm_config(kernel_package)
    missing = [name for name in BINARIES if name not in binaries]
    if missing:
        raise PodshmError(
            f"the cluster's record lacks the builds the VM node runs: {', '.join(missing)}",
            "run `podshm cluster down`, then up again",
        )
    found = node.parts(config, progress=lambda msg: _say(log, msg))
    creds = credentials(layout, config.plan)
    files = guest_files(creds, pins, pause_image, config.plan, unsafe_sysctls)
    store = imagestore.store_disk(
        binaries["containerd"], binaries["ctr"], images, progress=lambda msg: _say(log, msg)
    )
    hosts.add(config.plan.guest_ip, NAME)
    began = time.monotonic()
    try:
        running = node.start(
            vm_layout,
            config,
            found,
            {name: binaries[name] for name in BINARIES},
            boot_script=boot_script(plan=config.plan),
            shutdown_script=SHUTDOWN_SCRIPT,
            progress=lambda msg: _say(log, msg),
            files=files,
            data_disks=(store,),
        )
        _say(log, f"VM node booted in {running.boot_seconds:.0f}s; waiting for {NAME} Ready")
        api = probes.AdminApi(layout)
        deadline = began + timeout
        while not api.node_ready(NAME):
            if time.monotonic() > deadline:
                raise PodshmError(
                    f"the VM node {NAME} is not Ready {timeout:.0f}s after its start",
                    "read its kubelet log: podshm cluster logs vm-kubelet",
                )
            time.sleep(1)
    except BaseException:
        stop(layout, vm_layout=vm_layout)
        raise
    ready = time.monotonic() - began
    _say(log, f"VM node {NAME} ({found.kernel.release}, cgroup v2) Ready in {ready:.0f}s")
    return Joined(NAME, kernel_package, running.boot_seconds, ready)


def stop(
    layout: Layout | None, *, vm_layout: VmLayout | None = None, forget: bool = False
) -> float:
    """Stop the VM and remove what it put on the host (forwards, network, the hosts line);
    ``forget``: also delete its Node object (the cluster stays up without it). Safe to
    repeat; seconds it took."""
    vm_layout = vm_layout or VmLayout()
    seconds = node.stop(vm_layout, vm_config(kernel.DEFAULT_PACKAGE))
    hosts.remove()
    if forget and layout is not None:
        probes.AdminApi(layout).delete_node(NAME)
    return seconds


def qemu_pid(vm_layout: VmLayout | None = None) -> int | None:
    """The PID of the VM's QEMU, if the process podshm started runs."""
    return daemons.running((vm_layout or VmLayout()).daemons, QEMU)


def running(vm_layout: VmLayout | None = None) -> bool:
    """Whether the VM's QEMU runs."""
    return qemu_pid(vm_layout) is not None


def leftovers(vm_layout: VmLayout | None = None) -> list[str]:
    """Everything of the VM node still on the machine: the VM's own, and the hosts line."""
    found = node.leftovers(vm_layout or VmLayout(), vm_config(kernel.DEFAULT_PACKAGE))
    return found + [f"/etc/hosts line {line!r}" for line in hosts.present()]


def guest_log(name: str, lines: int, vm_layout: VmLayout | None = None) -> str:
    """A guest log file (``kubelet``, ``containerd``, ``boot``) read through the agent."""
    if name not in GUEST_LOGS:
        raise PodshmError(
            f"no VM node log {name!r}", "pick one of " + ", ".join(f"vm-{n}" for n in GUEST_LOGS)
        )
    agent = Agent((vm_layout or VmLayout()).agent_socket)
    argv = ["tail", "-n", str(lines), GUEST_LOGS[name]] if lines else ["cat", GUEST_LOGS[name]]
    return agent.run(argv, timeout=30).check().stdout
