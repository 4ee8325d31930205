"""One VM node, whole: its cached parts built, its network, its disks, QEMU booted until the
guest agent answers; stopped again; and what of it is still on the machine (``leftovers``).

A start after a crash recovers: a SIGKILLed QEMU leaves its pidfile (its start time no longer
matches, so it is never signalled), its tap, its overlay and its socket; ``start`` clears the
per-boot files, ``network.ensure`` keeps the tap, and the boot proceeds.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from podshm.errors import PodshmError
from podshm.providers.common.mounts import mounts_under
from podshm.providers.local import daemons
from podshm.providers.local.vm import bootdisk, disk, forward, initramfs, kernel, network, qemu
from podshm.providers.local.vm.agent import Agent
from podshm.providers.local.vm.layout import QEMU, VmLayout
from podshm.providers.local.vm.network import NetworkPlan

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Config:
    """What a VM node is, as a caller chooses it."""

    kernel_package: str = kernel.DEFAULT_PACKAGE
    """``--vm-kernel``: the Debian kernel package the guest boots."""
    plan: NetworkPlan = field(default_factory=NetworkPlan)
    hostname: str = "podshm-vm"
    memory_mib: int = 2048
    cpus: int = 2
    boot_timeout: float = 300.0
    """Seconds from QEMU's start to the ready line (TCG: usually well under a minute)."""
    forwards: tuple[tuple[int, int], ...] = ()
    """(port on the bridge address, port on the host's 127.0.0.1): what the guest reaches."""


@dataclass(frozen=True)
class Parts:
    """The cached parts of a boot."""

    kernel: kernel.Kernel
    initramfs: Path
    root: Path


@dataclass(frozen=True)
class Running:
    """A booted VM and how to reach it."""

    layout: VmLayout
    config: Config
    agent: Agent
    boot_seconds: float
    """QEMU start to the guest's ready line."""


def parts(config: Config, progress: Progress = lambda msg: None) -> Parts:
    """Kernel, initramfs and root disk: from the cache, built the first time."""
    progress(f"VM kernel: {config.kernel_package}")
    found = kernel.fetch(config.kernel_package)
    progress(f"VM initramfs for {found.release}")
    ramdisk = initramfs.build(found)
    progress("VM root disk")
    root = disk.root_image(progress=progress)
    return Parts(found, ramdisk, root)


def _forwards(config: Config) -> list[forward.Forward]:
    return [forward.Forward(config.plan.host_ip, port, target) for port, target in config.forwards]


def _overlay(root: Path, overlay: Path) -> None:
    """A fresh qcow2 overlay over the cached (read-only) root image."""
    if shutil.which("qemu-img") is None:
        raise PodshmError(
            "qemu-img not found: each boot writes to its own overlay of the root disk",
            "apt-get install qemu-utils (scripts/bootstrap.sh)",
        )
    overlay.unlink(missing_ok=True)
    proc = subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(root), str(overlay)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise PodshmError(
            f"qemu-img could not create {overlay}: {proc.stderr.strip()}",
            f"check the space and permissions of {overlay.parent}",
        )


def _clear_per_boot(layout: VmLayout) -> None:
    for path in layout.per_boot():
        path.unlink(missing_ok=True)


