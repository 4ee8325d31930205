"""The QEMU process of the VM: its command line, its start (detached, as the cluster's daemons),
the wait for the guest's ready line, its stop, and finding any QEMU of a VM still alive.

TCG, not KVM: this machine's ``/dev/kvm`` is PVM and boots no Debian kernel (see
/work/shared/machine.md), and TCG is what any machine has. ``-smp 2`` runs one host thread
per virtual CPU (multi-threaded TCG).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from podshm.errors import PodshmError
from podshm.providers.local import daemons
from podshm.providers.local.vm import guestinit, initramfs
from podshm.providers.local.vm.layout import QEMU, VmLayout
from podshm.providers.local.vm.network import NetworkPlan

PROGRAM = "qemu-system-x86_64"
FAILURE_MARKS = ("Kernel panic", f"{initramfs.READY_PREFIX} FAILED", guestinit.FAILED_LINE)
"""Console lines that end a boot: the host stops waiting and quotes the console."""


@dataclass(frozen=True)
class Machine:
    """What one boot of the VM is made of."""

    vmlinuz: Path
    initramfs: Path
    overlay: Path
    """The root disk (qcow2 over the cached image), writable."""
    boot_disk: Path
    agent_socket: Path
    console_log: Path
    plan: NetworkPlan
    hostname: str = "podshm-vm"
    memory_mib: int = 2048
    cpus: int = 2
    data_disks: tuple[Path, ...] = ()
    """Writable qcow2 overlays after the boot disk: ``/dev/vdc``, ``/dev/vdd``..."""


def mac_address(tap: str) -> str:
    """A stable, locally administered MAC for the guest on ``tap`` (pure)."""
    digest = hashlib.sha256(tap.encode()).digest()
    return "52:54:00:" + ":".join(f"{b:02x}" for b in digest[:3])


def kernel_command_line(machine: Machine) -> str:
    """The guest kernel's parameters (pure): serial console, power off on panic (QEMU exits
    under ``-no-reboot``), cgroup v2 only, and the guest's address and host name."""
    params = guestinit.kernel_params({"ip": machine.plan.guest_cidr, "hostname": machine.hostname})
    return " ".join(["console=ttyS0", "panic=-1", "loglevel=4", "cgroup_no_v1=all", "rw", *params])


def command(machine: Machine, program: str = PROGRAM) -> list[str]:
    """The QEMU command line (pure)."""
    return [
        program,
        *("-name", f"podshm-vm,process=podshm-vm-{machine.hostname}"),
        *("-accel", "tcg", "-machine", "pc"),
        *("-smp", str(machine.cpus), "-m", str(machine.memory_mib)),
        *("-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"),
        *("-chardev", f"file,id=console,path={machine.console_log}", "-serial", "chardev:console"),
        *("-kernel", str(machine.vmlinuz), "-initrd", str(machine.initramfs)),
        *("-append", kernel_command_line(machine)),
        # The overlay is thrown away at stop: no flush is worth TCG time (cache=unsafe).
        *("-drive", f"file={machine.overlay},if=virtio,format=qcow2,cache=unsafe"),
        *("-drive", f"file={machine.boot_disk},if=virtio,format=raw,readonly=on"),
        *[
            arg
            for disk in machine.data_disks
            for arg in ("-drive", f"file={disk},if=virtio,format=qcow2,cache=unsafe")
        ],
        *("-netdev", f"tap,id=net0,ifname={machine.plan.tap},script=no,downscript=no"),
        *("-device", f"virtio-net-pci,netdev=net0,mac={mac_address(machine.plan.tap)}"),
        *("-chardev", f"socket,id=agent,path={machine.agent_socket},server=on,wait=off"),
        *("-device", "virtio-serial-pci"),
        *("-device", f"virtserialport,chardev=agent,name={guestinit.AGENT_PORT}"),
        *("-device", "virtio-rng-pci"),
    ]


def program() -> str:
    found = shutil.which(PROGRAM)
    if found is None:
        raise PodshmError(
            f"{PROGRAM} not found: the VM node runs in QEMU",
            "apt-get install qemu-system-x86 qemu-utils (scripts/bootstrap.sh)",
        )
    return found


def start(layout: VmLayout, machine: Machine) -> int:
    """Start QEMU detached (its own session, PID and start time in its pidfile)."""
    if daemons.running(layout.daemons, QEMU) is not None:
        raise PodshmError(
            f"the VM of {layout.root} is already running",
            "stop it first (podshm.providers.local.vm.node.stop)",
        )
    machine.console_log.parent.mkdir(parents=True, exist_ok=True)
    machine.console_log.write_text("")  # this boot's console only
    machine.agent_socket.unlink(missing_ok=True)  # a SIGKILLed QEMU leaves its socket
    return daemons.start(layout.daemons, QEMU, command(machine, program()))


def console_tail(layout: VmLayout, lines: int = 25) -> str:
    try:
        text = layout.console_log.read_text(errors="replace").splitlines()
    except OSError:
        return "    (no console log)"
    return "\n".join("    " + line[:300] for line in text[-lines:])


def wait_ready(layout: VmLayout, timeout: float) -> float:
    """Wait for the guest's ready line on its console; seconds it took. Fails at once if
    QEMU exits or the guest reports a failure, quoting the console."""
    started = time.monotonic()
    while True:
        try:
            text = layout.console_log.read_text(errors="replace")
        except OSError:
            text = ""
        if guestinit.READY_LINE in text:
            return time.monotonic() - started
        failed = next((mark for mark in FAILURE_MARKS if mark in text), None)
        alive = daemons.running(layout.daemons, QEMU) is not None
        if failed or not alive or time.monotonic() - started > timeout:
            why = (
                f"the guest failed ({failed})"
                if failed
                else "QEMU exited"
                if not alive
                else f"no ready line within {timeout:.0f}s"
            )
            raise PodshmError(
                f"the VM did not boot: {why}; last lines of {layout.console_log}:\n"
                f"{console_tail(layout)}\nQEMU's own log:\n"
                f"{daemons.log_tail(layout.daemons, QEMU, 10)}",
                f"fix the cause above; the VM's state is in {layout.root} (stop removes it)",
            )
        time.sleep(0.2)


def stop(layout: VmLayout, grace: float) -> bool:
    """Wait up to ``grace`` seconds for QEMU to exit on its own (the guest powering off),
    then SIGTERM (QEMU exits at once, like pulling the plug), then SIGKILL. True if a QEMU
    process was running."""
    deadline = time.monotonic() + grace
    while daemons.running(layout.daemons, QEMU) and time.monotonic() < deadline:
        time.sleep(0.2)
    return daemons.stop(layout.daemons, QEMU, grace=10.0)


def processes(program_name: str, marker: str) -> list[int]:
    """PIDs of live ``program_name`` processes (argv[0]'s base name starts so) whose command
    line contains ``marker`` (a VM's state directory, a forward's bind address): what
    ``leftovers`` reports, whether or not a pidfile still names them."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        name = Path(argv[0]).name
        if name.startswith(program_name) and marker in " ".join(argv) and state != "Z":
            found.append(int(entry.name))
    return sorted(found)
