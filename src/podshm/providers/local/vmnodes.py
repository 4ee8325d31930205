"""The local cluster's VM nodes brought to what ``up`` asks (``--vm-nodes``, ``--vm-kernel``):
none, or one QEMU node joined to the running control plane (:mod:`.vm.join`).

``up`` converges a running cluster in place, as it does for runtimes: a VM node asked for and
missing is booted and joined; one running with another kernel, without the images the host
node now holds or with other unsafe sysctls than the cluster's (``--allowed-unsafe-sysctls``) is
booted again; ``--vm-nodes 0`` stops it and deletes its Node object; a
QEMU that was killed is recovered by the next ``up``. Not asking (``None``) keeps what runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from podshm.errors import PodshmError
from podshm.image import build as image_build
from podshm.providers.local import node_images, probes
from podshm.providers.local.layout import Layout
from podshm.providers.local.state import ClusterRecord, write_record
from podshm.providers.local.vm import join, kernel
from podshm.providers.local.vm.preflight import preflight

MAX_VM_NODES = 1
"""One VM: two TCG guests on two host cores would each run at half of a slow speed."""


def _say(log: TextIO, message: str) -> None:
    print(f"podshm: {message}", file=log, flush=True)


def validate(vm_nodes: int | None, vm_kernel: str | None) -> None:
    """Refuse a count or a kernel package the local provider cannot boot, and a machine
    without the VM's tools, before anything is built."""
    if vm_nodes is not None and not 0 <= vm_nodes <= MAX_VM_NODES:
        raise PodshmError(
            f"the local provider runs 0 or {MAX_VM_NODES} VM nodes, {vm_nodes} were asked for",
            "pass --vm-nodes 0 or 1",
        )
    if vm_kernel is not None:
        kernel.check_package_name(vm_kernel)
    if vm_nodes:
        preflight()


def _vm_images(record: ClusterRecord, new: Mapping[str, Path]) -> dict[str, Path]:
    """The pause image and the test image: the one this ``up`` loads, else the VM's own."""
    pause = image_build.build_pause_image()
    images = {ref: Path(archive) for ref, archive in record.vm_images.items()}
    if new:
        images = dict(new)
    images[pause.ref] = pause.archive_path
    return {ref: archive for ref, archive in images.items() if archive.is_file()}


def _current(layout: Layout, record: ClusterRecord, kernel_package: str, images: set[str]) -> str:
    """Why the running VM node will not do ("" when it does)."""
    if not record.vm_nodes:
        return "no VM node yet"
    if not join.running():
        return "its QEMU is not running"
    if record.vm_kernel != kernel_package:
        return f"it boots {record.vm_kernel}, {kernel_package} was asked for"
    if not images <= set(record.vm_images):
        return "it lacks " + ", ".join(sorted(images - set(record.vm_images)))
    if record.vm_unsafe_sysctls != record.unsafe_sysctls:
        return (
            f"its kubelet allows the unsafe sysctls {','.join(record.vm_unsafe_sysctls) or 'none'}"
            f", the cluster's {','.join(record.unsafe_sysctls) or 'none'}"
        )
    if not probes.AdminApi(layout).node_ready(join.NAME):
        return f"node {join.NAME} is not Ready"
    return ""


def converge(
    layout: Layout,
    record: ClusterRecord,
    wanted: int | None,
    kernel_package: str | None,
    images: Mapping[str, Path],
    log: TextIO,
) -> ClusterRecord:
    """Bring the VM nodes of the running cluster to ``wanted``; the record as it is now."""
    count = len(record.vm_nodes) if wanted is None else wanted
    package = kernel_package or record.vm_kernel or kernel.DEFAULT_PACKAGE
    if count == 0:
        if record.vm_nodes or join.running():
            _say(log, f"removing the VM node {join.NAME}")
            join.stop(layout, forget=True)
        converged = dataclasses.replace(
            record, vm_nodes=[], vm_kernel="", vm_images={}, vm_unsafe_sysctls=[]
        )
    else:
        chosen = _vm_images(record, images)
        why = _current(layout, record, package, set(chosen))
        if not why:
            _say(log, f"VM node {join.NAME} is up ({package}); keeping it")
            return record
        _say(log, f"starting the VM node {join.NAME}: {why}")
        join.stop(layout)
        pause = image_build.build_pause_image()
        joined = join.start(
            layout,
            record.pins,
            record.binary_paths(),
            chosen,
            pause.ref,
            package,
            log=log,
            unsafe_sysctls=tuple(record.unsafe_sysctls),
        )
        node_images.announce_images(layout, joined.name, chosen)
        converged = dataclasses.replace(
            record,
            vm_nodes=[joined.name],
            vm_kernel=package,
            vm_images={ref: str(archive) for ref, archive in chosen.items()},
            vm_unsafe_sysctls=list(record.unsafe_sysctls),
        )
    if converged != record:
        write_record(layout, converged)
    return converged


def stop(layout: Layout | None) -> None:
    """Stop a VM node and remove what it put on the host (``down``, and the cleanup of a
    dead cluster); safe when there is none."""
    join.stop(layout)


def leftovers() -> list[str]:
    """What of a VM node is still on the machine."""
    return join.leftovers()
