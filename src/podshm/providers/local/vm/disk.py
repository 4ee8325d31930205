"""The guest's root disk: a Debian root made by mmdebstrap (the project's one runner), with the
init of :mod:`.guestinit`, turned into an ext4 image with ``mkfs.ext4 -d`` and cached by its
package set and inputs.

Nothing of podshm's builds is in it (containerd, runc and the kubelet come on the per-boot
disk of :mod:`.bootdisk`), so a new pin never rebuilds it, and neither does a new kernel (the
modules come in the initramfs). The cached image is never written: each boot writes to a
qcow2 overlay backed by it (:mod:`.node`), thrown away at stop.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from podshm.cache import cache_root, content_tag
from podshm.errors import PodshmError
from podshm.image import mmdebstrap
from podshm.providers.local.vm import guestinit

BUILDER = "podshm-vm-root/1"
ROOT_PACKAGES = (
    "busybox-static",  # init (guestinit.py) and the small tools the scripts use
    "qemu-guest-agent",  # the host's command channel (agent.py)
    "mount",  # mount, umount (no longer Essential in bookworm)
    "iproute2",  # eth0, and the CNI plugins' netlink work
    "iptables",  # the kubelet's and the CNI portmap plugin's rules
    "conntrack",  # kube-proxy clears stale UDP entries with it
    "kmod",  # modprobe: netfilter and overlay modules load on demand
    "procps",  # sysctl, ps: the kubelet's and diagnostics' needs
    "e2fsprogs",  # fsck/resize of volumes, mke2fs for block volumes
    "libseccomp2",  # podshm's runc is built with cgo against it
    "ca-certificates",  # TLS to the API server through the system store too
    "containernetworking-plugins",  # bridge, host-local, loopback, portmap (/usr/lib/cni)
    "netbase",  # /etc/protocols, /etc/services: iptables resolves names through them
)
"""What a kubelet node needs of Debian (kind's base list, without systemd and the tools only
kind's own scripts use)."""
SIZE_MIB = 4096
"""The root file system's size: sparse, so the cache holds only what is used."""
LABEL = "podshm-root"

CUSTOMIZE_SCRIPT = """\
set -eu
r="$1"
# Offline guest: no DNS server; the host name is set at boot (guestinit.py).
rm -f "$r/etc/resolv.conf" "$r/etc/hostname"
: > "$r/etc/resolv.conf"
: > "$r/etc/fstab"
ln -sf /bin/busybox "$r/usr/sbin/init"
mkdir -p "$r/opt/podshm" "$r/var/log"
# Fail the build, not the boot, if the node lacks a tool its init or the kubelet uses.
chroot "$r" /bin/busybox true
chroot "$r" /usr/sbin/qemu-ga --version > /dev/null
chroot "$r" ip -V > /dev/null
chroot "$r" mount --version > /dev/null
chroot "$r" iptables --version > /dev/null
chroot "$r" modprobe --version > /dev/null
test -x "$r/usr/lib/cni/bridge" -a -x "$r/usr/lib/cni/host-local"
"""
"""Runs on the host with the root as $1, after the init files are synced in."""


def mkfs_command(
    source: Path, image: Path, size_mib: int, label: str, seed: str
) -> tuple[list[str], dict[str, str]]:
    """``mkfs.ext4 -d``: an ext4 image of ``source`` (pure). The file system's UUID and hash
    seed follow from ``seed`` and its clock is fixed, so an image names its inputs (not
    byte-identical: the source's access times still leak in); inode tables are written now,
    not lazily by the guest's kernel, which would spend TCG time on it every boot."""
    fs_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"podshm-vm:{label}:{seed}"))
    argv = [
        *("mkfs.ext4", "-q", "-F", "-L", label, "-U", fs_uuid, "-m", "0"),
        *("-E", f"hash_seed={fs_uuid},lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0"),
        *("-d", str(source), str(image), f"{size_mib}M"),
    ]
    return argv, {"E2FSPROGS_FAKE_TIME": "1", "LC_ALL": "C"}


def make_ext4(source: Path, image: Path, size_mib: int, label: str, seed: str) -> None:
    """Write the ext4 image (or one error naming mkfs.ext4's complaint)."""
    if shutil.which("mkfs.ext4") is None:
        raise PodshmError(
            "mkfs.ext4 not found: the VM's disks are ext4 images",
            "apt-get install e2fsprogs",
        )
    argv, env = mkfs_command(source, image, size_mib, label, seed)
    proc = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, **env}, timeout=900
    )
    if proc.returncode != 0:
        image.unlink(missing_ok=True)
        raise PodshmError(
            f"mkfs.ext4 -d {source} failed: {(proc.stderr or proc.stdout).strip()}",
            "free disk space in podshm's cache, or raise the image size",
        )


def _stage_init(staging: Path) -> dict[str, str]:
    """Write the init files into ``staging``; path -> sha256 (part of the cache key)."""
    digests = {}
    for rel, (text, mode) in sorted(guestinit.files().items()):
        path = staging / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
        digests[rel] = hashlib.sha256(text.encode()).hexdigest()
    return digests


def root_image(
    packages: Sequence[str] = ROOT_PACKAGES,
    size_mib: int = SIZE_MIB,
    progress: Callable[[str], None] = lambda msg: None,
) -> Path:
    """The root disk image in the cache; built (mmdebstrap, tar, mkfs.ext4) if missing."""
    parent = cache_root() / "vm" / "disk"
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent, prefix=".root-") as tmp:
        staging = Path(tmp, "staging")
        inputs = {
            "builder": BUILDER,
            "packages": mmdebstrap.package_set(packages),
            "files": _stage_init(staging),
            "customize": hashlib.sha256(CUSTOMIZE_SCRIPT.encode()).hexdigest(),
            "size_mib": size_mib,
        }
        tag = content_tag(inputs)
        output = parent / f"root-{tag}.ext4"
        if output.is_file():
            return output
        progress("mmdebstrap the VM root (busybox, qemu-guest-agent, iptables, ...)")
        tar = Path(tmp, "root.tar")
        hooks = [mmdebstrap.sync_in(staging), CUSTOMIZE_SCRIPT]
        mmdebstrap.build_root(tar, packages, hooks, progress)
        tree = Path(tmp, "tree")
        tree.mkdir()
        subprocess.run(
            ["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-xpf", str(tar)],
            cwd=tree,
            check=True,
            timeout=600,
        )
        tar.unlink()
        progress(f"mkfs.ext4 -d: the VM root disk ({size_mib} MiB, sparse)")
        image = Path(tmp, "root.ext4")
        make_ext4(tree, image, size_mib, LABEL, tag)
        image.chmod(0o444)  # never written: boots write to their own overlay
        image.rename(output)
    return output