def start(
    layout: VmLayout,
    config: Config,
    found: Parts,
    binaries: Mapping[str, Path],
    boot_script: str = bootdisk.DEFAULT_BOOT_SCRIPT,
    shutdown_script: str | None = None,
    progress: Progress = lambda msg: None,
    files: Mapping[str, bootdisk.File] | None = None,
    data_disks: Sequence[Path] = (),
) -> Running:
    """Boot the VM with ``binaries`` and ``files`` on its boot disk and a writable overlay of
    each cached image of ``data_disks`` (``/dev/vdc``...); return once the guest agent
    answers."""
    if daemons.running(layout.daemons, QEMU) is not None:
        raise PodshmError(
            f"the VM of {layout.root} is already running",
            "stop it first (podshm.providers.local.vm.node.stop)",
        )
    strays = qemu.processes("qemu", str(layout.root))
    if strays:
        raise PodshmError(
            f"QEMU processes {strays} use {layout.root} but no pidfile names them",
            f"stop them (kill {' '.join(map(str, strays))}), then start again",
        )
    layout.root.mkdir(parents=True, exist_ok=True)
    _clear_per_boot(layout)
    network.ensure(config.plan)
    for fwd in _forwards(config):
        forward.start(layout.daemons, fwd)
    _overlay(found.root, layout.overlay)
    overlays = tuple(layout.data_overlay(i) for i in range(len(data_disks)))
    for base, overlay in zip(data_disks, overlays, strict=True):
        _overlay(base, overlay)
    progress("VM boot disk")
    bootdisk.build(layout.boot_disk, binaries, boot_script, shutdown_script, files)
    machine = qemu.Machine(
        vmlinuz=found.kernel.vmlinuz,
        initramfs=found.initramfs,
        overlay=layout.overlay,
        boot_disk=layout.boot_disk,
        agent_socket=layout.agent_socket,
        console_log=layout.console_log,
        plan=config.plan,
        hostname=config.hostname,
        memory_mib=config.memory_mib,
        cpus=config.cpus,
        data_disks=overlays,
    )
    progress("VM boot (QEMU, TCG)")
    qemu.start(layout, machine)
    seconds = qemu.wait_ready(layout, config.boot_timeout)
    agent = Agent(layout.agent_socket)
    _wait_agent(layout, agent, deadline=time.monotonic() + 60)
    return Running(layout, config, agent, seconds)


def _wait_agent(layout: VmLayout, agent: Agent, deadline: float) -> None:
    """The agent starts right after sysinit: retry its ping for a while."""
    while True:
        try:
            agent.ping(timeout=5)
            return
        except PodshmError as err:
            if time.monotonic() > deadline or daemons.running(layout.daemons, QEMU) is None:
                raise PodshmError(
                    f"the VM booted but its guest agent does not answer: {err.cause}; "
                    f"last lines of {layout.console_log}:\n{qemu.console_tail(layout)}",
                    "see the console log; stop removes the VM's state",
                ) from err
            time.sleep(0.5)


def stop(layout: VmLayout, config: Config, grace: float = 60.0) -> float:
    """Power the guest off (its shutdown script runs), else SIGTERM/SIGKILL QEMU; remove the
    forwards, the network and the per-boot files. Seconds it took. Safe to repeat."""
    started = time.monotonic()
    if daemons.running(layout.daemons, QEMU) is not None:
        try:
            Agent(layout.agent_socket).call(
                "guest-exec", {"path": "/bin/busybox", "arg": ["poweroff"]}, timeout=10
            )
        except PodshmError:
            grace = 0  # no agent: nothing to wait for, pull the plug
    qemu.stop(layout, grace)
    for fwd in _forwards(config):
        forward.stop(layout.daemons, fwd)
    network.teardown(config.plan)
    _clear_per_boot(layout)
    return time.monotonic() - started


def leftovers(layout: VmLayout, config: Config) -> list[str]:
    """Everything of this VM still on the machine: processes (QEMU, forwards), tap and
    bridge, mounts below its state directory, per-boot images. Empty after ``stop``."""
    found = [f"qemu process {pid}" for pid in qemu.processes("qemu", str(layout.root))]
    found += [
        f"forward process {pid}" for pid in qemu.processes("socat", f"bind={config.plan.host_ip},")
    ]
    found += [f"interface {name}" for name in network.present(config.plan)]
    found += [f"mount {point}" for point in mounts_under(layout.root)]
    found += [f"file {path}" for path in layout.per_boot() if path.exists()]
    return found


def run_timed(agent: Agent, argv: Sequence[str], timeout: float) -> tuple[float, str]:
    """Run ``argv`` in the guest, check it, and return (seconds, stdout)."""
    began = time.monotonic()
    out = agent.run(argv, timeout=timeout).check().stdout
    return time.monotonic() - began, out
