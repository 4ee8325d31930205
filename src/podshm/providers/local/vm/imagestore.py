"""The VM node's images as a disk: imported on the host into a containerd root of their own,
made an ext4 image, cached by the containerd build and the image set, mounted by the guest at
``/var/lib/containerd`` (through a per-boot overlay, like the root disk).

Why not ``ctr images import`` in the guest at boot: under TCG the import of the 36 MB test
image (gunzip, two sha256 passes, the overlay snapshots written) took 238 s on a loaded host
where the whole boot is otherwise under a minute; on the host the same import takes seconds,
and a cached disk costs nothing on the next boot. containerd keeps no absolute paths in its
metadata (snapshots and content live at fixed places below its ``root``), so a root built at
one path works at another.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from podshm.cache import cache_root, content_tag
from podshm.errors import PodshmError
from podshm.providers.common.mounts import unmount_all
from podshm.providers.local.vm.disk import make_ext4

BUILDER = "podshm-vm-images/1"
LABEL = "podshm-images"
CRI_NAMESPACE = "k8s.io"
DISABLED = (
    "io.containerd.grpc.v1.cri",
    "io.containerd.cri.v1.images",
    "io.containerd.cri.v1.runtime",
    "io.containerd.nri.v1.nri",
)
"""The builder containerd only imports: no CRI (it would start CNI and sandboxes)."""


def builder_config(root: Path, state: Path) -> str:
    """A containerd that only stores and unpacks images (pure)."""
    disabled = ", ".join(f'"{name}"' for name in DISABLED)
    return f"""\
version = 3
root = "{root}"
state = "{state}"
disabled_plugins = [{disabled}]

[grpc]
  address = "{state}/containerd.sock"

[ttrpc]
  address = "{state}/containerd.sock.ttrpc"
"""


def size_mib(used_bytes: int) -> int:
    """Room for the unpacked images, ext4's own structures and the pods' writes (pure)."""
    return used_bytes * 3 // 2 // (1 << 20) + 256


def _du(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _wait_socket(ctr: list[str], proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise PodshmError(
                f"the image builder's containerd exited ({proc.returncode})",
                "run `podshm cluster up` again; if it persists, read the error above",
            )
        done = subprocess.run([*ctr, "version"], capture_output=True, timeout=10)
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise PodshmError(
                f"the image builder's containerd did not answer in {timeout:.0f}s",
                "check that overlayfs works here (the local cluster uses it too)",
            )
        time.sleep(0.2)


def _import(
    containerd: Path, ctr_path: Path, images: Mapping[str, Path], root: Path, tmp: Path
) -> None:
    state = tmp / "state"
    state.mkdir()
    config = tmp / "config.toml"
    config.write_text(builder_config(root, state))
    ctr = [str(ctr_path), "--address", f"{state}/containerd.sock"]
    importer = [*ctr, "-n", CRI_NAMESPACE, "images", "import", "--snapshotter", "overlayfs"]
    with open(tmp / "containerd.log", "wb") as log:
        proc = subprocess.Popen(
            [str(containerd), "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_socket(ctr, proc)
        for ref, archive in sorted(images.items()):
            done = subprocess.run(
                [*importer, str(archive)],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0:
                raise PodshmError(
                    f"importing {ref} for the VM node failed: {done.stderr.strip()}",
                    f"rebuild the image ({archive} may be damaged)",
                )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
        unmount_all(tmp)


def store_disk(
    containerd: Path,
    ctr: Path,
    images: Mapping[str, Path],
    progress: Callable[[str], None] = lambda msg: None,
) -> Path:
    """The cached ext4 image of a containerd root holding ``images`` (ref -> OCI archive),
    unpacked for the overlayfs snapshotter; built the first time."""
    inputs = {
        "builder": BUILDER,
        # Build directories are named by their inputs (version, source digest).
        "containerd": containerd.parent.name,
        "images": {ref: archive.name for ref, archive in images.items()},
    }
    parent = cache_root() / "vm" / "images"
    parent.mkdir(parents=True, exist_ok=True)
    output = parent / f"images-{content_tag(inputs)}.ext4"
    if output.is_file():
        return output
    progress(f"VM images disk: importing {', '.join(sorted(images))} on the host")
    # The state directory holds containerd's socket: a short path, not below the cache.
    with tempfile.TemporaryDirectory(prefix="podshm-vm-images-") as tmp:
        root = Path(tmp, "root")
        root.mkdir()
        _import(containerd, ctr, images, root, Path(tmp))
        image = parent / f".{output.name}.{Path(tmp).name}"
        try:
            make_ext4(root, image, size_mib(_du(root)), LABEL, output.stem)
            image.chmod(0o444)  # never written: boots write to their own overlay
            image.rename(output)
        finally:
            with contextlib.suppress(FileNotFoundError):
                image.unlink()
    return output
