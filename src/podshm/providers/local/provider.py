"""podshm's own single-node cluster as a provider: upstream daemons on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from podshm.build.pins import Pins
from podshm.errors import PodshmError
from podshm.image import oci
from podshm.providers.base import Request, Running
from podshm.providers.local import daemons, lifecycle, node_images, upgrade, vmnodes
from podshm.providers.local import runtimes as runtimes_pkg
from podshm.providers.local.layout import Layout
from podshm.providers.local.plan import START_ORDER
from podshm.providers.local.state import ClusterRecord, running_record
from podshm.providers.local.vm import join as vm_join
from podshm.providers.local.vm.layout import VmLayout


def _running(record: ClusterRecord) -> Running:
    path = Path(record.kubeconfig)
    return Running("local", path, record.context, record.kubernetes, record.nodes)


class LocalProvider:
    """etcd, containerd, the control plane and a kubelet on this machine, as root."""

    name = "local"
    summary = "podshm's own single-node cluster of upstream daemons on this machine (default)"

    def validate(self, request: Request) -> None:
        """One host node, at most one VM node; runtimes known and able to run here."""
        for runtime in runtimes_pkg.select(request.runtimes):
            runtime.preflight()
        if request.nodes != 1:
            raise PodshmError(
                f"the local provider runs one host node, {request.nodes} were asked for",
                "add a VM node with --vm-nodes 1, or use --provider kind for several nodes",
            )
        vmnodes.validate(request.vm_nodes, request.vm_kernel)

    def up(self, request: Request, log: TextIO) -> Running:
        """Start (or reuse and converge) the cluster, the images imported as it starts."""
        self.validate(request)
        record = lifecycle.up(
            request.pins,
            images=dict(request.images),
            log=log,
            runtimes=request.runtimes,
            vm_nodes=request.vm_nodes,
            vm_kernel=request.vm_kernel,
            unsafe_sysctls=request.unsafe_sysctls,
        )
        return _running(record)

    def running(self) -> Running | None:
        """The healthy cluster, if up."""
        record = running_record(Layout.default())
        return _running(record) if record is not None else None

    def down(self, log: TextIO) -> None:
        """Stop everything and remove the state."""
        lifecycle.down(log)

    def status(self) -> dict[str, object]:
        """Components, node readiness, versions; ``up`` says whether all is well."""
        return {"provider": self.name, **lifecycle.status()}

    def kubeconfig(self) -> Path:
        """The admin kubeconfig (context ``podshm-local``)."""
        return Layout.default().admin_kubeconfig

    def logs(self, component: str, lines: int) -> str:
        """A daemon's log file, or a VM node's (``vm-console``: its serial console;
        ``vm-kubelet``, ``vm-containerd``, ``vm-boot``: files in the guest)."""
        vm_logs = ["vm-console", *(f"vm-{name}" for name in vm_join.GUEST_LOGS)]
        if component not in (*START_ORDER, *vm_logs):
            raise PodshmError(
                f"no component {component!r} in the local cluster",
                "pick one of " + ", ".join((*START_ORDER, *vm_logs)),
            )
        if component in vm_logs[1:]:
            return vm_join.guest_log(component.removeprefix("vm-"), lines)
        path = (
            VmLayout().console_log
            if component == "vm-console"
            else daemons.log_path(Layout.default(), component)
        )
        if not path.exists():
            raise PodshmError(f"no log for {component} at {path}", "start the cluster first")
        text = path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:] if lines else text) + "\n"

    def load_image(self, archive: Path, log: TextIO) -> None:
        """Import an OCI archive into the node's containerd and name it on the node."""
        layout = Layout.default()
        record = running_record(layout)
        if record is None:
            raise PodshmError("podshm's local cluster is not running", "run `podshm cluster up`")
        images = {oci.archive_ref(archive): archive}
        node_images.import_images(layout, record.binary_paths(), record.node, images, log)
        vmnodes.converge(layout, record, None, None, images, log)

    def upgrade(self, pins: Pins, log: TextIO) -> dict[str, float]:
        """In place, one minor at a time, the upstream order (etcd, control plane, kubelet)."""
        return upgrade.upgrade(pins, log)
