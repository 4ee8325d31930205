"""The guest's initramfs: Debian's static busybox, the kernel's modules and an ``/init`` that
loads the disk drivers, mounts the root disk and hands over to the root's init.

The kernel's modules travel here rather than on the root disk, so the root disk (keyed by its
package set) does not change with ``--vm-kernel``: ``/init`` copies them onto a tmpfs at the
root's ``/lib/modules``, where kmod's ``modprobe`` finds them after the switch. The archive
is left uncompressed (about 18 MB): the guest's kernel then has nothing to inflate, work
that TCG makes slow, and the file is written byte for byte the same each time (:mod:`.cpio`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

from podshm.cache import cache_root, content_tag
from podshm.errors import PodshmError
from podshm.providers.local.vm import cpio, debs
from podshm.providers.local.vm.kernel import ROOT_MODULES, Kernel

BUSYBOX_PACKAGE = "busybox-static"
LAYOUT = "podshm-vm-initramfs/1"
APPLETS = ("sh", "mount", "umount", "modprobe", "mkdir", "cp", "sleep", "switch_root", "poweroff")
ROOT_DEVICE = "/dev/vda"
READY_PREFIX = "podshm-initramfs:"
"""Every line ``/init`` prints starts so: the host quotes them when a boot fails."""


def init_script(release: str, root_modules: tuple[str, ...] = ROOT_MODULES) -> str:
    """``/init`` (pure): the only job of the initramfs is to reach the root disk."""
    modules = " ".join(root_modules)
    return f"""#!/bin/sh
# podshm VM initramfs: load the disk drivers, mount the root disk, hand over to its init.
export PATH=/bin
say() {{ read -r up _ < /proc/uptime; echo "{READY_PREFIX} [$up] $*"; }}
fail() {{
    echo "{READY_PREFIX} FAILED: $*"
    sleep 1
    poweroff -f
}}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say "started"
modprobe -a {modules} || fail "modprobe {modules}"
tries=0
while [ ! -b {ROOT_DEVICE} ]; do
    tries=$((tries + 1))
    [ "$tries" -gt 100 ] && fail "no root disk {ROOT_DEVICE} after 10s"
    sleep 0.1
done
mount -t ext4 -o rw {ROOT_DEVICE} /newroot || fail "mount {ROOT_DEVICE}"
mkdir -p /newroot/lib/modules
mount -t tmpfs -o mode=0755,nosuid,nodev modules /newroot/lib/modules || fail "tmpfs modules"
cp -a /lib/modules/{release} /newroot/lib/modules/ || fail "copy the modules"
say "root disk mounted, modules copied"
umount /proc /sys
mount --move /dev /newroot/dev || fail "move /dev"
echo "{READY_PREFIX} switching to the root disk"
exec switch_root /newroot /sbin/init
"""


def busybox() -> tuple[Path, str]:
    """Debian's static busybox (apt's candidate) in the cache: (binary, package version)."""
    wanted = debs.candidate(BUSYBOX_PACKAGE)
    parent = cache_root() / "vm" / "busybox"
    binary = parent / wanted.version / "busybox"
    if binary.is_file():
        return binary, wanted.version
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent, prefix=".unpack-") as tmp:
        unpacked = debs.unpack(wanted, Path(tmp, "deb"))
        found = [p for p in (unpacked / "bin/busybox", unpacked / "usr/bin/busybox") if p.is_file()]
        if not found:
            raise PodshmError(
                f"{BUSYBOX_PACKAGE} {wanted.version} ships no bin/busybox",
                "check the package in this machine's apt sources",
            )
        staged = Path(tmp, "busybox")
        shutil.copyfile(found[0], staged)
        staged.chmod(0o755)
        binary.parent.mkdir(parents=True, exist_ok=True)
        staged.rename(binary)
    return binary, wanted.version


def entries(busybox_binary: bytes, kernel: Kernel) -> list[cpio.Entry]:
    """Every member of the initramfs (modules read from the kernel's cache directory)."""
    found = [
        *(cpio.directory(d) for d in ("bin", "dev", "proc", "sys", "newroot", "lib")),
        cpio.char_device("dev/console", 5, 1),
        cpio.regular("bin/busybox", busybox_binary, 0o755),
        *(cpio.symlink(f"bin/{applet}", "busybox") for applet in APPLETS),
        cpio.regular("init", init_script(kernel.release).encode(), 0o755),
        cpio.directory("lib/modules"),
    ]
    base = kernel.directory / "lib" / "modules"
    for path in sorted(base.rglob("*")):
        rel = "lib/modules/" + path.relative_to(base).as_posix()
        if path.is_dir():
            found.append(cpio.directory(rel))
        else:
            found.append(cpio.regular(rel, path.read_bytes()))
    return found


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build(kernel: Kernel) -> Path:
    """The initramfs for ``kernel`` in the cache (written if missing, atomically)."""
    binary, version = busybox()
    inputs = {
        "layout": LAYOUT,
        "busybox": version,
        "kernel": [kernel.package, kernel.version, kernel.release],
        "modules": _tree_digest(kernel.directory / "lib" / "modules"),
        "init": hashlib.sha256(init_script(kernel.release).encode()).hexdigest(),
    }
    parent = cache_root() / "vm" / "initramfs"
    output = parent / f"initramfs-{content_tag(inputs)}.cpio"
    if output.is_file():
        return output
    parent.mkdir(parents=True, exist_ok=True)
    data = cpio.archive(entries(binary.read_bytes(), kernel))
    tmp = output.with_name(output.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    tmp.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
    tmp.rename(output)
    return output
