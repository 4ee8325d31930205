"""The VM node's pure parts: package metadata, module selection, the initramfs archive, the
guest's init scripts and the disks' command lines. No VM, no root."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from podshm.errors import PodshmError
from podshm.providers.local.vm import (
    bootdisk,
    cpio,
    debs,
    disk,
    guestinit,
    initramfs,
    kernel,
)

SHOW = """\
Package: linux-image-cloud-amd64
Source: linux-signed-amd64 (6.1.192+3)
Version: 6.1.192-3
Depends: linux-image-6.1.0-57-cloud-amd64 (= 6.1.192-3)
Description: Linux for x86-64 cloud (meta-package)
 continued description: line

Package: linux-image-cloud-amd64
Version: 6.1.100-1
"""


def test_apt_show_gives_the_candidate_and_its_dependencies() -> None:
    found = debs.parse_show(SHOW)
    assert found == debs.Candidate(
        "linux-image-cloud-amd64", "6.1.192-3", ("linux-image-6.1.0-57-cloud-amd64",)
    )
    alternatives = debs.parse_show("Package: a\nVersion: 1\nDepends: b (>= 2) | c, d:any, e\n")
    assert alternatives.depends == ("b", "d:any", "e")
    with pytest.raises(ValueError):
        debs.parse_show("Description: no package\n")


def test_a_metapackage_is_followed_to_its_kernel_image() -> None:
    meta = debs.parse_show(SHOW)
    assert kernel.image_package(meta) == "linux-image-6.1.0-57-cloud-amd64"
    image = debs.Candidate("linux-image-6.1.0-57-cloud-amd64", "6.1.192-3", ("kmod",))
    assert kernel.image_package(image) == image.package
    with pytest.raises(PodshmError, match="no kernel package"):
        kernel.image_package(debs.Candidate("busybox-static", "1", ("libc6",)))


def test_modules_are_the_wanted_ones_and_what_they_need() -> None:
    deps = kernel.parse_modules_dep(
        "kernel/fs/overlayfs/overlay.ko:\n"
        "kernel/net/bridge/br_netfilter.ko: kernel/net/bridge/bridge.ko kernel/net/802/stp.ko\n"
        "kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko\n"
        "kernel/net/802/stp.ko: kernel/net/llc/llc.ko\n"
        "kernel/net/llc/llc.ko:\n"
        "kernel/drivers/gpu/drm/drm.ko: kernel/lib/helper.ko\n"
        "kernel/lib/helper.ko:\n"
    )
    assert deps["kernel/net/802/stp.ko"] == ("kernel/net/llc/llc.ko",)
    kept = kernel.select(deps, ["kernel/fs/overlayfs/*", "kernel/net/bridge/br_netfilter.ko"])
    assert kept == [
        "kernel/fs/overlayfs/overlay.ko",
        "kernel/net/802/stp.ko",
        "kernel/net/bridge/br_netfilter.ko",
        "kernel/net/bridge/bridge.ko",
        "kernel/net/llc/llc.ko",
    ]
    assert "kernel/drivers/gpu/drm/drm.ko" not in kernel.select(deps)  # hardware: left out


def _read_cpio(data: bytes) -> list[tuple[str, int, bytes, tuple[int, int], int]]:
    """(name, mode, data, rdev, mtime) of each member: the kernel's reading of newc."""
    members = []
    offset = 0
    while True:
        assert data[offset : offset + 6] == b"070701"
        fields = [int(data[offset + 6 + 8 * i : offset + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = fields[11], fields[6]
        start = offset + 110
        name = data[start : start + namesize - 1].decode()
        body = start + namesize + (-(110 + namesize) % 4)
        if name == cpio.TRAILER:
            assert body + filesize == len(data)
            return members
        members.append(
            (name, fields[1], data[body : body + filesize], (fields[9], fields[10]), fields[5])
        )
        offset = body + filesize + (-filesize % 4)


def test_the_initramfs_archive_is_newc_sorted_and_reproducible() -> None:
    entries = [
        cpio.regular("init", b"#!/bin/sh\n", 0o755),
        cpio.symlink("bin/sh", "busybox"),
        cpio.char_device("dev/console", 5, 1),
        cpio.directory("dev"),
        cpio.directory("bin"),
        cpio.regular("bin/busybox", b"\x7fELF" + bytes(7)),
    ]
    data = cpio.archive(entries)
    assert data == cpio.archive(reversed(entries))
    assert len(data) % 4 == 0
    members = _read_cpio(data)
    assert [m[0] for m in members] == ["bin", "bin/busybox", "bin/sh", "dev", "dev/console", "init"]
    by_name = {m[0]: m for m in members}
    assert stat.S_ISLNK(by_name["bin/sh"][1]) and by_name["bin/sh"][2] == b"busybox"
    assert stat.S_ISCHR(by_name["dev/console"][1]) and by_name["dev/console"][3] == (5, 1)
    assert by_name["init"][1] == stat.S_IFREG | 0o755
    assert {m[4] for m in members} == {0}  # no clock in the archive
    with pytest.raises(ValueError, match="twice"):
        cpio.archive([cpio.directory("bin"), cpio.directory("bin")])


def _sh_syntax_ok(script: str, tmp_path: Path) -> None:
    path = tmp_path / "script.sh"
    path.write_text(script)
    proc = subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_init_of_the_initramfs_mounts_the_root_and_switches(tmp_path: Path) -> None:
    script = initramfs.init_script("6.1.0-57-cloud-amd64")
    assert script.startswith("#!/bin/sh\n")
    assert "modprobe -a virtio_pci virtio_blk" in script
    assert "cp -a /lib/modules/6.1.0-57-cloud-amd64 /newroot/lib/modules/" in script
    assert script.rstrip().endswith("exec switch_root /newroot /sbin/init")
    _sh_syntax_ok(script, tmp_path)
    used = {"sh", "mount", "umount", "modprobe", "mkdir", "cp", "sleep", "switch_root", "poweroff"}
    assert used <= set(initramfs.APPLETS)


def test_guest_init_sets_up_a_cgroup_v2_node(tmp_path: Path) -> None:
    rcs = guestinit.rcs()
    _sh_syntax_ok(rcs, tmp_path)
    _sh_syntax_ok(guestinit.shutdown(), tmp_path)
    for line in (
        "must mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 /sys/fs/cgroup",
        "must mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run",
        "must mount --make-rshared /",
        f"must mount -t ext4 -o ro {guestinit.BOOT_DEVICE} {guestinit.BOOT_MOUNT}",
        f"export PATH={guestinit.GUEST_PATH}",
    ):
        assert line in rcs
    assert rcs.index("must mount -t proc") < rcs.index("cgroup2") < rcs.index("modprobe -a")
    assert rcs.rstrip().endswith(f'echo "{guestinit.READY_LINE}"')
    assert "overlay" in rcs and "br_netfilter" in rcs
    assert "/usr/local/bin" in guestinit.GUEST_PATH
    tab = guestinit.inittab()
    assert f"::sysinit:/{guestinit.RCS}" in tab and f"::shutdown:/{guestinit.SHUTDOWN}" in tab
    assert f"::respawn:/usr/bin/env PATH={guestinit.GUEST_PATH} /usr/sbin/qemu-ga" in tab
    assert set(guestinit.files()) == {guestinit.INITTAB, guestinit.RCS, guestinit.SHUTDOWN}


def test_guest_parameters_are_single_known_words() -> None:
    params = guestinit.kernel_params({"hostname": "vm", "ip": "10.249.0.2/24"})
    assert params == ["podshm.ip=10.249.0.2/24", "podshm.hostname=vm"]
    with pytest.raises(ValueError, match="unknown"):
        guestinit.kernel_params({"gateway": "x"})
    with pytest.raises(ValueError, match="single words"):
        guestinit.kernel_params({"hostname": "a b"})


def test_rcs_reads_its_parameters_from_the_kernel_command_line(tmp_path: Path) -> None:
    rcs = guestinit.rcs()
    param = next(line for line in rcs.splitlines() if line.startswith("param()"))
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("console=ttyS0 podshm.ip=10.249.0.2/24 podshm.hostname=node-a rw\n")
    script = param.replace("/proc/cmdline", str(cmdline)) + "\nparam ip; param hostname; param x\n"
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout == "10.249.0.2/24\nnode-a\n"


def test_disks_are_reproducible_ext4_images() -> None:
    argv, env = disk.mkfs_command(Path("/src"), Path("/out.ext4"), 4096, "podshm-root", "abc")
    again, _ = disk.mkfs_command(Path("/src"), Path("/out.ext4"), 4096, "podshm-root", "abc")
    other, _ = disk.mkfs_command(Path("/src"), Path("/out.ext4"), 4096, "podshm-root", "abd")
    assert argv == again and argv != other
    assert argv[0] == "mkfs.ext4" and argv[-3:] == ["/src", "/out.ext4", "4096M"]
    assert "lazy_itable_init=0" in argv[argv.index("-E") + 1]
    assert env["E2FSPROGS_FAKE_TIME"]
    assert {"busybox-static", "qemu-guest-agent", "mount", "libseccomp2"} <= set(disk.ROOT_PACKAGES)
    assert bootdisk.size_mib(0) == 16
    assert bootdisk.size_mib(100 << 20) == 141


def test_the_boot_disk_refuses_a_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(PodshmError, match="lacks runc"):
        bootdisk.build(tmp_path / "boot.ext4", {"runc": tmp_path / "nope"})
